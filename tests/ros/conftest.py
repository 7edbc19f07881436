"""ROS test plumbing: tests marked `ros` start nodes, so they run only inside the loopback-only network
namespace that tests/ros/netns_run.sh sets up, and skip with the reason otherwise."""

from __future__ import annotations

import importlib.util
import os

import pytest


def _skip_reason() -> str | None:
    if importlib.util.find_spec("rclpy") is None:
        return "rclpy missing: pip install 'vla-stack[ros-dev]' (or source /opt/ros/<distro>/setup.bash)"
    if os.environ.get("VLA_ROS_NETNS_UNAVAILABLE"):
        return f"no loopback-only network namespace: {os.environ['VLA_ROS_NETNS_UNAVAILABLE']}"
    if os.environ.get("VLA_ROS_NETNS") != "1":
        return "starts ROS nodes: run through tests/ros/netns_run.sh (loopback-only network namespace)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _skip_reason()
    if reason is None:
        return
    for item in items:
        if item.get_closest_marker("ros") is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def ros_context():
    """A fresh rclpy context for one test (nodes made with context=ros_context)."""
    import rclpy
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)

