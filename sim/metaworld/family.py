"""The Meta-World family for `sim.registry`: task names, suites, env constructor and experts.

Task ids are "metaworld/<task>", e.g. "metaworld/reach-v3"; suites "metaworld/mt10" and
"metaworld/mt50". Importing this module does not import mujoco or metaworld; `make` does.
"""

from __future__ import annotations

from typing import Any

from sim.metaworld.tasks import CAMERAS, INSTRUCTIONS, SUITES, TASKS

__all__ = ["CAMERAS", "INSTRUCTIONS", "SUITES", "TASKS", "make", "make_expert"]


def make(task: str, *, seed: int | None = None, cameras: tuple[str, ...] | None = None,
         image_size: int | None = None, max_episode_steps: int | None = None,
         render_mode: str | None = None, **kw: Any):
    """Build the `MetaWorldEnv` for `task` (see `sim.metaworld.env` for kwargs such as
    `terminate_on_success`); unknown task or camera names raise listing the valid ones."""
    from sim.metaworld.env import MetaWorldEnv

    return MetaWorldEnv(task, seed=seed, cameras=tuple(cameras) if cameras else None, image_size=image_size,
                        max_episode_steps=max_episode_steps, render_mode=render_mode, **kw)


def make_expert(env: Any):
    """The bundled Meta-World scripted expert for `env`'s task, as a Policy."""
    from sim.metaworld.expert import MetaWorldExpert

    return MetaWorldExpert(env)
