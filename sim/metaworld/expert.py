"""Meta-World's bundled scripted experts (`metaworld.policies`) behind our Policy protocol.

The experts are hand-written state machines over the privileged 39-dim observation (hand, gripper,
object poses, goal); they read it from `env.raw_observation` rather than from the policy's observation
dict, which carries only images and proprioception. Used as the `scripted` policy and to record
demonstrations.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from sim.metaworld.env import MetaWorldEnv


class MetaWorldExpert:
    """Policy wrapping the Meta-World expert of the env's task; chunks have H = 1 (closed loop)."""

    def __init__(self, env: MetaWorldEnv):
        from metaworld.policies import ENV_POLICY_MAP

        base = getattr(env, "unwrapped", env)
        if not isinstance(base, MetaWorldEnv):
            raise TypeError(f"MetaWorldExpert needs a MetaWorldEnv, got {type(base).__name__}")
        self.env = base
        self._expert = ENV_POLICY_MAP[base.task]()

    def reset(self, instruction: str) -> None:
        """Experts are stateless (their phase is read off the state each step); nothing to reset."""

    def predict_action_chunk(self, obs: dict[str, Any]) -> np.ndarray:
        """The expert's next action as float32 (1, 4), computed from the env's privileged state."""
        raw = self.env.raw_observation
        if raw is None:
            raise RuntimeError("the env has not been reset; the expert has no state to read")
        with warnings.catch_warnings():
            # Experts use gains > 1 on purpose and rely on the env clipping; their warning is noise.
            warnings.filterwarnings("ignore", message="Constant\\(s\\) may be too high")
            action = self._expert.get_action(raw)
        return np.asarray(action, dtype=np.float32)[None]  # (1, 4)
