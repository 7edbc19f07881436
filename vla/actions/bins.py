"""RT-2 / OpenVLA action tokens: uniform bins per dimension over the normalized range [-1, 1].

Vocabulary contract: bin b (0 <= b < n_bins) of ANY action dimension is the LM id `token_offset + b`, so the
tokenizer owns the block `[token_offset, token_offset + n_bins)`. With a pretrained LM we take the last
n_bins ids (OpenVLA); with our tiny tokenizer they are reserved special tokens at the end of the vocabulary
(see `vla.text_tokenizer.action_token_offset`). A chunk (H, A) is flattened time-major: t0d0, t0d1, ...
so a sequence always has exactly H * A tokens.

Since [-1, 1] is the [q01, q99] range after quantile normalization, a bin is 2 / n_bins wide and the
round-trip error |decode(encode(a)) - a| is at most half a bin (1 / n_bins) for a in [-1, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla.actions.base import (
    ActionDecodeError,
    as_id_array,
    check_chunk,
    check_in_block,
    check_offset,
    check_positive_int,
    check_vocab_block,
    read_config,
    write_config,
)


class BinActionTokenizer:
    """Uniform-bin action tokenizer with a fixed length of `horizon * action_dim` tokens."""

    name = "bins"

    def __init__(self, action_dim: int, horizon: int, n_bins: int = 256, *, token_offset: int) -> None:
        self.action_dim = check_positive_int("action_dim", action_dim)
        self.horizon = check_positive_int("horizon", horizon)
        self.n_bins = check_positive_int("n_bins", n_bins)
        if self.n_bins < 2:
            raise ValueError(f"n_bins must be >= 2, got {n_bins!r}")
        self.token_offset = check_offset(token_offset)
        self.bin_width = 2.0 / self.n_bins
        self.centers = (-1.0 + (np.arange(self.n_bins) + 0.5) * self.bin_width).astype(np.float32)  # (n_bins,)

    def __repr__(self) -> str:
        return (
            f"BinActionTokenizer(action_dim={self.action_dim}, horizon={self.horizon}, "
            f"n_bins={self.n_bins}, token_offset={self.token_offset})"
        )

    @property
    def vocab_size(self) -> int:
        """Number of action token ids: one per bin, shared by all dimensions."""
        return self.n_bins

    @property
    def num_tokens(self) -> int:
        """Every chunk is exactly horizon * action_dim tokens."""
        return self.horizon * self.action_dim

    @property
    def max_tokens(self) -> int:
        """The longest sequence (= num_tokens), for sizing generation."""
        return self.horizon * self.action_dim

    def valid_ids(self) -> np.ndarray:
        """The LM ids this tokenizer may emit (int64), for constrained decoding."""
        return np.arange(self.token_offset, self.token_offset + self.n_bins, dtype=np.int64)

    def check_vocab(self, lm_vocab_size: int, special_ids: tuple[int, ...] | list[int] = ()) -> None:
        """Raise ValueError unless the action ids fit `lm_vocab_size` and avoid every id in `special_ids`."""
        check_vocab_block(self.token_offset, self.vocab_size, lm_vocab_size, special_ids)

    def bins(self, actions: np.ndarray) -> np.ndarray:
        """Bin index per element of a normalized chunk: int64 (H, A) in [0, n_bins); beyond ±1 is clipped."""
        arr = check_chunk(actions, self.horizon, self.action_dim)  # (H, A)
        idx = np.floor((arr + 1.0) / self.bin_width).astype(np.int64)  # (H, A); +1.0 lands on n_bins
        return np.clip(idx, 0, self.n_bins - 1)

    def encode(self, actions: np.ndarray) -> np.ndarray:
        """Normalized chunk (H, A) -> LM ids int64 (H*A,), time-major."""
        return self.bins(actions).reshape(-1) + self.token_offset  # (H*A,)

    def decode(self, ids: np.ndarray) -> np.ndarray:
        """LM ids (H*A,) -> bin centers float32 (H, A); a wrong length or a non-action id raises ActionDecodeError."""
        arr = as_id_array(ids)
        if arr.size != self.num_tokens:
            raise ActionDecodeError(f"expected {self.num_tokens} action ids (horizon*action_dim), got {arr.size}")
        check_in_block(arr, self.token_offset, self.n_bins)
        return self.centers[arr - self.token_offset].reshape(self.horizon, self.action_dim)  # (H, A)

    def decode_masked(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Like `decode`, but non-action ids come back as NaN with a mask instead of raising.

        Returns (actions float32 (H, A) with NaN where the id was invalid, valid bool (H, A)). The caller
        must act on the mask (e.g. hold the last action); the NaNs make an unchecked use fail loudly
        rather than move the robot to a silent zero. A wrong sequence length still raises.
        """
        arr = as_id_array(ids)
        if arr.size != self.num_tokens:
            raise ActionDecodeError(f"expected {self.num_tokens} action ids (horizon*action_dim), got {arr.size}")
        local = arr - self.token_offset  # (H*A,)
        valid = (local >= 0) & (local < self.n_bins)
        out = np.full(arr.shape, np.nan, dtype=np.float32)
        out[valid] = self.centers[local[valid]]
        shape = (self.horizon, self.action_dim)
        return out.reshape(shape), valid.reshape(shape)

    def save(self, directory: str | Path) -> None:
        """Write `action_tokenizer.json` (all that is needed to rebuild it) into `directory`."""
        write_config(
            directory,
            {
                "name": self.name,
                "action_dim": self.action_dim,
                "horizon": self.horizon,
                "n_bins": self.n_bins,
                "token_offset": self.token_offset,
            },
        )

    @classmethod
    def load(cls, directory: str | Path) -> "BinActionTokenizer":
        """Rebuild the tokenizer saved in `directory`."""
        cfg = read_config(directory, expected_name=cls.name)
        return cls(cfg["action_dim"], cfg["horizon"], n_bins=cfg["n_bins"], token_offset=cfg["token_offset"])
