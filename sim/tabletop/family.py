"""The tabletop env family, as `sim.registry` expects it: TASKS, SUITES, `make` and `make_expert`.

Names are listed here literally so that `sim.registry` can list tasks without importing mujoco; a test
checks they match `sim.tabletop.tasks.ALL_TASKS`.

    from sim.registry import make_env
    env = make_env("tabletop/place", seed=0, cameras=("front",), image_size=96)
    expert = sim.tabletop.family.make_expert(env)
"""

from __future__ import annotations

from typing import Any

TASKS: tuple[str, ...] = ("touch", "pick", "place", "push", "stack", "put_all_in_bowl", "stack_all", "sort_by_color")
SUITES: dict[str, tuple[str, ...]] = {
    "basic": ("touch", "pick", "push"),
    "single": ("touch", "pick", "place", "push", "stack"),
    "long": ("put_all_in_bowl", "stack_all", "sort_by_color"),
    "all": TASKS,
}


def make(task: str, *, seed: int | None = None, cameras: tuple[str, ...] | None = None,
         image_size: int | None = None, max_episode_steps: int | None = None,
         render_mode: str | None = None, **kw: Any):
    """A `TabletopEnv` for `task`; None keeps the env's default (both cameras, 128 px, the task's episode
    length). Extra keyword arguments (control_mode, control_hz, terminate_on_success) go to the env."""
    if task not in TASKS:
        raise KeyError(f"unknown tabletop task {task!r}; valid tasks: {list(TASKS)}")
    from sim.tabletop.env import TabletopEnv

    opts: dict[str, Any] = dict(kw)
    if cameras is not None:
        opts["cameras"] = tuple(cameras)
    if image_size is not None:
        opts["image_size"] = image_size
    return TabletopEnv(task, seed=seed, max_episode_steps=max_episode_steps, render_mode=render_mode, **opts)


def make_expert(env: Any):
    """The scripted expert Policy for `env`'s task (privileged state, waypoints + IK)."""
    from sim.tabletop.experts import make_expert as _make_expert

    return _make_expert(env)
