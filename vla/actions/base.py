"""The contract every action tokenizer keeps with the language model's vocabulary.

An action tokenizer turns a chunk of NORMALIZED actions, float (H, A) in [-1, 1] (see `vla.normalize`),
into language-model token ids and back. Its ids are the contiguous block
`[token_offset, token_offset + vocab_size)` of the LM vocabulary; `valid_ids()` lists them for constrained
decoding, and `check_vocab` verifies the block fits a given vocabulary without hitting special tokens.
Decoding never invents actions: an id outside the block or a malformed sequence raises `ActionDecodeError`
(openpi's FAST decoder returned zeros on failure, which a robot then executed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Protocol, runtime_checkable

import numpy as np

from vla.io import atomic_write_json

CONFIG_FILE = "action_tokenizer.json"  # written by every tokenizer's save(dir); its "name" picks the class


class ActionDecodeError(ValueError):
    """Token ids that do not decode to an action chunk (unknown id, wrong length); the message says why."""


@runtime_checkable
class ActionTokenizer(Protocol):
    """Normalized action chunks (H, A) <-> LM token ids in `[token_offset, token_offset + vocab_size)`."""

    name: str
    action_dim: int
    horizon: int
    token_offset: int

    @property
    def vocab_size(self) -> int: ...  # number of action token ids

    @property
    def num_tokens(self) -> int | None: ...  # fixed sequence length, or None when it varies (FAST)

    @property
    def max_tokens(self) -> int: ...  # longest sequence, for sizing generation

    def check_vocab(self, lm_vocab_size: int, special_ids: tuple[int, ...] | list[int] = ()) -> None: ...

    def valid_ids(self) -> np.ndarray: ...  # int64 LM ids it may emit

    def encode(self, actions: np.ndarray) -> np.ndarray: ...  # (H, A) float -> (L,) int64 LM ids

    def decode(self, ids: np.ndarray) -> np.ndarray: ...  # (L,) LM ids -> (H, A) float32

    def save(self, directory: str | Path) -> None: ...

    @classmethod
    def load(cls, directory: str | Path) -> "ActionTokenizer": ...


def check_positive_int(name: str, value: object) -> int:
    """Return `value` as int if it is a positive integer, else raise ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_offset(value: object) -> int:
    """Return `value` as int if it is a non-negative integer token offset, else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"token_offset must be a non-negative int, got {value!r}")
    return int(value)


def check_chunk(actions: np.ndarray, horizon: int, action_dim: int) -> np.ndarray:
    """Validate a normalized action chunk and return it as float64 (H, A), clipped to [-1, 1].

    Values beyond [-1, 1] are clipped (the normalizer already clips the [q01, q99] range, so anything
    outside is a rare outlier); NaN/inf raise, because no token can stand for them.
    """
    arr = np.asarray(actions, dtype=np.float64)
    if arr.shape != (horizon, action_dim):
        raise ValueError(f"action chunk must have shape (horizon, action_dim)={(horizon, action_dim)}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"action chunk has a non-finite value {arr[bad]} at (t, dim)={bad}")
    return np.clip(arr, -1.0, 1.0)


def as_id_array(ids: np.ndarray | Iterable[int]) -> np.ndarray:
    """Token ids as a 1-D int64 array; anything else (2-D, floats) raises ActionDecodeError."""
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ActionDecodeError(f"action token ids must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ActionDecodeError(f"action token ids must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def check_in_block(ids: np.ndarray, token_offset: int, vocab_size: int) -> None:
    """Raise ActionDecodeError naming the first id outside `[token_offset, token_offset + vocab_size)`."""
    bad = (ids < token_offset) | (ids >= token_offset + vocab_size)
    if np.any(bad):
        pos = int(np.argmax(bad))
        raise ActionDecodeError(
            f"id {int(ids[pos])} at position {pos} is not an action token "
            f"(action ids are [{token_offset}, {token_offset + vocab_size}))"
        )


def check_vocab_block(token_offset: int, vocab_size: int, lm_vocab_size: int, special_ids: Iterable[int] = ()) -> None:
    """Raise ValueError unless the action id block fits `lm_vocab_size` and holds none of `special_ids`."""
    end = token_offset + vocab_size
    if end > lm_vocab_size:
        raise ValueError(
            f"action ids [{token_offset}, {end}) do not fit a vocabulary of {lm_vocab_size} ids "
            f"(the last action id {end - 1} >= {lm_vocab_size})"
        )
    clash = sorted(int(i) for i in special_ids if token_offset <= int(i) < end)
    if clash:
        raise ValueError(f"action ids [{token_offset}, {end}) overlap special token ids {clash}")


def write_config(directory: str | Path, config: dict) -> None:
    """Write a tokenizer's `action_tokenizer.json` into `directory` (atomically; the dir may be a checkpoint)."""
    atomic_write_json(Path(directory) / CONFIG_FILE, config)


def read_config(directory: str | Path, expected_name: str | None = None) -> dict:
    """Read `action_tokenizer.json` from `directory`; raise if it is missing or names another tokenizer."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no action tokenizer in {directory}: {CONFIG_FILE} is missing")
    config = json.loads(path.read_text())
    if expected_name is not None and config.get("name") != expected_name:
        raise ValueError(f"{path} holds a {config.get('name')!r} tokenizer, expected {expected_name!r}")
    return config
