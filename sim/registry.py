"""The one registry of simulated environments: task ids -> env constructors, and named suites.

A task id is "<family>/<task>", e.g. "tabletop/pick" or "metaworld/reach-v3". Each family module
declares its own tasks and suites (no branch per benchmark here); this module only maps family names to
those modules, imported lazily so that listing names never imports mujoco.

Family module contract (`sim.tabletop.family`, `sim.metaworld.family`):
    TASKS: tuple[str, ...]                      # task names within the family
    SUITES: dict[str, tuple[str, ...]]          # suite name -> task names
    def make(task: str, *, seed: int | None = None, cameras: tuple[str, ...] | None = None,
             image_size: int | None = None, max_episode_steps: int | None = None,
             render_mode: str | None = None) -> gymnasium.Env
The env's observations follow DESIGN.md: {"images": {camera: uint8[H, W, 3]}, "state": float32[S],
"instruction": str}; `info["success"]` is a bool on every step.
"""

from __future__ import annotations

import importlib
from types import ModuleType

ALL_ENVS: dict[str, str] = {
    "tabletop": "sim.tabletop.family",
    "metaworld": "sim.metaworld.family",
}


def family(name: str) -> ModuleType:
    """The family module for `name`; an unknown name raises a KeyError listing the valid ones."""
    if name not in ALL_ENVS:
        raise KeyError(f"unknown env family {name!r}; valid families: {sorted(ALL_ENVS)}")
    return importlib.import_module(ALL_ENVS[name])


def split_task_id(task_id: str) -> tuple[str, str]:
    """'tabletop/pick' -> ('tabletop', 'pick'), validating both parts."""
    fam, sep, task = task_id.partition("/")
    if not sep or not task:
        raise KeyError(f"task id must look like '<family>/<task>', got {task_id!r}; families: {sorted(ALL_ENVS)}")
    tasks = family(fam).TASKS
    if task not in tasks:
        raise KeyError(f"unknown task {task!r} in family {fam!r}; valid tasks: {list(tasks)}")
    return fam, task


def all_tasks(families: tuple[str, ...] | None = None) -> list[str]:
    """Every registered task id, family by family."""
    return [f"{f}/{t}" for f in (families or tuple(ALL_ENVS)) for t in family(f).TASKS]


def all_suites() -> dict[str, list[str]]:
    """Every named suite as "<family>/<suite>" -> task ids."""
    out: dict[str, list[str]] = {}
    for f in ALL_ENVS:
        for name, tasks in family(f).SUITES.items():
            out[f"{f}/{name}"] = [f"{f}/{t}" for t in tasks]
    return out


def resolve_tasks(spec: str | list[str]) -> list[str]:
    """A suite name, a task id, or a list of either -> task ids; unknown names list the valid ones.

    Task ids are checked against their own family first, so naming a task never imports another family.
    """
    items = [spec] if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in items:
        fam, sep, name = item.partition("/")
        if sep and fam in ALL_ENVS:
            module = family(fam)
            if name in module.TASKS:
                out.append(item)
                continue
            if name in module.SUITES:
                out += [f"{fam}/{t}" for t in module.SUITES[name]]
                continue
            raise KeyError(f"unknown task or suite {name!r} in family {fam!r}; valid tasks: {list(module.TASKS)}; "
                           f"suites: {sorted(module.SUITES)}")
        raise KeyError(f"unknown suite or task {item!r}; suites: {sorted(all_suites())}; "
                       f"task ids look like 'tabletop/pick' (see sim.registry.all_tasks())")
    return out


def make_env(task_id: str, **kwargs):
    """Build the gymnasium env for a task id; kwargs go to the family's `make`."""
    fam, task = split_task_id(task_id)
    return family(fam).make(task, **kwargs)
