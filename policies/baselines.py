"""Reference baselines for benchmark tables: a seeded random policy and a policy that holds still.

Both give the floor a learned policy must beat: `random` samples uniformly in the env's action space;
`noop` never moves, which is what "success" looks like on tasks whose success holds at reset.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policies.base import Policy


def _box(env: Any) -> tuple[np.ndarray, np.ndarray]:
    space = env.action_space
    low, high = np.asarray(space.low, np.float32), np.asarray(space.high, np.float32)
    if low.ndim != 1 or not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ValueError(f"baselines need a bounded 1-D Box action space, got {space}")
    return low, high


class RandomPolicy:
    """Uniform random actions in [low, high], chunks of `horizon` steps.

    Seeded at construction; the benchmark runner also calls `seed(episode_seed)` before each episode, so
    an episode's actions depend only on (seed, episode seed), not on which episodes a worker ran before.
    """

    def __init__(self, low: np.ndarray, high: np.ndarray, seed: int = 0, horizon: int = 1):
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        self.low, self.high, self.base_seed, self.horizon = low, high, int(seed), int(horizon)
        self._rng = np.random.default_rng(self.base_seed)

    def seed(self, episode_seed: int) -> None:
        self._rng = np.random.default_rng([self.base_seed, int(episode_seed)])

    def reset(self, instruction: str) -> None:
        """Random actions ignore the instruction; the RNG stream continues (see `seed`)."""

    def predict_action_chunk(self, obs: dict[str, Any]) -> np.ndarray:
        """Returns float32 (horizon, A) uniform in the action box."""
        return self._rng.uniform(self.low, self.high, (self.horizon, len(self.low))).astype(np.float32)


class NoopPolicy:
    """Always the same "hold still" action.

    The action is the env's `noop_action` when it declares one (Meta-World: zero hand deltas and the
    gripper held at its reset command, open), else all zeros clipped into the action box, i.e. zero
    deltas with the gripper at the midpoint of its range (for the tabletop's -1 closed .. +1 open that
    is half open). A gripper's "current command" is not part of the observation contract, so the
    policy cannot read it back; the env is the one place that knows its gripper convention.
    """

    def __init__(self, action: np.ndarray):
        self.action = np.asarray(action, np.float32)

    def reset(self, instruction: str) -> None:
        """Holding still ignores the instruction."""

    def predict_action_chunk(self, obs: dict[str, Any]) -> np.ndarray:
        """Returns float32 (1, A): the hold-still action."""
        return self.action[None].copy()


def make_random(env: Any, task_id: str, seed: int = 0, horizon: int = 1) -> Policy:
    """Uniform random actions in `env`'s action space, seeded by `seed`."""
    low, high = _box(env)
    return RandomPolicy(low, high, seed=seed, horizon=horizon)


def make_noop(env: Any, task_id: str) -> Policy:
    """The hold-still policy for `env` (see `NoopPolicy` for the gripper)."""
    low, high = _box(env)
    declared = getattr(getattr(env, "unwrapped", env), "noop_action", None)
    action = np.asarray(declared() if callable(declared) else np.clip(np.zeros_like(low), low, high), np.float32)
    if action.shape != low.shape:
        raise ValueError(f"env noop_action has shape {action.shape}, expected {low.shape}")
    return NoopPolicy(action)
