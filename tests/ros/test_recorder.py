"""recorder_node in-process: live topics -> a valid LeRobot v3 dataset (saved and discarded episodes) and
one rosbag2 per saved episode."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="rclpy missing: pip install 'vla-stack[ros-dev]'")

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from std_msgs.msg import Float64, String  # noqa: E402

from robot_ros import convert  # noqa: E402
from robot_ros.recorder_node import RecorderConfig, RecorderNode  # noqa: E402
from ros_helpers import Rig, spin_for, spin_until  # noqa: E402

pytestmark = pytest.mark.ros
FPS = 20


class Teleop(Rig):
    """A rig that also sends teleop commands and recorder controls."""

    def __init__(self, ctx):
        super().__init__(ctx, cameras=("front", "wrist"), size=(16, 16))
        from geometry_msgs.msg import TwistStamped

        self.twist_pub = self.create_publisher(TwistStamped, "vla/ee_delta", 10)
        self.gripper_pub = self.create_publisher(Float64, "vla/gripper", 10)
        self.control = self.create_publisher(String, "recorder/control", 10)
        self.status: list[str] = []
        self.create_subscription(String, "recorder/status", lambda m: self.status.append(m.data), 10)

    def command(self, vx: float, gripper_open: float) -> None:
        delta = np.array([vx / FPS, 0, 0, 0, 0, 0])
        self.twist_pub.publish(convert.twist_from_action(delta, FPS, self.stamp(), "base_link"))
        self.gripper_pub.publish(Float64(data=gripper_open))


def drive(rig, ex, node, frames, vx, grip, timeout=20.0):
    """Publish inputs and commands at ~50 Hz until the episode has `frames` frames (robust to a busy CPU)."""
    end = time.monotonic() + timeout
    while node.frames < frames and time.monotonic() < end:
        rig.publish_inputs(state=(0.1, 0.2, 0.3, 0.04))
        rig.command(vx, grip)
        spin_for(ex, 0.02)
    assert node.frames >= frames, (node.frames, dict(node.health.counts))


def test_config_requires_root():
    with pytest.raises(ValueError, match="root"):
        RecorderConfig()
    with pytest.raises(ValueError, match="joint_names"):
        RecorderConfig(root="x", action_mode="joint")


def test_records_saves_discards_and_bags(ros_context, tmp_path):
    from rosbags.rosbag2 import Reader

    from vla.data import DatasetReader
    from vla.data.validate import validate

    root, bags = tmp_path / "ds", tmp_path / "bags"
    node = RecorderNode(context=ros_context, parameter_overrides=[
        Parameter("root", value=str(root)), Parameter("fps", value=FPS), Parameter("bag_dir", value=str(bags)),
        Parameter("robot_type", value="tabletop")])
    rig = Teleop(ros_context)
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(node)
    ex.add_node(rig)
    try:
        rig.wait_connected(ex)
        assert spin_until(ex, lambda: rig.control.get_subscription_count() > 0, 10.0)
        rig.say("push the cube")
        rig.control.publish(String(data="start"))
        assert spin_until(ex, lambda: node.recording, 5.0)
        drive(rig, ex, node, 10, vx=0.1, grip=0.0)
        rig.control.publish(String(data="save"))
        assert spin_until(ex, lambda: node.saved == [0], 10.0), (rig.status, dict(node.health.counts))
        rig.control.publish(String(data="start a discarded one"))
        assert spin_until(ex, lambda: node.recording, 5.0)
        drive(rig, ex, node, 5, vx=-0.1, grip=1.0)
        rig.control.publish(String(data="discard"))
        assert spin_until(ex, lambda: not node.recording, 5.0)
        rig.control.publish(String(data="start lift it"))
        assert spin_until(ex, lambda: node.recording, 5.0)
        drive(rig, ex, node, 6, vx=0.0, grip=1.0)
        rig.control.publish(String(data="bogus"))
        rig.control.publish(String(data="save"))
        assert spin_until(ex, lambda: node.saved == [0, 1], 10.0), rig.status
        assert spin_until(ex, lambda: any("unknown control" in s for s in rig.status), 5.0), rig.status
    finally:
        node.destroy_node()
        ex.shutdown()
    report = validate(root)
    assert report.ok, report.lines()
    ds = DatasetReader(root)
    assert ds.meta.fps == FPS and len(ds.meta.episodes) == 2
    assert ds.meta.tasks == ["push the cube", "lift it"]
    first = ds.episode_frames(0)
    n0 = len(first["action"])
    assert 10 <= n0 <= 12  # saved right after the 10th frame (a frame or two may land before the save)
    np.testing.assert_allclose(first["action"][-1], [0.1 / FPS, 0, 0, 0, 0, 0, -1.0], atol=1e-6)
    assert first["observation.images.front"].shape[1:] == (16, 16, 3)
    np.testing.assert_allclose(first["observation.state"][0], [0.1, 0.2, 0.3, 0.04], atol=1e-6)
    assert ds.meta.features["observation.state"]["names"] == ["j0", "j1", "j2", "j3"]
    ds.close()
    saved = sorted(p.name for p in bags.iterdir())
    assert saved == ["episode_000000", "episode_000001"]  # no temporary left, the discarded one is gone
    with Reader(bags / "episode_000000") as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        assert topics["camera/front/image_raw"] == "sensor_msgs/msg/Image"
        assert topics["vla/ee_delta"] == "geometry_msgs/msg/TwistStamped"
        assert reader.message_count > n0
