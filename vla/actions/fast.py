"""FAST action tokens (Pertsch et al. 2025, "FAST: Efficient Action Tokenization for VLA Models").

A normalized chunk (H, A) goes through a per-dimension DCT over time (scipy `dct`, type II, norm "ortho"),
the coefficients are scaled by `scale` and rounded to ints, flattened low-frequency first (all dimensions'
coefficient k before any coefficient k+1), each int is mapped to one character, and a byte-pair encoding
trained on the dataset's chunks (HF `tokenizers`) compresses the string. BPE id j is the LM id
`token_offset + j`; the block `[token_offset, token_offset + bpe_vocab_size)` is reserved in the LM
vocabulary whatever size the trained BPE reaches, so the block can be reserved before fitting.
The default block is 256 ids, the same as the bins tokenizer's, so both fit the 256 action slots of our
tiny tokenizer and the last 256 ids of SmolLM2 (`vla.text_tokenizer`). The paper used 1024; measured with
`python -m benchmarks.action_tokens`-style smooth chunks (H=10, A=7), 256 gives 23.9 tokens per chunk
against 19.3 for 1024 and 70 for bins. For 1024, train the text tokenizer with n_action_tokens=1024.

The alphabet is fixed by the math, not by the data: with inputs clipped to [-1, 1], an orthonormal DCT
coefficient of one dimension is at most sqrt(H) in magnitude, so the ints lie in [-M, M] with
M = ceil(scale * sqrt(H)) and every chunk, seen in training or not, can be encoded. The rounding error of
one coefficient is at most 0.5 / scale, so one dimension's error has L2 norm at most sqrt(H) * 0.5 / scale.

Decoding is strict: an id outside the block, a character outside the alphabet or a coefficient count other
than H * A raises `ActionDecodeError` with the reason (openpi's decoder returned zeros instead).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

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
from vla.io import atomic_write_text
from vla.optional import require

BPE_FILE = "fast_bpe.json"
CHAR_BASE = 0x100  # first code point of the alphabet: Latin Extended letters, no whitespace or controls


class FastActionTokenizer:
    """DCT + BPE action tokenizer; variable length, at most `horizon * action_dim` tokens per chunk.

    Construct with the shape and the reserved id block, then `fit(chunks)` returns a fitted copy
    (construction does no training, and fitting does not mutate). `encode` / `decode` need a fitted one.
    """

    name = "fast"

    def __init__(
        self,
        action_dim: int,
        horizon: int,
        *,
        token_offset: int,
        bpe_vocab_size: int = 256,
        scale: float = 10.0,
        bpe_json: str | None = None,
    ) -> None:
        self.action_dim = check_positive_int("action_dim", action_dim)
        self.horizon = check_positive_int("horizon", horizon)
        self.token_offset = check_offset(token_offset)
        self.bpe_vocab_size = check_positive_int("bpe_vocab_size", bpe_vocab_size)
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a positive finite number, got {scale!r}")
        self.scale = float(scale)
        self.max_coef = math.ceil(self.scale * math.sqrt(self.horizon))  # |rounded coefficient| <= max_coef
        if self.alphabet_size > self.bpe_vocab_size:
            raise ValueError(
                f"bpe_vocab_size={bpe_vocab_size} is smaller than the alphabet of {self.alphabet_size} symbols "
                f"(2*ceil(scale*sqrt(horizon))+1 for scale={scale}, horizon={horizon})"
            )
        self._bpe = None if bpe_json is None else self._bpe_from_json(bpe_json)

    def __repr__(self) -> str:
        return (
            f"FastActionTokenizer(action_dim={self.action_dim}, horizon={self.horizon}, token_offset="
            f"{self.token_offset}, bpe_vocab_size={self.bpe_vocab_size}, scale={self.scale}, fitted={self.fitted})"
        )

    # ---- the vocabulary contract -------------------------------------------------------------------
    @property
    def alphabet_size(self) -> int:
        """Number of distinct rounded coefficient values, i.e. single-character BPE tokens."""
        return 2 * self.max_coef + 1

    @property
    def vocab_size(self) -> int:
        """Size of the reserved LM id block (the BPE may use fewer ids; see `valid_ids`)."""
        return self.bpe_vocab_size

    @property
    def num_tokens(self) -> None:
        """FAST sequences vary in length; see `max_tokens` for the bound."""
        return None

    @property
    def max_tokens(self) -> int:
        """The longest possible sequence: one token per coefficient, horizon * action_dim."""
        return self.horizon * self.action_dim

    @property
    def fitted(self) -> bool:
        """Whether a BPE has been trained or loaded."""
        return self._bpe is not None

    def valid_ids(self) -> np.ndarray:
        """LM ids the fitted BPE can emit (int64): `token_offset + [0, trained BPE size)`."""
        return np.arange(self.token_offset, self.token_offset + self._require_bpe().get_vocab_size(), dtype=np.int64)

    def check_vocab(self, lm_vocab_size: int, special_ids: tuple[int, ...] | list[int] = ()) -> None:
        """Raise ValueError unless the reserved block fits `lm_vocab_size` and avoids every id in `special_ids`."""
        check_vocab_block(self.token_offset, self.vocab_size, lm_vocab_size, special_ids)

    # ---- DCT <-> characters -------------------------------------------------------------------------
    def coefficients(self, actions: np.ndarray) -> np.ndarray:
        """Rounded, scaled DCT coefficients of a chunk: int64 (H, A), row k = frequency k of every dim."""
        from scipy.fft import dct

        arr = check_chunk(actions, self.horizon, self.action_dim)  # (H, A)
        coef = dct(arr, type=2, norm="ortho", axis=0) * self.scale  # (H, A)
        return np.clip(np.rint(coef), -self.max_coef, self.max_coef).astype(np.int64)

    def _to_text(self, actions: np.ndarray) -> str:
        flat = self.coefficients(actions).reshape(-1)  # (H*A,) low frequency first
        return "".join(chr(CHAR_BASE + int(c) + self.max_coef) for c in flat)

    def _from_text(self, text: str) -> np.ndarray:
        from scipy.fft import idct

        if len(text) != self.max_tokens:
            raise ActionDecodeError(
                f"decoded {len(text)} DCT coefficients, expected horizon*action_dim={self.max_tokens}"
            )
        codes = np.fromiter((ord(c) - CHAR_BASE for c in text), dtype=np.int64, count=len(text))  # (H*A,)
        if np.any((codes < 0) | (codes >= self.alphabet_size)):
            raise ActionDecodeError(f"decoded a symbol outside the coefficient alphabet of size {self.alphabet_size}")
        coef = (codes - self.max_coef).reshape(self.horizon, self.action_dim) / self.scale  # (H, A)
        return np.clip(idct(coef, type=2, norm="ortho", axis=0), -1.0, 1.0).astype(np.float32)  # (H, A)

    # ---- BPE -----------------------------------------------------------------------------------------
    def fit(self, chunks: np.ndarray) -> "FastActionTokenizer":
        """Train the BPE on normalized chunks (N, H, A); returns a new fitted tokenizer (self is unchanged)."""
        tk = require("tokenizers")
        arr = np.asarray(chunks)
        if arr.ndim != 3 or arr.shape[1:] != (self.horizon, self.action_dim) or arr.shape[0] == 0:
            raise ValueError(
                f"chunks must have shape (N>0, horizon={self.horizon}, action_dim={self.action_dim}), got {arr.shape}"
            )
        bpe = tk.Tokenizer(tk.models.BPE())
        trainer = tk.trainers.BpeTrainer(
            vocab_size=self.bpe_vocab_size,
            initial_alphabet=[chr(CHAR_BASE + i) for i in range(self.alphabet_size)],
            limit_alphabet=self.alphabet_size,
            special_tokens=[],
            show_progress=False,
        )
        texts: Iterator[str] = (self._to_text(chunk) for chunk in arr)
        bpe.train_from_iterator(texts, trainer=trainer, length=arr.shape[0])
        return self._with_bpe(bpe.to_str())

    def _with_bpe(self, bpe_json: str) -> "FastActionTokenizer":
        return FastActionTokenizer(
            self.action_dim,
            self.horizon,
            token_offset=self.token_offset,
            bpe_vocab_size=self.bpe_vocab_size,
            scale=self.scale,
            bpe_json=bpe_json,
        )

    def _bpe_from_json(self, bpe_json: str):
        bpe = require("tokenizers").Tokenizer.from_str(bpe_json)
        size = bpe.get_vocab_size()
        if size > self.bpe_vocab_size:
            raise ValueError(f"the BPE has {size} tokens, more than bpe_vocab_size={self.bpe_vocab_size}")
        missing = [i for i in range(self.alphabet_size) if bpe.token_to_id(chr(CHAR_BASE + i)) is None]
        if missing:
            raise ValueError(
                f"the BPE lacks {len(missing)} alphabet symbols (e.g. code {missing[0]}); it cannot encode every chunk"
            )
        return bpe

    def _require_bpe(self):
        if self._bpe is None:
            raise RuntimeError("FastActionTokenizer is not fitted: call fit(chunks) or FastActionTokenizer.load(dir)")
        return self._bpe

    def encode(self, actions: np.ndarray) -> np.ndarray:
        """Normalized chunk (H, A) -> LM ids int64 (L,), 1 <= L <= horizon * action_dim."""
        ids = self._require_bpe().encode(self._to_text(actions)).ids
        return np.asarray(ids, dtype=np.int64) + self.token_offset  # (L,)

    def decode(self, ids: np.ndarray) -> np.ndarray:
        """LM ids (L,) -> normalized chunk float32 (H, A); an invalid sequence raises ActionDecodeError."""
        bpe = self._require_bpe()
        arr = as_id_array(ids)
        if arr.size == 0:
            raise ActionDecodeError("no action tokens to decode (empty sequence)")
        check_in_block(arr, self.token_offset, bpe.get_vocab_size())
        text = "".join(bpe.id_to_token(int(i)) for i in arr - self.token_offset)
        return self._from_text(text)

    # ---- files ---------------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """Write `action_tokenizer.json` and the trained BPE (`fast_bpe.json`) into `directory`."""
        bpe = self._require_bpe()
        atomic_write_text(Path(directory) / BPE_FILE, bpe.to_str())
        write_config(
            directory,
            {
                "name": self.name,
                "action_dim": self.action_dim,
                "horizon": self.horizon,
                "token_offset": self.token_offset,
                "bpe_vocab_size": self.bpe_vocab_size,
                "scale": self.scale,
            },
        )

    @classmethod
    def load(cls, directory: str | Path) -> "FastActionTokenizer":
        """Rebuild the fitted tokenizer saved in `directory`."""
        cfg = read_config(directory, expected_name=cls.name)
        bpe_json = (Path(directory) / BPE_FILE).read_text()
        return cls(
            cfg["action_dim"],
            cfg["horizon"],
            token_offset=cfg["token_offset"],
            bpe_vocab_size=cfg["bpe_vocab_size"],
            scale=cfg["scale"],
            bpe_json=bpe_json,
        )
