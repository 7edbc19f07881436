"""The one registry of policies: name -> factory, imported lazily (the VLA pulls in torch).

Factory contract: `make(env, task_id: str, **kwargs) -> Policy`, where `env` is the gymnasium env the
policy will act in (scripted experts read its privileged state; learned policies read its action space)
and kwargs come from the policy's config.
"""

from __future__ import annotations

import importlib
from typing import Any

from policies.base import Policy

ALL_POLICIES: dict[str, str] = {
    "scripted": "policies.scripted:make",
    "random": "policies.baselines:make_random",
    "noop": "policies.baselines:make_noop",
    "vla": "policies.vla:make",
    "saycan": "policies.saycan:make",
}


def make_policy(name: str, env: Any, task_id: str, **kwargs: Any) -> Policy:
    """Build policy `name` for `env`; an unknown name raises a KeyError listing the valid ones."""
    if name not in ALL_POLICIES:
        raise KeyError(f"unknown policy {name!r}; valid policies: {sorted(ALL_POLICIES)}")
    module, _, attr = ALL_POLICIES[name].partition(":")
    return getattr(importlib.import_module(module), attr)(env, task_id, **kwargs)
