"""Action tokenizers: normalized action chunks (H, A) in [-1, 1] <-> language-model token ids.

`ALL_ACTION_TOKENIZERS` is the registry; `build_action_tokenizer(name, **kw)` constructs one and
`load_action_tokenizer(dir)` reloads whichever one a checkpoint directory holds. The contract with the LM
vocabulary is in `vla.actions.base`.
"""

from __future__ import annotations

from pathlib import Path

from vla.actions.base import ActionDecodeError, ActionTokenizer, read_config
from vla.actions.bins import BinActionTokenizer
from vla.actions.fast import FastActionTokenizer

ALL_ACTION_TOKENIZERS: dict[str, type] = {
    "bins": BinActionTokenizer,
    "fast": FastActionTokenizer,
}


def build_action_tokenizer(name: str, **kwargs) -> ActionTokenizer:
    """Construct the registered tokenizer `name` with `kwargs` (a FAST one still needs `.fit(chunks)`)."""
    if name not in ALL_ACTION_TOKENIZERS:
        raise KeyError(f"unknown action tokenizer {name!r}; known: {sorted(ALL_ACTION_TOKENIZERS)}")
    return ALL_ACTION_TOKENIZERS[name](**kwargs)


def load_action_tokenizer(directory: str | Path) -> ActionTokenizer:
    """Load the action tokenizer saved in `directory`, whichever registered kind its config names."""
    name = read_config(directory).get("name")
    if name not in ALL_ACTION_TOKENIZERS:
        known = sorted(ALL_ACTION_TOKENIZERS)
        raise ValueError(f"{directory} holds an unknown action tokenizer {name!r}; known: {known}")
    return ALL_ACTION_TOKENIZERS[name].load(directory)


__all__ = [
    "ALL_ACTION_TOKENIZERS",
    "ActionDecodeError",
    "ActionTokenizer",
    "BinActionTokenizer",
    "FastActionTokenizer",
    "build_action_tokenizer",
    "load_action_tokenizer",
]
