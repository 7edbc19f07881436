"""The Policy protocol every low-level controller follows, and the wrapper that executes action chunks.

Sim, ROS nodes and the benchmark runner all talk to a policy through two calls (DESIGN.md):
`reset(instruction)` at the start of an episode and `predict_action_chunk(obs)` returning `(H, A)`.
How a chunk is consumed (step through it, re-plan every k steps, temporally ensemble overlapping chunks)
is `ActionChunkExecutor`'s job, never the policy's, as in openpi's ActionChunkBroker.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

Observation = dict[str, Any]  # {"images": {name: uint8[H, W, 3]}, "state": float32[S], "instruction": str}


@runtime_checkable
class Policy(Protocol):
    """A policy: reset with an instruction, then map an observation to an action chunk."""

    def reset(self, instruction: str) -> None: ...

    def predict_action_chunk(self, obs: Observation) -> np.ndarray:
        """Return float32 `(H, A)`, H >= 1, in the env's action space."""
        ...


def check_chunk(chunk: Any, action_dim: int | None = None) -> np.ndarray:
    """Validate a policy's output: a finite float array `(H, A)` with H >= 1 (a 1-D action becomes H = 1).

    Raises ValueError naming the shape or the bad values; a robot never moves on NaN.
    """
    arr = np.asarray(chunk, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise ValueError(f"action chunk must have shape (H, A) with H >= 1, got {np.shape(chunk)}")
    if action_dim is not None and arr.shape[1] != action_dim:
        raise ValueError(f"action chunk has A={arr.shape[1]}, expected A={action_dim} (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[:4].tolist()
        raise ValueError(f"action chunk has non-finite values at (step, dim) {bad}")
    return arr


class ActionChunkExecutor:
    """Turns a chunking Policy into one action per control step.

    replan_every=k: query the policy every k steps and play the first k actions of each chunk
    (k = H plays whole chunks; k = 1 is closed-loop). ensemble=True: query every step and average all
    chunks that cover the current step with exponential weights exp(-ensemble_decay * age), as in
    ACT's temporal ensembling (Zhao et al. 2023), where older predictions get more weight when decay > 0.
    """

    def __init__(self, policy: Policy, replan_every: int | None = None, ensemble: bool = False,
                 ensemble_decay: float = 0.01, action_dim: int | None = None):
        if replan_every is not None and replan_every < 1:
            raise ValueError(f"replan_every must be >= 1 or None (whole chunk), got {replan_every}")
        self.policy = policy
        self.replan_every = replan_every
        self.ensemble = ensemble
        self.ensemble_decay = float(ensemble_decay)
        self.action_dim = action_dim
        self._queue: list[np.ndarray] = []
        self._since_plan = 0
        self._chunks: list[tuple[int, np.ndarray]] = []  # (step the chunk was predicted at, chunk)
        self._t = 0

    def reset(self, instruction: str) -> None:
        self.policy.reset(instruction)
        self._queue = []
        self._since_plan = 0
        self._chunks = []
        self._t = 0

    def __call__(self, obs: Observation) -> np.ndarray:
        """Return the action `(A,)` for this control step."""
        action = self._ensembled(obs) if self.ensemble else self._queued(obs)
        self._t += 1
        return action

    def _queued(self, obs: Observation) -> np.ndarray:
        limit = self.replan_every
        if not self._queue or (limit is not None and self._since_plan >= limit):
            chunk = check_chunk(self.policy.predict_action_chunk(obs), self.action_dim)
            self._queue = list(chunk if limit is None else chunk[:limit])
            self._since_plan = 0
        self._since_plan += 1
        return self._queue.pop(0)

    def _ensembled(self, obs: Observation) -> np.ndarray:
        chunk = check_chunk(self.policy.predict_action_chunk(obs), self.action_dim)
        self._chunks.append((self._t, chunk))
        self._chunks = [(t0, c) for t0, c in self._chunks if self._t - t0 < len(c)]
        preds = np.stack([c[self._t - t0] for t0, c in self._chunks])  # (n, A), oldest first
        ages = np.array([self._t - t0 for t0, _ in self._chunks], dtype=np.float64)
        weights = np.exp(self.ensemble_decay * ages)
        return (weights[:, None] * preds).sum(0).astype(np.float32) / weights.sum().astype(np.float32)
