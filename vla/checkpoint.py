"""VLA checkpoints: one directory that holds everything inference needs, written atomically.

Layout (DESIGN.md, "Checkpoint"):

    config.json              the full VLAConfig (LM and vision configs written out; no pretrained paths)
    model.safetensors        all weights (tied ones stored once); loading never unpickles
    norm_stats.json          the Normalizer (modes + q01/q99/mean/std/min/max per key)
    tokenizer/               the text tokenizer (tokenizer.json, tokenizer_config.json)
    action_tokenizer/        the action tokenizer (action_tokenizer.json [+ fast_bpe.json])
    train_state/             optional, written by training for resuming (see `extra` below)

`save_pretrained` builds the directory in a temporary sibling and renames it into place (`vla.io.atomic_dir`),
so a killed save leaves the previous checkpoint intact. Callers that commit atomically themselves (the
training loop's `commit_checkpoint`) call `write_pretrained(tmp_dir, ...)` instead; `save_pretrained`'s
`extra(tmp_dir)` hook lets a caller add its own files (train_state/) before the commit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

from vla.config import to_dataclass, to_dict
from vla.io import atomic_dir, atomic_write_json

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
NORM_STATS_FILE = "norm_stats.json"
TEXT_TOKENIZER_DIR = "tokenizer"
ACTION_TOKENIZER_DIR = "action_tokenizer"
TRAIN_STATE_DIR = "train_state"
REQUIRED_FILES = (CONFIG_FILE, WEIGHTS_FILE, NORM_STATS_FILE, f"{TEXT_TOKENIZER_DIR}/tokenizer_config.json",
                  f"{ACTION_TOKENIZER_DIR}/action_tokenizer.json")
STATE_KEY, ACTION_KEY = "observation.state", "action"  # the normalizer keys the model's inputs/outputs use


class Tokenizers(NamedTuple):
    """The two tokenizers a checkpoint carries: `text` (HF tokenizer) and `action` (vla.actions)."""

    text: Any
    action: Any


def check_norm_stats(normalizer: Any, state_dim: int, action_dim: int) -> None:
    """Raise KeyError naming the key when the stats lack `observation.state` or `action`, and ValueError
    when a key's dimension differs from the model's (stats from another dataset or robot)."""
    for key, dim in ((STATE_KEY, state_dim), (ACTION_KEY, action_dim)):
        if normalizer.modes.get(key) == "identity":
            continue
        if key not in normalizer.stats:
            raise KeyError(f"norm stats have no key {key!r} (keys: {sorted(normalizer.stats)}); the model needs it")
        if normalizer.stats[key].dim != dim:
            raise ValueError(f"norm stats for {key!r} have {normalizer.stats[key].dim} dims, the model expects {dim}")


def _as_normalizer(norm_stats: Any) -> Any:
    from vla.normalize import Normalizer, NormStats

    if isinstance(norm_stats, Normalizer):
        return norm_stats
    if isinstance(norm_stats, Mapping) and all(isinstance(v, NormStats) for v in norm_stats.values()):
        return Normalizer(norm_stats)
    raise TypeError(f"norm_stats must be a vla.normalize.Normalizer or a dict of NormStats, got {type(norm_stats)}")


def write_pretrained(directory: str | Path, model: Any, norm_stats: Any, text_tokenizer: Any,
                     action_tokenizer: Any = None) -> None:
    """Write a checkpoint's files into the existing `directory` (not atomic by itself: for callers that
    commit the directory atomically). `action_tokenizer` defaults to the model's own."""
    from safetensors.torch import save_model

    from vla.text_tokenizer import save_text_tokenizer

    directory = Path(directory)
    normalizer = _as_normalizer(norm_stats)
    cfg = model.export_config()
    check_norm_stats(normalizer, cfg.state_dim, cfg.action_dim)
    atomic_write_json(directory / CONFIG_FILE, to_dict(cfg))
    save_model(model, str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
    normalizer.save(directory / NORM_STATS_FILE)
    (directory / TEXT_TOKENIZER_DIR).mkdir(exist_ok=True)
    save_text_tokenizer(text_tokenizer, directory / TEXT_TOKENIZER_DIR)
    (directory / ACTION_TOKENIZER_DIR).mkdir(exist_ok=True)
    (action_tokenizer if action_tokenizer is not None else model.action_tokenizer).save(directory / ACTION_TOKENIZER_DIR)


def save_pretrained(model: Any, directory: str | Path, norm_stats: Any, text_tokenizer: Any,
                    action_tokenizer: Any = None, *, extra: Callable[[Path], None] | None = None) -> Path:
    """Save a complete checkpoint to `directory` atomically and return its path.

    `norm_stats`: a `Normalizer` (or a dict of `NormStats`); `extra(tmp_dir)`, when given, runs after the
    files are written and before the rename, e.g. to add `train_state/`.
    """
    with atomic_dir(directory) as tmp:
        write_pretrained(tmp, model, norm_stats, text_tokenizer, action_tokenizer)
        if extra is not None:
            extra(tmp)
    return Path(directory)


def check_checkpoint_dir(directory: str | Path) -> Path:
    """`directory` as a Path, or FileNotFoundError naming the first missing checkpoint file."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"checkpoint directory not found: {directory}")
    for name in REQUIRED_FILES:
        if not (directory / name).is_file():
            raise FileNotFoundError(f"checkpoint {directory} is missing {name}")
    return directory


def load_config(directory: str | Path, trust_remote_code: bool = False) -> Any:
    """The checkpoint's VLAConfig; `trust_remote_code` comes from the caller, never from the file."""
    from vla.model.config import VLAConfig

    data = json.loads((Path(directory) / CONFIG_FILE).read_text())
    data["trust_remote_code"] = bool(trust_remote_code)
    return to_dataclass(data, VLAConfig)


def load_pretrained(directory: str | Path, *, trust_remote_code: bool = False) -> tuple[Any, Any, Tokenizers]:
    """Load a checkpoint: returns (model in eval mode on CPU float32, Normalizer, Tokenizers(text, action)).

    The network is rebuilt from config.json and filled from model.safetensors with every key required
    (a missing or unexpected weight raises). Norm stats lacking the model's keys raise naming the key.
    """
    from safetensors.torch import load_model

    from vla.actions import load_action_tokenizer
    from vla.model.vla import VLA
    from vla.normalize import Normalizer
    from vla.text_tokenizer import load_text_tokenizer

    directory = check_checkpoint_dir(directory)
    cfg = load_config(directory, trust_remote_code)
    normalizer = Normalizer.load(directory / NORM_STATS_FILE)
    check_norm_stats(normalizer, cfg.state_dim, cfg.action_dim)
    action_tokenizer = load_action_tokenizer(directory / ACTION_TOKENIZER_DIR)
    text_tokenizer = load_text_tokenizer(directory / TEXT_TOKENIZER_DIR)
    model = VLA.from_config(cfg, action_tokenizer=action_tokenizer)
    missing, unexpected = load_model(model, str(directory / WEIGHTS_FILE), strict=False)
    if missing or unexpected:
        raise ValueError(f"{directory / WEIGHTS_FILE} does not match the config: missing {sorted(missing)[:5]}, "
                         f"unexpected {sorted(unexpected)[:5]}")
    return model.eval(), normalizer, Tokenizers(text_tokenizer, action_tokenizer)
