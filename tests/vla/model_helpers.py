"""Small VLA configs for fast model tests: the tiny config's layout, shrunk to milliseconds per step."""

from __future__ import annotations

from typing import Any

from vla.model.config import load_model_config

SMALL_LM = {"vocab_size": 1024, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2}
SMALL_VISION = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                "patch_size": 8}


def small_config(**overrides: Any):
    """`conf/model/tiny.yaml` with a 32 px image, 2-layer 64-wide LM, horizon 2 (14 action tokens)."""
    fields: dict[str, Any] = {
        "image_size": 32,
        "vision": {"config": SMALL_VISION},
        "projector": {"type": "resampler", "num_queries": 4, "num_heads": 2},
        "lm": {"config": SMALL_LM},
        "horizon": 2,
    }
    fields.update(overrides)
    return load_model_config("tiny", **fields)
