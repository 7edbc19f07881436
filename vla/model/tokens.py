"""Where the action ids sit in the LM vocabulary, decided in one place for training and inference."""

from __future__ import annotations

from typing import Any

from vla.model.config import VLAConfig


def build_action_tokenizer_for(cfg: VLAConfig, lm_vocab_size: int) -> Any:
    """The action tokenizer `cfg` names, with its id block at `cfg.action_token_offset` or, when that is
    null, at the very end of a vocabulary of `lm_vocab_size` ids (RT-2 / OpenVLA take the last ids).

    A FAST tokenizer comes back unfitted; fit it on the training chunks before use.
    """
    from vla.actions import build_action_tokenizer

    kwargs = dict(cfg.action_tokenizer_kwargs)
    for key in ("horizon", "action_dim", "token_offset"):
        if key in kwargs:
            raise ValueError(f"action_tokenizer_kwargs must not set {key!r}; it comes from the model config")
    shape = {"horizon": cfg.horizon, "action_dim": cfg.action_dim}
    offset = cfg.action_token_offset
    if offset is None:
        block = build_action_tokenizer(cfg.action_tokenizer, token_offset=0, **shape, **kwargs).vocab_size
        offset = lm_vocab_size - block
        if offset < 0:
            raise ValueError(f"action tokenizer {cfg.action_tokenizer!r} needs {block} ids but the LM vocabulary "
                             f"has only {lm_vocab_size}")
    return build_action_tokenizer(cfg.action_tokenizer, token_offset=offset, **shape, **kwargs)


def eos_for(cfg: VLAConfig, action_tokenizer: Any, lm_config: Any) -> int | None:
    """The id that ends an action sequence: None for fixed-length tokenizers (the length says when to stop),
    else `cfg.action_eos_id` or the LM's eos_token_id."""
    if action_tokenizer.num_tokens is not None:
        return None
    if cfg.action_eos_id is not None:
        return cfg.action_eos_id
    eos = lm_config.get_text_config().eos_token_id
    eos = eos[0] if isinstance(eos, (list, tuple)) else eos
    if eos is None:
        raise ValueError(f"the variable-length action tokenizer {cfg.action_tokenizer!r} needs an end id: "
                         f"set action_eos_id (the LM config has no eos_token_id)")
    return int(eos)


def load_text_tokenizer_for(cfg: VLAConfig) -> Any:
    """The text tokenizer `cfg.text_tokenizer` names: "tiny" (shipped), "lm" (the pretrained LM's own,
    from its folder or GGUF file) or a local tokenizer directory."""
    from vla.model.config import LM_TOKENIZER, TINY_TOKENIZER
    from vla.text_tokenizer import TINY_TOKENIZER_DIR, load_text_tokenizer

    if cfg.text_tokenizer == TINY_TOKENIZER:
        return load_text_tokenizer(TINY_TOKENIZER_DIR)
    if cfg.text_tokenizer == LM_TOKENIZER:
        folder = cfg.lm.weights_dir()
        if folder is None:
            raise ValueError("text_tokenizer='lm' needs a pretrained LM (lm.pretrained_path or lm.pretrained_package)")
        return load_text_tokenizer(folder, gguf_file=cfg.lm.gguf_file)
    return load_text_tokenizer(cfg.text_tokenizer)
