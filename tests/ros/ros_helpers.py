"""Helpers shared by the ROS tests: spinning until a condition, and a rig node that feeds a policy node."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64, String
from trajectory_msgs.msg import JointTrajectory

from robot_ros import convert
from robot_ros.policy_node import SENSOR_QOS


def spin_until(executor, predicate: Callable[[], bool], timeout: float) -> bool:
    """Spin `executor` until `predicate()` is true or `timeout` seconds pass; returns the predicate."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        executor.spin_once(timeout_sec=0.005)
    return predicate()


def spin_for(executor, seconds: float) -> None:
    spin_until(executor, lambda: False, seconds)


class Rig(Node):
    """Publishes what a robot would (camera, joint states, instruction, enable) and records the commands."""

    def __init__(self, context, cameras=("front",), size=(8, 8)):
        super().__init__("rig", context=context)
        self.size = size
        self.cams = {c: self.create_publisher(Image, f"camera/{c}/image_raw", SENSOR_QOS) for c in cameras}
        self.joints = self.create_publisher(JointState, "joint_states", SENSOR_QOS)
        self.instruction = self.create_publisher(String, "vla/instruction", 10)
        self.enable = self.create_publisher(Bool, "vla/enable", 10)
        self.twists: list[tuple[float, TwistStamped]] = []
        self.grippers: list[float] = []
        self.trajectories: list[JointTrajectory] = []
        self.diagnostics: list[DiagnosticArray] = []
        self.create_subscription(TwistStamped, "vla/ee_delta", lambda m: self.twists.append((time.monotonic(), m)), 100)
        self.create_subscription(Float64, "vla/gripper", lambda m: self.grippers.append(m.data), 100)
        self.create_subscription(JointTrajectory, "vla/joint_command", self.trajectories.append, 100)
        self.create_subscription(DiagnosticArray, "diagnostics", self.diagnostics.append, 100)

    def wait_connected(self, executor, timeout: float = 10.0) -> None:
        """Spin until every sensor publisher has a subscriber (discovery can take a while on a busy machine)."""
        pubs = [*self.cams.values(), self.joints]
        commands = ("vla/ee_delta", "vla/joint_command")

        def connected() -> bool:
            return (all(p.get_subscription_count() > 0 for p in pubs)
                    and any(self.count_publishers(t) > 0 for t in commands))

        assert spin_until(executor, connected, timeout), "rig and node did not discover each other"

    def stamp(self):
        return self.get_clock().now().to_msg()

    def publish_inputs(self, state=(0.1, 0.2, 0.3), image: Image | None = None) -> None:
        """One camera frame per camera and one joint state, stamped now."""
        for pub in self.cams.values():
            pub.publish(image if image is not None else convert.image_to_msg(
                np.full((*self.size, 3), 100, np.uint8), self.stamp()))
        names = [f"j{i}" for i in range(len(state))]
        self.joints.publish(convert.joint_state_to_msg(np.asarray(state), names, self.stamp()))

    def say(self, text: str) -> None:
        self.instruction.publish(String(data=text))

    def moving_twists(self) -> list[TwistStamped]:
        return [m for _, m in self.twists if abs(m.twist.linear.x) + abs(m.twist.linear.z) > 0]

    def last_status(self) -> dict[str, str]:
        status = self.diagnostics[-1].status[0]
        return {"message": status.message, "level": status.level, **{kv.key: kv.value for kv in status.values}}
