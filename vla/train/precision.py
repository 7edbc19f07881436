"""bf16 autocast for training and evaluation, decided by `TrainConfig.bf16` alone.

The loop enters `torch.autocast` itself instead of using Accelerate's `mixed_precision`: Accelerate keeps
that setting in a process-wide singleton that refuses to change within one process (two runs in one
Python session, e.g. a benchmark of both precisions), and a launcher's `--mixed_precision` flag would
silently override the config. Weights and optimizer state stay fp32; bf16 needs no loss scaling.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch


def autocast(device: torch.device, enabled: bool) -> AbstractContextManager:
    """A bf16 autocast context on `device` (CPU or CUDA), or a no-op one when `enabled` is False."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)
