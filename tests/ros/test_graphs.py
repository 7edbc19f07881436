"""The launch graphs against the nodes and the ament package: executables exist, every parameter a launch
file passes is declared, every remapping names a topic the node uses, and the launch files build exactly
the graphs (checked with a recording stand-in for launch / launch_ros, which the venv does not have)."""

from __future__ import annotations

import configparser
import importlib
import importlib.util
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

pytest.importorskip("rclpy", reason="rclpy missing: pip install 'vla-stack[ros-dev]'")

from robot_ros import graphs, launcher  # noqa: E402
from robot_ros.params import parameter_names  # noqa: E402

PKG = Path(graphs.__file__).resolve().parent
REPO = PKG.parent
ALL = [graphs.graph(n) for n in sorted(graphs.GRAPHS)]
NODES = [(g, n) for g in ALL for n in g.nodes]
IDS = [f"{g.name}:{n.name}" for g, n in NODES]


def console_scripts() -> dict[str, str]:
    cfg = configparser.ConfigParser()
    cfg.read(PKG / "setup.cfg")
    lines = [ln.strip() for ln in cfg["options.entry_points"]["console_scripts"].splitlines() if ln.strip()]
    return dict((part.strip() for part in ln.split("=", 1)) for ln in lines)


def defaults(g) -> dict[str, str]:
    return launcher.resolve_args(g, {})


def file_params(g, spec) -> dict:
    path = graphs.params_file_path(spec, defaults(g))
    if path is None:
        return {}
    data = yaml.safe_load(path.read_text())
    assert list(data) == [spec.name], f"{path} must hold parameters for node {spec.name!r} only"
    return data[spec.name]["ros__parameters"]


def test_ament_package_files():
    root = ET.parse(PKG / "package.xml").getroot()
    assert root.get("format") == "3" and root.findtext("name") == "robot_ros"
    assert root.find("export/build_type").text == "ament_python"
    assert (PKG / "resource" / "robot_ros").is_file()
    assert sorted(p.name for p in (REPO / "launch").glob("*.launch.py")) == [
        "record.launch.py", "robot.launch.py", "sim.launch.py"]
    cfg = configparser.ConfigParser()
    cfg.read(PKG / "setup.cfg")
    assert cfg["install"]["install_scripts"] == "$base/lib/robot_ros"


def test_every_executable_is_a_console_entry_with_main():
    scripts = console_scripts()
    assert set(scripts) == set(graphs.EXECUTABLES)
    for exe, target in scripts.items():
        module, _, func = target.partition(":")
        assert module == graphs.EXECUTABLES[exe] and func == "main"
        assert callable(getattr(importlib.import_module(module), "main"))


@pytest.mark.parametrize("g, spec", NODES, ids=IDS)
def test_parameters_are_declared_and_args_exist(g, spec):
    declared = set(parameter_names(graphs.schema(spec.executable)))
    passed = set(spec.parameters) | set(file_params(g, spec))
    assert passed <= declared, f"{spec.name} does not declare {sorted(passed - declared)}"
    arg_names = {a.name for a in g.args}
    refs = [v for v in spec.parameters.values() if isinstance(v, graphs.Arg)]
    refs += [dst for _, dst in spec.remappings if isinstance(dst, graphs.Arg)]
    refs += [spec.params_file] if isinstance(spec.params_file, graphs.Arg) else []
    assert {r.name for r in refs} <= arg_names
    assert spec.condition is None or spec.condition in arg_names


@pytest.mark.parametrize("g, spec", NODES, ids=IDS)
def test_remappings_name_topics_the_node_uses(g, spec):
    module = importlib.import_module(graphs.EXECUTABLES[spec.executable])
    cameras = ["front", "wrist"]
    used = {t.format(camera=c) for group in module.TOPICS.values() for t in group for c in cameras}
    for src, _ in spec.remappings:
        assert src in used, f"{spec.name} remaps {src!r}, which it does not use ({sorted(used)})"


@pytest.mark.parametrize("g, spec", NODES, ids=IDS)
def test_default_parameters_build_a_valid_config(g, spec):
    params = {**file_params(g, spec), **launcher.node_parameters(spec, defaults(g))}
    if spec.executable == "policy_node" and params.get("policy") == "vla":
        params["checkpoint"] = "/path/to/checkpoint"  # robot.launch.py requires the user's checkpoint
    schema = graphs.schema(spec.executable)
    config = schema(**{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()})
    assert config is not None


def test_robot_graph_is_safe_by_default():
    g = graphs.robot_graph()
    values = defaults(g)
    params = launcher.node_parameters(g.node("policy_node"), values)
    assert params["dry_run"] is True and params["start_enabled"] is False
    limits = file_params(g, g.node("policy_node"))
    assert limits["max_velocity"] and limits["max_acceleration"] and limits["workspace_low"]
    remaps = dict(launcher.node_remappings(g.node("policy_node"), values))
    assert remaps["vla/ee_delta"] == "servo_node/delta_twist_cmds"


def test_launcher_commands(tmp_path):
    g = graphs.sim_graph()
    procs = launcher.commands(g, {"policy": "random", "record": "false"}, tmp_path)
    assert [p.name for p in procs] == ["sim_bridge_node", "policy_node"]  # recorder only with record:=true
    argv = procs[1].argv
    assert argv[1:3] == ["-m", "robot_ros.policy_node"] and "__node:=policy_node" in argv
    written = yaml.safe_load((tmp_path / "policy_node.params.yaml").read_text())
    assert written["policy_node"]["ros__parameters"]["policy"] == "random"
    assert written["policy_node"]["ros__parameters"]["cameras"] == ["front", "wrist"]
    with_recorder = launcher.commands(g, {"record": "true"}, tmp_path)
    assert [p.name for p in with_recorder][-1] == "recorder_node"
    with pytest.raises(KeyError, match="valid"):
        launcher.commands(g, {"polcy": "x"}, tmp_path)


class _Recorded:
    """Stands in for a launch / launch_ros class: remembers its constructor arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def _fake_launch_modules(monkeypatch):
    names = {"launch": ["LaunchDescription"], "launch.actions": ["DeclareLaunchArgument"],
             "launch.conditions": ["IfCondition"], "launch.substitutions": ["LaunchConfiguration"],
             "launch_ros": [], "launch_ros.actions": ["Node"], "launch_ros.parameter_descriptions": ["ParameterValue"]}
    for mod, classes in names.items():
        fake = types.ModuleType(mod)
        for cls in classes:
            setattr(fake, cls, type(cls, (_Recorded,), {}))
        monkeypatch.setitem(sys.modules, mod, fake)


@pytest.mark.parametrize("name", sorted(graphs.GRAPHS))
def test_launch_files_build_the_graph(monkeypatch, name):
    _fake_launch_modules(monkeypatch)
    spec = importlib.util.spec_from_file_location(f"{name}_launch", REPO / "launch" / f"{name}.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    actions = description.args[0]
    g = graphs.graph(name)
    declared = [a.args[0] for a in actions if type(a).__name__ == "DeclareLaunchArgument"]
    assert declared == [a.name for a in g.args]
    nodes = [a.kwargs for a in actions if type(a).__name__ == "Node"]
    assert [(n["package"], n["executable"], n["name"]) for n in nodes] == [
        ("robot_ros", s.executable, s.name) for s in g.nodes]
    for node, s in zip(nodes, g.nodes):
        assert set(node["parameters"][-1]) == set(s.parameters)
        assert [src for src, _ in node["remappings"]] == [src for src, _ in s.remappings]
        assert (node["condition"] is None) == (s.condition is None)
