"""The language model: any Hugging Face `AutoModelForCausalLM`, from a config dict or local weights.

Also the two facts about an LM the VLA must get right: its vocabulary size (where the action ids go) and
the scale it puts on token embeddings. Gemma multiplies token embeddings by sqrt(hidden_size) inside its
embedding module; soft tokens fed as `inputs_embeds` skip that module, so `embedding_scale` is applied to
them too and a soft token equal to an embedding-table row is indistinguishable from that text token.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from vla.model.config import LMConfig

# Keys of a loaded config that describe where it came from, not the network; dropped from config.json.
_PROVENANCE_KEYS = ("_name_or_path", "_model_name_or_path", "transformers_version", "architectures", "quantization_config",
                    "dtype", "torch_dtype", "_commit_hash", "_attn_implementation_autoset")


def build_lm(cfg: LMConfig, trust_remote_code: bool = False) -> nn.Module:
    """The causal LM per `cfg`: pretrained weights from a local folder (or GGUF file), else random init.

    Loading is local-only; safetensors only unless a GGUF file is named (GGUF holds no pickles either).
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    weights = cfg.weights_dir()
    common: dict[str, Any] = {"trust_remote_code": trust_remote_code, "attn_implementation": cfg.attn_implementation}
    if weights is not None:
        if cfg.gguf_file is not None and not (weights / cfg.gguf_file).is_file():
            raise FileNotFoundError(f"lm.gguf_file {cfg.gguf_file!r} not found in {weights}")
        extra = {"gguf_file": cfg.gguf_file} if cfg.gguf_file else {"use_safetensors": True}
        model = AutoModelForCausalLM.from_pretrained(str(weights), local_files_only=True, **extra, **common)
        model.config.quantization_config = None  # GGUF weights are dequantized on load; nothing stays quantized
        model.hf_quantizer = None
        return model
    fields = dict(cfg.config)
    model_type = fields.pop("model_type")
    config = AutoConfig.for_model(model_type, **fields)
    return AutoModelForCausalLM.from_config(config, **common)


def lm_text_config(cfg: LMConfig, trust_remote_code: bool = False) -> Any:
    """The LM's transformers (text) config without building the model (reads only config.json or the
    GGUF header when pretrained)."""
    from transformers import AutoConfig

    weights = cfg.weights_dir()
    if weights is None:
        fields = dict(cfg.config)
        return AutoConfig.for_model(fields.pop("model_type"), **fields).get_text_config()
    extra = {"gguf_file": cfg.gguf_file} if cfg.gguf_file else {}
    config = AutoConfig.from_pretrained(str(weights), local_files_only=True, trust_remote_code=trust_remote_code, **extra)
    return config.get_text_config()


def lm_vocab_size(cfg: LMConfig, trust_remote_code: bool = False) -> int:
    """The LM's vocabulary size without building it."""
    if cfg.weights_dir() is None and "vocab_size" in cfg.config:
        return int(cfg.config["vocab_size"])
    return int(lm_text_config(cfg, trust_remote_code).vocab_size)


def embedding_scale(lm: nn.Module) -> float:
    """The factor the LM's embedding module multiplies token embeddings by (sqrt(d) for Gemma, else 1)."""
    emb = lm.get_input_embeddings()
    scale = getattr(emb, "scalar_embed_scale", None)
    if scale is None:
        scale = getattr(emb, "embed_scale", 1.0)
    return float(scale)


def lm_config_dict(lm: nn.Module) -> dict[str, Any]:
    """The LM's full transformers config as a plain dict (with `model_type`), minus provenance keys.

    Saved in the checkpoint so the LM is rebuilt from config and filled from `model.safetensors`, without
    the original weights folder or GGUF file.
    """
    data = lm.config.to_dict()
    for key in _PROVENANCE_KEYS:
        data.pop(key, None)
    data["model_type"] = lm.config.model_type
    return data


def lm_hidden_size(lm: nn.Module) -> int:
    """Width of the LM's token embeddings (the soft tokens must have it)."""
    return int(lm.get_input_embeddings().weight.shape[1])

