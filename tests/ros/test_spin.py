"""robot_ros.spin: the executor choice, and a node process that stops cleanly on SIGINT/SIGTERM with either
executor (the EventsExecutor's C++ spin would otherwise never let the signal handler run)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("rclpy", reason="rclpy missing: pip install 'vla-stack[ros-dev]'")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402

from robot_ros.spin import EXECUTOR_ENV, make_executor  # noqa: E402
from ros_helpers import spin_until  # noqa: E402

pytestmark = pytest.mark.ros
REPO = Path(__file__).resolve().parents[2]


def test_make_executor_kinds(ros_context, monkeypatch):
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    assert isinstance(make_executor(ros_context, "single"), SingleThreadedExecutor)
    default = make_executor(ros_context)
    try:
        from rclpy.experimental import EventsExecutor  # noqa: F401
    except ImportError:  # an rclpy without it falls back
        assert isinstance(default, SingleThreadedExecutor)
    else:
        assert not isinstance(default, SingleThreadedExecutor) and hasattr(default, "spin_once")
    monkeypatch.setenv(EXECUTOR_ENV, "single")
    assert isinstance(make_executor(ros_context), SingleThreadedExecutor)
    monkeypatch.setenv(EXECUTOR_ENV, "multi")
    with pytest.raises(ValueError, match="'multi'"):
        make_executor(ros_context)


@pytest.mark.parametrize("kind,sig", [("events", signal.SIGINT), ("events", signal.SIGTERM),
                                      ("single", signal.SIGINT)])
def test_node_process_stops_on_signal_and_saves(ros_context, tmp_path, kind, sig):
    log = tmp_path / "timings.json"
    argv = [sys.executable, "-m", "robot_ros.policy_node", "--ros-args", "-p", "policy:=noop",
            "-p", "diagnostics_period_s:=0.2", "-p", f"timing_log:={log}", "--log-level", "warn"]
    proc = subprocess.Popen(argv, cwd=REPO, env={**os.environ, EXECUTOR_ENV: kind},
                            start_new_session=True)
    watcher = Node("watcher", context=ros_context)
    seen: list[DiagnosticArray] = []
    watcher.create_subscription(DiagnosticArray, "diagnostics", seen.append, 10)
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(watcher)
    try:
        assert spin_until(ex, lambda: len(seen) >= 2, 30.0), "policy_node never published diagnostics"
        t0 = time.monotonic()
        proc.send_signal(sig)
        assert proc.wait(timeout=5.0) == 0
        assert time.monotonic() - t0 < 2.0  # one SIGNAL_POLL_S slice plus shutdown, not a kill timeout
        saved = json.loads(log.read_text())
        assert saved["timings"] == [] and "state" in saved["health"]  # destroy_node ran with ROS still up
    finally:
        if proc.poll() is None:
            proc.kill()
        watcher.destroy_node()
