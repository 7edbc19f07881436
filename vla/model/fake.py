"""Fake inputs with a config's shapes (STYLE 8): one parametrized test builds every model config from them."""

from __future__ import annotations

from typing import Any

import numpy as np

from vla.model.batch import Collator
from vla.model.config import VLAConfig


def fake_samples(cfg: VLAConfig, batch_size: int, seed: int, action_tokenizer: Any) -> list[dict[str, Any]]:
    """`batch_size` random samples as the transforms would emit them (prompts of different lengths).

    Prompt ids are drawn from [3, 200), which every vocabulary has below its action block; action ids
    come from encoding random normalized chunks with `action_tokenizer`.
    """
    rng = np.random.default_rng(seed)
    size = cfg.image_size
    samples = []
    for i in range(batch_size):
        actions = rng.uniform(-1, 1, size=(cfg.horizon, cfg.action_dim)).astype(np.float32)  # (H, A)
        samples.append({
            "images": {cam: rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8) for cam in cfg.cameras},
            "state": rng.standard_normal(cfg.state_dim).astype(np.float32),  # (S,)
            "prompt_ids": rng.integers(3, 200, size=min(cfg.max_prompt_len, 8 + 3 * i)).astype(np.int64),
            "action_ids": action_tokenizer.encode(actions),
            "actions": actions,
        })
    return samples


def fake_batch(cfg: VLAConfig, batch_size: int = 2, seed: int = 0, vocab_size: int | None = None,
               action_tokenizer: Any = None) -> dict[str, Any]:
    """A collated fake batch; the action tokenizer defaults to the config's at the end of the LM vocabulary."""
    from vla.model.lm import lm_text_config, lm_vocab_size
    from vla.model.tokens import build_action_tokenizer_for, eos_for

    if action_tokenizer is None:
        vocab = vocab_size if vocab_size is not None else lm_vocab_size(cfg.lm, cfg.trust_remote_code)
        action_tokenizer = build_action_tokenizer_for(cfg, vocab)
    if not getattr(action_tokenizer, "fitted", True):
        raise ValueError(f"fake_batch cannot encode with an unfitted {cfg.action_tokenizer!r} tokenizer; "
                         f"pass a fitted action_tokenizer")
    eos = None
    if action_tokenizer.num_tokens is None:  # the same end id the model appends (vla.model.tokens.eos_for)
        eos = eos_for(cfg, action_tokenizer, lm_text_config(cfg.lm, cfg.trust_remote_code))
    collate = Collator(tuple(cfg.cameras), cfg.image_size, cfg.state_dim, eos_id=eos)
    return collate(fake_samples(cfg, batch_size, seed, action_tokenizer))
