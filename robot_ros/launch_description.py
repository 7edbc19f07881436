"""Turn a `robot_ros.graphs.Graph` into a ROS 2 `LaunchDescription` (launch / launch_ros from a ROS install).

The launch files in `launch/` are one call each to `build(name)`; `launch` and `launch_ros` are imported
here, inside the function, because the pip venv has neither (the PyPI package named `launch` is unrelated).
"""

from __future__ import annotations

import typing
from typing import Any

from robot_ros.graphs import Arg, graph, params_file_path, schema


def build(name: str):
    """The LaunchDescription for graph `name`: its arguments declared, then one Node action per node."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument
    from launch.conditions import IfCondition
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node
    from launch_ros.parameter_descriptions import ParameterValue

    g = graph(name)
    actions: list[Any] = [DeclareLaunchArgument(a.name, default_value=a.default, description=a.description)
                          for a in g.args]
    for spec in g.nodes:
        hints = typing.get_type_hints(schema(spec.executable))

        def sub(value: Any, key: str | None = None) -> Any:
            if not isinstance(value, Arg):
                return value
            config = LaunchConfiguration(value.name)
            # String parameters must stay strings ("" or "1.0" would otherwise be YAML-parsed).
            return ParameterValue(config, value_type=str) if key and hints.get(key) is str else config

        params: list[Any] = []
        if isinstance(spec.params_file, Arg):
            params.append(LaunchConfiguration(spec.params_file.name))
        elif spec.params_file is not None:
            params.append(str(params_file_path(spec, {})))
        params.append({k: sub(v, k) for k, v in spec.parameters.items()})
        actions.append(Node(
            package="robot_ros", executable=spec.executable, name=spec.name, output="screen",
            parameters=params, remappings=[(src, sub(dst)) for src, dst in spec.remappings],
            condition=IfCondition(LaunchConfiguration(spec.condition)) if spec.condition else None))
    return LaunchDescription(actions)
