"""The VLA as a policy: `make(env, task_id, checkpoint)` for `policies.registry`, and `VLAPolicy`."""

from __future__ import annotations

from typing import Any

from policies.vla.policy import VLAPolicy


def make(env: Any, task_id: str, checkpoint: str, **kwargs: Any) -> VLAPolicy:
    """Load `checkpoint` (a `vla.checkpoint` directory) as a policy for `env`.

    kwargs go to `VLAPolicy.from_pretrained` (device, dtype, quantize, trust_remote_code). Raises
    ValueError when the checkpoint's action dimension is not the env's.
    """
    policy = VLAPolicy.from_pretrained(checkpoint, **kwargs)
    shape = getattr(getattr(env, "action_space", None), "shape", None)
    if shape is not None and tuple(shape) != (policy.cfg.action_dim,):
        raise ValueError(f"checkpoint {checkpoint} predicts {policy.cfg.action_dim}-D actions, but the env's "
                         f"action space has shape {tuple(shape)} (task {task_id!r})")
    return policy


__all__ = ["VLAPolicy", "make"]
