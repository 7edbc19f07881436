"""The VLA model (PaLM-E / RT-2 style): config, network, batching and decoding.

    from vla.model import VLA, load_model_config
    cfg = load_model_config("tiny")         # conf/model/tiny.yaml as a validated VLAConfig
    model = VLA.from_config(cfg)
    batch = model.collate(samples)          # samples from vla.transforms
    out = model(batch)                      # Output(loss, logits, action_accuracy)
    actions = model.predict_actions(batch)  # (B, H, A) normalized

The names below are imported on first use (PEP 562), so `vla.model.config` (the torch-free schema) can be
read without importing torch or transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Collator": "vla.model.batch",
    "LMConfig": "vla.model.config",
    "ProjectorConfig": "vla.model.config",
    "VisionConfig": "vla.model.config",
    "VLAConfig": "vla.model.config",
    "load_model_config": "vla.model.config",
    "build_action_tokenizer_for": "vla.model.tokens",
    "load_text_tokenizer_for": "vla.model.tokens",
    "VLA": "vla.model.vla",
    "Output": "vla.model.vla",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vla.model' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
