"""sim_bridge_node in-process: publishes the env's cameras and state, moves the arm on TwistStamped
commands, stops on stale commands, resets on sim/reset."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="rclpy missing: pip install 'vla-stack[ros-dev]'")
pytest.importorskip("mujoco", reason="mujoco missing: pip install 'vla-stack[sim]'")

from geometry_msgs.msg import TwistStamped  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Float64, String  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from robot_ros import convert  # noqa: E402
from robot_ros.policy_node import SENSOR_QOS  # noqa: E402
from robot_ros.sim_bridge_node import SimBridgeNode  # noqa: E402
from robot_ros.sim_commands import Command, metaworld_action, tabletop_action  # noqa: E402
from ros_helpers import spin_for, spin_until  # noqa: E402

pytestmark = pytest.mark.ros

FAMILIES = {  # task id, camera, index of the end effector's x in the state
    "tabletop": ("tabletop/pick", "front", 0),
    "metaworld": ("metaworld/reach-v3", "corner2", 0),
}


def family_available(family: str) -> bool:
    from sim.registry import family as load

    try:
        load(family)
    except ImportError:
        return False
    return True


class Driver(Node):
    def __init__(self, ctx, camera):
        super().__init__("driver", context=ctx)
        self.images: list[Image] = []
        self.states: list[JointState] = []
        self.instructions: list[str] = []
        self.create_subscription(Image, f"camera/{camera}/image_raw", self.images.append, SENSOR_QOS)
        self.create_subscription(JointState, "joint_states", self.states.append, SENSOR_QOS)
        self.create_subscription(String, "vla/instruction", lambda m: self.instructions.append(m.data), 10)
        self.twist = self.create_publisher(TwistStamped, "vla/ee_delta", 10)
        self.gripper = self.create_publisher(Float64, "vla/gripper", 10)
        self.reset = self.create_publisher(String, "sim/reset", 10)

    def push(self, vx: float) -> None:
        action = np.zeros(6)
        action[0] = vx
        self.twist.publish(convert.twist_from_action(action, 1.0, self.get_clock().now().to_msg(), "base_link"))


def test_command_adapters():
    cmd = Command(np.array([0.2, 0.0, -0.1, 0.0, 0.0, 0.5]), gripper_open=0.0)
    np.testing.assert_allclose(tabletop_action(cmd, 10.0), [0.02, 0, -0.01, 0, 0, 0.05, -1.0], atol=1e-7)
    # Meta-World: 1 unit = 1 cm per step; gripper effort +1 closes.
    np.testing.assert_allclose(metaworld_action(cmd, 80.0), [0.25, 0, -0.125, 1.0], atol=1e-6)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_bridge_publishes_and_moves_arm(ros_context, family):
    if not family_available(family):
        pytest.skip(f"env family {family} not available yet")
    task_id, camera, x_index = FAMILIES[family]
    params = [Parameter("task_id", value=task_id), Parameter("cameras", value=[camera]),
              Parameter("image_size", value=32), Parameter("command_timeout_s", value=0.2)]
    bridge = SimBridgeNode(context=ros_context, parameter_overrides=params)
    driver = Driver(ros_context, camera)
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(bridge)
    ex.add_node(driver)
    try:
        assert spin_until(ex, lambda: len(driver.states) >= 3 and driver.images and driver.instructions, 10.0)
        rgb = convert.image_from_msg(driver.images[-1])
        assert rgb.shape == (32, 32, 3) and rgb.std() > 0
        x0 = convert.state_from_joint_state(driver.states[-1])[x_index]
        n_steps = bridge.steps
        for _ in range(60 if family == "tabletop" else 200):  # push +x at 0.1 m/s
            driver.push(0.1)
            spin_for(ex, 0.01)
            if bridge.steps - n_steps >= 8:
                break
        spin_for(ex, 0.05)
        x1 = convert.state_from_joint_state(driver.states[-1])[x_index]
        assert x1 > x0 + 0.002, (x0, x1)
        # Stale command: the arm stops (the position settles).
        spin_for(ex, 0.6)
        xa = convert.state_from_joint_state(driver.states[-1])[x_index]
        spin_for(ex, 0.3)
        xb = convert.state_from_joint_state(driver.states[-1])[x_index]
        assert abs(xb - xa) < 0.003
        episode = bridge.episode
        driver.reset.publish(String(data=""))
        assert spin_until(ex, lambda: bridge.episode == episode + 1, 2.0)
    finally:
        bridge.destroy_node()
        ex.shutdown()


def test_bridge_joint_mode_tracks_trajectory_targets(ros_context):
    if not family_available("tabletop"):
        pytest.skip("env family tabletop not available yet")
    params = [Parameter("task_id", value="tabletop/pick"), Parameter("cameras", value=["front"]),
              Parameter("image_size", value=32), Parameter("control_mode", value="joint")]
    bridge = SimBridgeNode(context=ros_context, parameter_overrides=params)
    driver = Driver(ros_context, "front")
    pub = driver.create_publisher(JointTrajectory, "vla/joint_command", 10)
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(bridge)
    ex.add_node(driver)
    names = [f"joint{i}" for i in range(1, 8)]
    try:
        assert spin_until(ex, lambda: len(driver.states) >= 2 and pub.get_subscription_count() > 0, 10.0)
        q0 = convert.state_from_joint_state(driver.states[-1], names)
        target = q0.copy()
        target[0] += 0.3
        msg = convert.trajectory_from_positions(np.append(target, 1.0), names + ["gripper"],
                                                driver.get_clock().now().to_msg(), 0.1)
        pub.publish(msg)
        steps = bridge.steps
        assert spin_until(ex, lambda: bridge.steps >= steps + 10, 10.0)
        q1 = convert.state_from_joint_state(driver.states[-1], names)
        assert q1[0] - q0[0] > 0.1, (q0[0], q1[0])  # joint 1 moved towards its target
        assert np.abs(q1[1:] - q0[1:]).max() < 0.1
    finally:
        bridge.destroy_node()
        ex.shutdown()
