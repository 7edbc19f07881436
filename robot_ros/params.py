"""ROS parameters from a typed dataclass: each node declares exactly its config's fields.

A node's config is a dataclass that validates itself in `__post_init__` (STYLE.md); `declare_config`
declares one ROS parameter per field (default = the field's default), reads what the launch file or
command line set, coerces it to the field's type and builds the dataclass. The launch-graph tests use
`parameter_names(schema)` to check that every parameter a launch file passes is one the node declares.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

T = TypeVar("T")

SCALARS = (str, int, float, bool)


def parameter_names(schema: type) -> list[str]:
    """The ROS parameter names a node with config `schema` declares."""
    return [f.name for f in dataclasses.fields(schema)]


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Turn a ROS parameter value into the field's Python type; raise ValueError naming the field."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        elem = typing.get_args(hint)[0]
        if not isinstance(value, (list, tuple)) and not hasattr(value, "__len__"):
            raise ValueError(f"parameter {name!r} must be a list of {elem.__name__}, got {value!r}")
        return tuple(_coerce(name, v, elem) for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"parameter {name!r} must be true or false, got {value!r}")
        return value
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    raise ValueError(f"parameter {name!r} must be {getattr(hint, '__name__', hint)}, got {value!r}")


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    raise TypeError(f"config field {field.name!r} needs a default to become a ROS parameter")


def declare_config(node: Any, schema: type[T]) -> T:
    """Declare every field of `schema` as a parameter of `node` and return the validated config.

    Parameters are dynamically typed so `-p rate:=10` fills a float field; an unset list
    (`-p cameras:=[]`) falls back to the field's default only when that default is empty too.
    """
    from rcl_interfaces.msg import ParameterDescriptor

    hints = typing.get_type_hints(schema)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(schema):
        default = _default(f)
        ros_default = list(default) if isinstance(default, tuple) else default
        desc = ParameterDescriptor(dynamic_typing=True, description=f"{schema.__name__}.{f.name}")
        value = node.declare_parameter(f.name, ros_default, desc).value
        if value is None:  # `-p name:=[]` arrives as NOT_SET
            value = [] if isinstance(default, tuple) else default
        values[f.name] = _coerce(f.name, value, hints[f.name])
    return schema(**values)
