"""Batching for the VLA: samples -> padded tensors, and the 4-D attention masks of the multimodal sentence.

Layout of one row (P prefix columns, then La action columns):

    [image tokens: cameras x tokens_per_image][state tokens: k][prompt: Lp, LEFT-padded][action tokens: La]

Prompts are left-padded so every row's prefix ends in the same column; the action tokens then sit in the
same columns in every row, which lets a batch decode in lock-step with one KV cache. Pad columns are
masked out as keys and skipped by the position ids (positions count real tokens only), so a padded row
computes exactly what it would alone. Action ids (training) are right-padded and loss-masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch


@dataclass(frozen=True)
class Collator:
    """Picklable `samples -> batch` (DataLoader workers get this, not the model).

    A sample is the transforms' output: `{"images": {cam: uint8 (H, W, 3)}, "state": float32 (S,),
    "prompt_ids": int64 (Lp,), "action_ids": int64 (La,) [train], "actions": float32 (H, A) [train]}`.
    Prompts longer than `max_prompt_len` raise. The batch: `images` uint8 (B, C, H, W, 3) in `cameras` order, `state` float32 (B, S), `prompt_ids`
    int64 (B, Lp) left-padded with `pad_id` and `prompt_mask` bool (B, Lp); with actions also `action_ids`
    int64 (B, La) right-padded (`eos_id` appended first when set: variable-length tokenizers like FAST),
    `action_mask` bool (B, La) and `actions` float32 (B, H, A).
    """

    cameras: tuple[str, ...]
    image_size: int
    state_dim: int
    pad_id: int = 0
    eos_id: int | None = None
    max_prompt_len: int | None = None

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if not samples:
            raise ValueError("cannot collate an empty list of samples")
        batch = {
            "images": torch.from_numpy(np.stack([self._images(s) for s in samples])),  # (B, C, H, W, 3)
            "state": torch.from_numpy(np.stack([self._state(s) for s in samples])),  # (B, S)
        }
        prompts = [_ids(s, "prompt_ids") for s in samples]
        longest = max(len(p) for p in prompts)
        if self.max_prompt_len is not None and longest > self.max_prompt_len:
            raise ValueError(f"a prompt has {longest} tokens, more than max_prompt_len={self.max_prompt_len} "
                             f"(shorten the instruction or raise the model's max_prompt_len)")
        batch["prompt_ids"], batch["prompt_mask"] = pad_ids(prompts, self.pad_id, left=True)  # (B, Lp)
        if all("action_ids" in s for s in samples):
            ids = [_ids(s, "action_ids") for s in samples]
            if self.eos_id is not None:
                ids = [np.concatenate([i, [self.eos_id]]) for i in ids]
            batch["action_ids"], batch["action_mask"] = pad_ids(ids, self.pad_id, left=False)  # (B, La)
        if all("actions" in s for s in samples):
            batch["actions"] = torch.from_numpy(np.stack([np.asarray(s["actions"], np.float32) for s in samples]))
        return batch

    def _images(self, sample: dict[str, Any]) -> np.ndarray:
        images = sample.get("images")
        if not isinstance(images, dict):
            raise TypeError(f"sample['images'] must be a dict camera -> uint8 (H, W, 3), got {type(images).__name__}")
        unknown = sorted(set(images) - set(self.cameras))
        missing = [c for c in self.cameras if c not in images]
        if unknown or missing:
            raise KeyError(f"image cameras {sorted(images)} do not match the model's {list(self.cameras)} "
                           f"(unknown: {unknown}, missing: {missing})")
        out = []
        for cam in self.cameras:
            img = np.asarray(images[cam])
            if img.dtype != np.uint8:
                raise TypeError(f"image {cam!r} must be uint8 RGB, got dtype {img.dtype}")
            expected = (self.image_size, self.image_size, 3)
            if img.shape != expected:
                raise ValueError(f"image {cam!r} has shape {img.shape}, expected {expected} (resize first)")
            out.append(img)
        return np.stack(out)  # (C, H, W, 3)

    def _state(self, sample: dict[str, Any]) -> np.ndarray:
        state = np.asarray(sample.get("state"), dtype=np.float32)
        if state.shape != (self.state_dim,):
            raise ValueError(f"state has shape {state.shape}, expected ({self.state_dim},)")
        if not np.all(np.isfinite(state)):
            raise ValueError(f"state has non-finite values at {np.flatnonzero(~np.isfinite(state)).tolist()}")
        return state


def _ids(sample: dict[str, Any], key: str) -> np.ndarray:
    ids = np.asarray(sample[key])
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"sample[{key!r}] must be 1-D integer ids, got shape {ids.shape} dtype {ids.dtype}")
    return ids.astype(np.int64)


def pad_ids(seqs: Sequence[np.ndarray], pad_id: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack 1-D id arrays into int64 (B, L) padded with `pad_id` on the left or right, plus a bool mask."""
    width = max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=bool)
    for row, seq in enumerate(seqs):
        cols = slice(width - len(seq), width) if left else slice(0, len(seq))
        ids[row, cols] = seq
        mask[row, cols] = True
    return torch.from_numpy(ids), torch.from_numpy(mask)


def position_ids(key_mask: torch.Tensor) -> torch.Tensor:
    """Positions counting real tokens only: int64 (B, L); pad columns repeat their neighbour's position."""
    return (key_mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, L)


def attention_mask_4d(key_mask: torch.Tensor, num_bidirectional: int, dtype: torch.dtype) -> torch.Tensor:
    """Additive mask (B, 1, L, L): causal over the row, pad keys hidden, the last `num_bidirectional`
    columns attending to each other both ways (OpenVLA-OFT parallel decoding; 0 gives a plain causal mask).

    Masked entries hold the dtype's minimum, not -inf, and every query sees itself, so a pad query row
    never softmaxes over nothing (NaN).
    """
    length = key_mask.shape[1]
    idx = torch.arange(length, device=key_mask.device)
    allowed = idx[None, :] <= idx[:, None]  # (L, L) causal: query row, key column
    if num_bidirectional > 0:
        tail = idx >= length - num_bidirectional  # (L,)
        allowed = allowed | (tail[:, None] & tail[None, :])
    allowed = allowed[None] & key_mask[:, None, :].bool()  # (B, L, L)
    allowed = allowed | torch.eye(length, dtype=torch.bool, device=key_mask.device)[None]
    mask = torch.zeros(allowed.shape, dtype=dtype, device=key_mask.device)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[:, None]  # (B, 1, L, L)


def step_mask_4d(key_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive mask (B, 1, 1, K) for one decoding step whose query may see every real key so far."""
    mask = torch.zeros(key_mask.shape, dtype=dtype, device=key_mask.device)
    mask.masked_fill_(~key_mask.bool(), torch.finfo(dtype).min)
    return mask[:, None, None]  # (B, 1, 1, K)
