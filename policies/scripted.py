"""The `scripted` policy: the env family's own privileged expert (Meta-World's bundled policies,
the tabletop's scripted skills), looked up through the family module of `sim.registry`."""

from __future__ import annotations

from typing import Any

from policies.base import Policy
from sim.registry import family, split_task_id


def make(env: Any, task_id: str, **kw: Any) -> Policy:
    """The expert of `task_id`'s family for `env`; extra kwargs go to the family's `make_expert`."""
    fam, _ = split_task_id(task_id)
    return family(fam).make_expert(env, **kw)
