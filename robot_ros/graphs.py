"""The launch graphs as plain data: which nodes, with which parameters, remappings and arguments.

The ROS 2 launch files in `launch/` turn these descriptions into `launch_ros` actions (imported lazily
inside their `generate_launch_description`), `robot_ros.launcher` starts them as processes without the
`launch` package, and the tests check them against the nodes (executables exist, parameters are declared,
remapped topics are used). One description, three readers: they cannot drift apart.

A parameter or remapping value may be `Arg("name")`: the launch argument's value at launch time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).resolve().parent / "config"  # installed as package data and under share/robot_ros

# Console entries of the ament package (robot_ros/setup.cfg) -> module with `main()`.
EXECUTABLES: dict[str, str] = {
    "policy_node": "robot_ros.policy_node",
    "sim_bridge_node": "robot_ros.sim_bridge_node",
    "recorder_node": "robot_ros.recorder_node",
    "planner_node": "robot_ros.planner_node",
}


@dataclass(frozen=True)
class Arg:
    """A reference to a launch argument."""

    name: str


@dataclass(frozen=True)
class LaunchArg:
    name: str
    default: str
    description: str


@dataclass(frozen=True)
class NodeSpec:
    """One node of a graph; `params_file` is a file in CONFIG_DIR, applied before `parameters`."""

    executable: str
    name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, Any], ...] = ()
    params_file: Any = None  # str file name in CONFIG_DIR, or Arg(...) holding a path
    condition: str | None = None  # launch argument that must be true for the node to start


@dataclass(frozen=True)
class Graph:
    name: str
    description: str
    args: tuple[LaunchArg, ...]
    nodes: tuple[NodeSpec, ...]

    def node(self, name: str) -> NodeSpec:
        return next(n for n in self.nodes if n.name == name)


def _policy_args(policy: str, dry_run: str, enabled: str) -> tuple[LaunchArg, ...]:
    return (
        LaunchArg("policy", policy, "policy name in policies.registry (vla, noop, random, ...)"),
        LaunchArg("checkpoint", "", "checkpoint directory for policy:=vla"),
        LaunchArg("dry_run", dry_run, "compute and log commands but publish none"),
        LaunchArg("start_enabled", enabled, "move without waiting for vla/enable true"),
        LaunchArg("control_rate_hz", "10.0", "policy control rate"),
    )


def _policy_params(cameras: Any) -> dict[str, Any]:
    return {"policy": Arg("policy"), "checkpoint": Arg("checkpoint"), "dry_run": Arg("dry_run"),
            "start_enabled": Arg("start_enabled"), "control_rate_hz": Arg("control_rate_hz"), "cameras": cameras}


def _planner(enabled_by: str, remappings: tuple = ()) -> tuple[tuple[LaunchArg, ...], NodeSpec]:
    args = (LaunchArg(enabled_by, "false" if enabled_by == "use_planner" else "true",
                      "run the SayCan planner (vla/command -> vla/instruction steps)"),
            LaunchArg("blocks", "[red block, blue block, yellow block]", "planner scene: block names"),
            LaunchArg("bowls", "[green bowl]", "planner scene: bowl names"),
            LaunchArg("step_timeout_s", "60.0", "a step without a verdict on vla/step_result fails after this"))
    node = NodeSpec("planner_node", "planner_node", {
        "blocks": Arg("blocks"), "bowls": Arg("bowls"), "step_timeout_s": Arg("step_timeout_s")},
        remappings=remappings, condition=enabled_by)
    return args, node


def sim_graph() -> Graph:
    """Sim bridge + policy (+ recorder): the whole loop on one machine, no robot."""
    args = (LaunchArg("task_id", "tabletop/pick", "sim task id"),
            LaunchArg("seed", "0", "first episode seed"),
            LaunchArg("cameras", "[front, wrist]", "cameras the sim renders and the policy reads"),
            LaunchArg("image_size", "128", "rendered image side (px)"),
            *_policy_args("noop", "false", "true"),
            LaunchArg("record", "false", "also run the recorder"),
            LaunchArg("dataset_root", "outputs/ros_sim_dataset", "recorder dataset directory"))
    planner_args, planner = _planner("use_planner")
    args += planner_args
    bridge = NodeSpec("sim_bridge_node", "sim_bridge_node", {
        "task_id": Arg("task_id"), "seed": Arg("seed"), "cameras": Arg("cameras"), "image_size": Arg("image_size")})
    policy = NodeSpec("policy_node", "policy_node", {**_policy_params(Arg("cameras")), "task_id": Arg("task_id")},
                      params_file="policy_sim.yaml")
    recorder = NodeSpec("recorder_node", "recorder_node", {
        "root": Arg("dataset_root"), "cameras": Arg("cameras"), "fps": 10, "robot_type": "tabletop"},
        condition="record")
    return Graph("sim", "tabletop/Meta-World sim bridge driven by a policy", args, (bridge, policy, recorder, planner))


TOPIC_ARGS = (  # robot.launch.py: each default topic can be pointed at the robot's own
    ("camera/front/image_raw", "front_camera_topic", "camera/front/image_raw"),
    ("camera/wrist/image_raw", "wrist_camera_topic", "camera/wrist/image_raw"),
    ("joint_states", "joint_states_topic", "joint_states"),
    ("vla/instruction", "instruction_topic", "vla/instruction"),
    ("vla/enable", "enable_topic", "vla/enable"),
    ("vla/ee_delta", "ee_delta_topic", "servo_node/delta_twist_cmds"),
    ("vla/gripper", "gripper_topic", "vla/gripper"),
    ("vla/joint_command", "joint_command_topic", "joint_trajectory_controller/joint_trajectory"),
)
PLANNER_TOPIC_ARGS = (
    ("vla/command", "command_topic", "vla/command"),
    ("vla/step_result", "step_result_topic", "vla/step_result"),
)


def robot_graph() -> Graph:
    """The policy on a real robot: remappable topics, limits from a params YAML, dry_run on by default."""
    args = (*_policy_args("vla", "true", "false"),
            LaunchArg("params_file", str(CONFIG_DIR / "policy_robot.yaml"), "policy_node parameters (safety limits)"),
            LaunchArg("cameras", "[front, wrist]", "camera names the policy reads"),
            *(LaunchArg(arg, default, f"topic for {topic}") for topic, arg, default in TOPIC_ARGS))
    policy = NodeSpec("policy_node", "policy_node", _policy_params(Arg("cameras")),
                      remappings=tuple((topic, Arg(arg)) for topic, arg, _ in TOPIC_ARGS),
                      params_file=Arg("params_file"))
    planner_args, planner = _planner("with_planner", remappings=(
        ("vla/instruction", Arg("instruction_topic")),
        *((topic, Arg(arg)) for topic, arg, _ in PLANNER_TOPIC_ARGS)))
    args += planner_args + tuple(LaunchArg(arg, default, f"topic for {topic}")
                                 for topic, arg, default in PLANNER_TOPIC_ARGS)
    return Graph("robot", "the VLA policy (+ SayCan planner) on a robot, dry run until told otherwise", args,
                 (policy, planner))


def record_graph() -> Graph:
    """Teleoperation recording: the recorder, and the sim bridge when use_sim is true."""
    args = (LaunchArg("dataset_root", "outputs/teleop_dataset", "dataset directory (created or appended)"),
            LaunchArg("fps", "10", "frames per second"),
            LaunchArg("cameras", "[front, wrist]", "cameras to record"),
            LaunchArg("bag_dir", "", "also write one rosbag2 per saved episode here"),
            LaunchArg("robot_type", "tabletop", "robot_type in the dataset's info.json"),
            LaunchArg("use_sim", "false", "start the sim bridge as the robot"),
            LaunchArg("task_id", "tabletop/pick", "sim task id when use_sim is true"))
    recorder = NodeSpec("recorder_node", "recorder_node", {
        "root": Arg("dataset_root"), "fps": Arg("fps"), "cameras": Arg("cameras"), "bag_dir": Arg("bag_dir"),
        "robot_type": Arg("robot_type")})
    bridge = NodeSpec("sim_bridge_node", "sim_bridge_node", {"task_id": Arg("task_id"), "cameras": Arg("cameras")},
                      condition="use_sim")
    return Graph("record", "record teleoperation into a LeRobot v3 dataset", args, (recorder, bridge))


GRAPHS = {"sim": sim_graph, "robot": robot_graph, "record": record_graph}


def graph(name: str) -> Graph:
    """The graph called `name`; unknown names list the valid ones."""
    if name not in GRAPHS:
        raise KeyError(f"unknown launch graph {name!r}; valid: {sorted(GRAPHS)}")
    return GRAPHS[name]()


def params_file_path(spec: NodeSpec, values: dict[str, str]) -> Path | None:
    """The node's parameter file as a path (an Arg is looked up in `values`), or None."""
    if spec.params_file is None:
        return None
    if isinstance(spec.params_file, Arg):
        raw = values[spec.params_file.name]
        return Path(raw) if raw else None
    return CONFIG_DIR / spec.params_file


# executable -> "module:Class" of its typed config (imported lazily: two of them live in rclpy modules).
SCHEMAS: dict[str, str] = {
    "policy_node": "robot_ros.policy_config:PolicyNodeConfig",
    "sim_bridge_node": "robot_ros.sim_bridge_node:SimBridgeConfig",
    "recorder_node": "robot_ros.recorder_node:RecorderConfig",
    "planner_node": "robot_ros.planner_node:PlannerNodeConfig",
}


def schema(executable: str) -> type:
    """The config dataclass whose fields are `executable`'s ROS parameters."""
    import importlib

    module, _, cls = SCHEMAS[executable].partition(":")
    return getattr(importlib.import_module(module), cls)
