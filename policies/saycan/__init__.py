"""SayCan planning with Inner Monologue feedback over tabletop skills (Ahn et al. 2022; Huang et al. 2022).

`make(env, task_id, **kw)` builds a `SayCanPolicy` for the policy registry (kw: `SayCanConfig` fields);
`Planner.plan_step` is the simulator-free API the ROS planner node uses; `vla-run` is the console script
(`policies.saycan.cli`). Heavy imports (torch, transformers, mujoco) happen inside the functions.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.lru_cache(maxsize=2)
def shared_planner(lm_path: str | None, gguf_file: str | None, normalize: str):
    """One Planner per LM setting per process: loading SmolLM2 takes seconds, episodes reuse it (and its
    few-shot prompt cache)."""
    from policies.saycan.planner import Planner

    return Planner.from_pretrained(lm_path, gguf_file, normalize=normalize)


def make_executor(env: Any, executor: str, vla_checkpoint: str | None = None):
    """The skill executor by name: scripted primitives or the VLA checkpoint."""
    from policies.saycan.skills import ScriptedSkillExecutor, VLASkillExecutor

    if executor == "scripted":
        return ScriptedSkillExecutor(env)
    if executor == "vla":
        return VLASkillExecutor.from_pretrained(vla_checkpoint)
    raise ValueError(f"unknown executor {executor!r}; valid: scripted, vla")


def make(env: Any, task_id: str, **kwargs: Any):
    """The registry factory: a SayCanPolicy acting in `env` (kwargs are SayCanConfig fields)."""
    from policies.saycan.affordances import make_affordance
    from policies.saycan.config import SayCanConfig
    from policies.saycan.policy import SayCanPolicy

    cfg = SayCanConfig(**kwargs)
    planner = shared_planner(cfg.lm_path, cfg.gguf_file, cfg.normalize)
    return SayCanPolicy(env, planner, make_executor(env, cfg.executor, cfg.vla_checkpoint),
                        make_affordance(cfg.affordance, cfg.affordance_checkpoint), cfg.loop())
