"""Typed configs under Hydra: YAML in `conf/` selects and overrides, dataclasses hold the schema.

Every console script does `cfg = to_dataclass(dict_config, MySchema)` first thing in `main()`, so the code
below it sees a validated dataclass (its `__post_init__` raises naming the field and the bad value), never a
DictConfig. Unknown keys are an error: a typo in an override must not be silently ignored.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")

CONFIG_PATH = "pkg://vla_conf"  # conf/ installed as the package vla_conf (see setup.py)


def to_dataclass(cfg: Any, schema: type[T]) -> T:
    """Merge a Hydra/OmegaConf config (or a plain dict) onto `schema` and return a `schema` instance."""
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigKeyError, ValidationError

    if not dataclasses.is_dataclass(schema):
        raise TypeError(f"schema must be a dataclass type, got {schema!r}")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), cfg)
    except (ConfigKeyError, ValidationError) as err:
        raise ValueError(f"bad config for {schema.__name__}: {err}") from err
    return OmegaConf.to_object(merged)


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass config as a plain JSON-able dict (for config.json files and reports)."""
    return dataclasses.asdict(obj)
