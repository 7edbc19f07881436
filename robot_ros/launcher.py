"""Start a launch graph (robot_ros.graphs) as plain processes, for machines without the `launch` package.

On a ROS install, `ros2 launch robot_ros sim.launch.py` is the way; in the pip venv (tests, CI, laptops)
this starts the same graph with the same parameters:

    python -m robot_ros.launcher sim policy:=noop task_id:=tabletop/pick
    python -m robot_ros.launcher record dataset_root:=outputs/teleop use_sim:=true
    python -m robot_ros.launcher robot --print        # show the commands only

Each node gets its parameters as a YAML file (`--params-file`, after the graph's own params file) and its
remappings as `-r from:=to`; Ctrl-C stops every node (SIGINT, then SIGKILL after a grace period).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from robot_ros.graphs import EXECUTABLES, Arg, Graph, NodeSpec, graph, params_file_path

TRUE = ("true", "1", "yes", "on")


@dataclass(frozen=True)
class Process:
    name: str
    argv: list[str]


def resolve_args(g: Graph, overrides: dict[str, str]) -> dict[str, str]:
    """Launch argument values: defaults, then `overrides`; unknown names list the valid ones."""
    known = {a.name: a.default for a in g.args}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise KeyError(f"unknown launch arguments {unknown} for graph {g.name!r}; valid: {sorted(known)}")
    return {**known, **overrides}


def _value(v: Any, values: dict[str, str]) -> Any:
    """A parameter value with Arg references replaced, parsed as YAML like launch_ros does."""
    if isinstance(v, Arg):
        raw = values[v.name]
        parsed = yaml.safe_load(raw) if raw != "" else ""
        return "" if parsed is None else parsed
    return v


def node_parameters(spec: NodeSpec, values: dict[str, str]) -> dict[str, Any]:
    return {k: _value(v, values) for k, v in spec.parameters.items()}


def node_remappings(spec: NodeSpec, values: dict[str, str]) -> list[tuple[str, str]]:
    return [(src, str(_value(dst, values))) for src, dst in spec.remappings]


def enabled(spec: NodeSpec, values: dict[str, str]) -> bool:
    return spec.condition is None or values[spec.condition].strip().lower() in TRUE


def commands(g: Graph, overrides: dict[str, str], workdir: Path) -> list[Process]:
    """The process command lines for graph `g` (parameter YAMLs are written into `workdir`)."""
    values = resolve_args(g, overrides)
    out = []
    for spec in g.nodes:
        if not enabled(spec, values):
            continue
        argv = [sys.executable, "-m", EXECUTABLES[spec.executable], "--ros-args", "-r", f"__node:={spec.name}"]
        base = params_file_path(spec, values)
        if base is not None:
            argv += ["--params-file", str(base)]
        params = node_parameters(spec, values)
        if params:
            path = workdir / f"{spec.name}.params.yaml"
            path.write_text(yaml.safe_dump({spec.name: {"ros__parameters": params}}))
            argv += ["--params-file", str(path)]
        for src, dst in node_remappings(spec, values):
            argv += ["-r", f"{src}:={dst}"]
        out.append(Process(spec.name, argv))
    return out


def start(processes: list[Process], env: dict[str, str] | None = None,
          log_dir: Path | None = None) -> list[subprocess.Popen]:
    """Start each process in its own session; with `log_dir`, its output goes to `<log_dir>/<name>.log`."""
    popens = []
    for p in processes:
        out = open(log_dir / f"{p.name}.log", "wb") if log_dir is not None else None
        try:
            popens.append(subprocess.Popen(p.argv, env=env, start_new_session=True, stdout=out,
                                           stderr=subprocess.STDOUT if out else None))
        finally:
            if out is not None:
                out.close()  # the child holds its own descriptor
    return popens


def stop(popens: list[subprocess.Popen], grace_s: float = 5.0) -> list[int]:
    """SIGINT every process (nodes then publish their final stop and save), SIGKILL what remains."""
    for p in popens:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace_s
    for p in popens:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return [p.returncode for p in popens]


def _parse(argv: list[str] | None) -> tuple[argparse.Namespace, dict[str, str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("graph", help="sim, robot or record")
    parser.add_argument("args", nargs="*", help="launch arguments as name:=value")
    parser.add_argument("--print", action="store_true", help="print the commands and exit")
    ns = parser.parse_args(argv)
    overrides = {}
    for item in ns.args:
        name, sep, value = item.partition(":=")
        if not sep:
            parser.error(f"launch arguments look like name:=value, got {item!r}")
        overrides[name] = value
    return ns, overrides


def main(argv: list[str] | None = None) -> int:
    ns, overrides = _parse(argv)
    g = graph(ns.graph)
    with tempfile.TemporaryDirectory(prefix=f"robot_ros_{g.name}_") as tmp:
        procs = commands(g, overrides, Path(tmp))
        if ns.print:
            for p in procs:
                print(" ".join(p.argv))
            return 0
        popens = start(procs, dict(os.environ))
        try:
            while all(p.poll() is None for p in popens):
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        codes = stop(popens)
    return max((c for c in codes if c is not None), default=0)


if __name__ == "__main__":
    sys.exit(main())
