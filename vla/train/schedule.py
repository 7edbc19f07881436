"""Learning-rate schedule: linear warmup, then cosine decay (the GPT-3 / nanoGPT recipe)."""

from __future__ import annotations

import math
from typing import Any


class WarmupCosine:
    """Multiplier on the base lr at optimizer step `step` (0-based), for `torch.optim.lr_scheduler.LambdaLR`.

    A class rather than a closure: LambdaLR saves a callable object's `__dict__` in its state dict, so the
    schedule's own numbers travel with the train state (plain ints/floats, JSON-safe).
    """

    def __init__(self, warmup_steps: int, total_steps: int, min_ratio: float) -> None:
        if total_steps <= 0:
            raise ValueError(f"total_steps must be > 0, got {total_steps}")
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        if not 0 <= min_ratio <= 1:
            raise ValueError(f"min_ratio must be in [0, 1], got {min_ratio}")
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)
        self.min_ratio = float(min_ratio)

    def __call__(self, step: int) -> float:
        """The lr multiplier: (step+1)/warmup during warmup, then a half cosine from 1 down to `min_ratio`."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def make_scheduler(optimizer: Any, warmup_steps: int, total_steps: int, min_ratio: float) -> Any:
    """A LambdaLR over `optimizer` following `WarmupCosine`; call `.step()` once per optimizer step."""
    import torch

    return torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupCosine(warmup_steps, total_steps, min_ratio))
