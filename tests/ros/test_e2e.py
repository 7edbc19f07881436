"""The sim graph as real processes (robot_ros.launcher, same graph as launch/sim.launch.py): the sim bridge
feeds the policy node, its commands move the simulated arm, and the recorder writes a valid dataset."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="rclpy missing: pip install 'vla-stack[ros-dev]'")
pytest.importorskip("mujoco", reason="mujoco missing: pip install 'vla-stack[sim]'")

from geometry_msgs.msg import TwistStamped  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from robot_ros import graphs, launcher  # noqa: E402
from robot_ros.policy_node import SENSOR_QOS  # noqa: E402
from ros_helpers import spin_for, spin_until  # noqa: E402

pytestmark = pytest.mark.ros


class Watcher(Node):
    def __init__(self, ctx):
        super().__init__("watcher", context=ctx)
        self.states: list[np.ndarray] = []
        self.twists: list[TwistStamped] = []
        self.status: list[str] = []
        self.create_subscription(JointState, "joint_states", lambda m: self.states.append(np.array(m.position)),
                                 SENSOR_QOS)
        self.create_subscription(TwistStamped, "vla/ee_delta", self.twists.append, 10)
        self.create_subscription(String, "recorder/status", lambda m: self.status.append(m.data), 10)
        self.control = self.create_publisher(String, "recorder/control", 10)


def test_sim_graph_moves_arm_and_records(ros_context, tmp_path):
    from vla.data import DatasetReader
    from vla.data.validate import validate

    root = tmp_path / "ds"
    procs = launcher.commands(graphs.sim_graph(), {
        "policy": "random", "cameras": "[front]", "image_size": "32", "record": "true",
        "dataset_root": str(root)}, tmp_path)
    popens = launcher.start(procs, dict(os.environ), log_dir=tmp_path)
    watcher = Watcher(ros_context)
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(watcher)
    try:
        moving = lambda: sum(abs(t.twist.linear.x) > 0 for t in watcher.twists) >= 10  # noqa: E731
        assert spin_until(ex, moving, 60.0), "no commands from policy_node: " + _logs(tmp_path)
        assert spin_until(ex, lambda: watcher.control.get_subscription_count() > 0, 20.0), _logs(tmp_path)
        watcher.control.publish(String(data="start random motion"))
        spin_for(ex, 1.5)
        watcher.control.publish(String(data="save"))
        assert spin_until(ex, lambda: any(s.startswith("saved episode 0") for s in watcher.status), 20.0), (
            watcher.status, _logs(tmp_path))
        ee = np.stack([s[:3] for s in watcher.states])  # tabletop state starts with the EE position
        assert np.linalg.norm(ee.max(0) - ee.min(0)) > 0.005, "the arm did not move"
        speeds = [abs(t.twist.linear.x) for t in watcher.twists]
        assert max(speeds) <= 0.05 * 10 + 1e-6  # policy_sim.yaml clips dx to 0.05 m per 0.1 s step
    finally:
        codes = launcher.stop(popens)
        ex.shutdown()
    assert codes == [0, 0, 0], _logs(tmp_path)
    assert validate(root).ok
    ds = DatasetReader(root)
    assert ds.meta.tasks == ["random motion"] and 8 <= ds.meta.num_frames <= 20
    actions = ds.episode_frames(0, decode_images=False)["action"]
    assert np.abs(actions[:, :3]).max() > 0 and np.abs(actions[:, :3]).max() <= 0.05 + 1e-6
    ds.close()


def _logs(tmp_path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(tmp_path.glob("*.log")))
