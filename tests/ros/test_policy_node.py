"""policy_node in-process over real rclpy (SingleThreadedExecutor): commands, watchdog, enable, dry run,
bad inputs, model errors, joint mode, diagnostics."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="rclpy missing: pip install 'vla-stack[ros-dev]'")

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Bool, String  # noqa: E402

from robot_ros import convert  # noqa: E402
from robot_ros.policy_node import PolicyNode  # noqa: E402
from ros_helpers import Rig, spin_for, spin_until  # noqa: E402

pytestmark = pytest.mark.ros

RATE = 50.0
ACTION = np.array([0.01, 0.0, -0.02, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)


class ConstantPolicy:
    """Returns the same 2-step chunk every call; counts calls and remembers instructions."""

    def __init__(self, action=ACTION):
        self.action, self.calls, self.instructions = action, 0, []

    def reset(self, instruction: str) -> None:
        self.instructions.append(instruction)

    def predict_action_chunk(self, obs: dict) -> np.ndarray:
        assert obs["images"]["front"].shape == (8, 8, 3) and obs["state"].dtype == np.float32
        self.calls += 1
        return np.stack([self.action, self.action])


class FailingPolicy(ConstantPolicy):
    def predict_action_chunk(self, obs: dict) -> np.ndarray:
        self.calls += 1
        raise RuntimeError("CUDA out of memory (simulated)")


def make(ctx, policy, **params):
    overrides = [Parameter(k, value=v) for k, v in {"control_rate_hz": RATE, "image_timeout_s": 0.2,
                                                    "state_timeout_s": 0.2, "diagnostics_period_s": 0.1,
                                                    **params}.items()]
    node = PolicyNode(policy, context=ctx, parameter_overrides=overrides)
    rig = Rig(ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    ex.add_node(rig)
    rig.wait_connected(ex)
    return node, rig, ex


def feed(rig, ex, seconds, **kw):
    """Publish inputs at ~50 Hz for `seconds` while spinning."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rig.publish_inputs(**kw)
        spin_for(ex, 0.02)


def close(node, ex):
    node.destroy_node()
    ex.shutdown()


def test_commands_follow_policy_with_twist_and_gripper_conventions(ros_context):
    policy = ConstantPolicy()
    node, rig, ex = make(ros_context, policy, instruction="pick the cube")
    feed(rig, ex, 0.6)
    try:
        moving = rig.moving_twists()
        assert len(moving) >= 5
        assert moving[-1].twist.linear.x == pytest.approx(0.01 * RATE)
        assert moving[-1].twist.linear.z == pytest.approx(-0.02 * RATE)
        assert moving[-1].header.frame_id == "base_link"
        assert rig.grippers and rig.grippers[-1] == pytest.approx(1.0)
        assert policy.instructions[0] == "pick the cube"
        assert policy.calls <= len(moving) // 2 + 2  # 2-step chunks: one inference per two commands
        rig.say("open the drawer")
        feed(rig, ex, 0.2)
        assert policy.instructions[-1] == "open the drawer"
        status = rig.last_status()
        assert status["message"] == "running" and float(status["rate_hz/camera/front"]) > 5
        assert float(status["inference_ms/p50"]) >= 0 and float(status["ros_overhead_ms/p99"]) < 50
    finally:
        close(node, ex)


def test_watchdog_stops_when_images_stop(ros_context):
    node, rig, ex = make(ros_context, ConstantPolicy(), instruction="go")
    feed(rig, ex, 0.4)
    try:
        assert rig.moving_twists()
        t_last = time.monotonic()
        n_before = len(rig.twists)
        assert spin_until(ex, lambda: any(m.twist.linear.x == 0 for _, m in rig.twists[n_before:]), 2.0)
        t_stop = next(t for t, m in rig.twists[n_before:] if m.twist.linear.x == 0)
        # timeout 0.2 s + at most 2 control periods (and a little for the test's own spinning)
        assert t_stop - t_last < 0.2 + 2 / RATE + 0.05
        spin_for(ex, 0.2)
        after = [m for t, m in rig.twists if t > t_stop]
        assert all(m.twist.linear.x == 0 for m in after)
        assert "stale" in node.health.state
        feed(rig, ex, 0.3)  # inputs are back: motion resumes
        assert rig.moving_twists()[-1].header.stamp.sec > 0 and not node._halted
    finally:
        close(node, ex)


def test_enable_false_stops_at_once_and_true_resumes(ros_context):
    node, rig, ex = make(ros_context, ConstantPolicy(), instruction="go", start_enabled=False)
    feed(rig, ex, 0.3)
    try:
        assert not rig.moving_twists()
        assert "disabled" in node.health.state
        rig.enable.publish(Bool(data=True))
        feed(rig, ex, 0.3)
        assert rig.moving_twists()
        rig.enable.publish(Bool(data=False))
        t_off = time.monotonic()
        n = len(rig.twists)
        assert spin_until(ex, lambda: any(m.twist.linear.x == 0 for _, m in rig.twists[n:]), 1.0)
        assert next(t for t, m in rig.twists[n:] if m.twist.linear.x == 0) - t_off < 1 / RATE
        feed(rig, ex, 0.3)
        later = [m for t, m in rig.twists if t > t_off + 1 / RATE]
        assert all(m.twist.linear.x == 0 for m in later)
    finally:
        close(node, ex)


def test_dry_run_computes_but_commands_nothing(ros_context):
    policy = ConstantPolicy()
    node, rig, ex = make(ros_context, policy, instruction="go", dry_run=True)
    feed(rig, ex, 0.4)
    try:
        assert policy.calls > 0 and node.last_command is not None
        assert not rig.twists and not rig.grippers
        assert rig.last_status()["message"].startswith("dry run")
    finally:
        close(node, ex)


def bad_inputs(rig) -> list:
    stamp = rig.stamp()
    return [
        ("image", Image(height=8, width=8, encoding="yuv422", step=16, data=bytes(128))),
        ("image", Image(height=8, width=8, encoding="rgb8", step=20, data=bytes(160))),
        ("image", Image(height=8, width=8, encoding="rgb8", step=24, data=bytes(100))),
        ("image", Image(height=0, width=0, encoding="rgb8", step=0, data=b"")),
        ("joints", JointState(name=["a"], position=[float("nan")])),
        ("instruction", String(data="")),
        ("instruction", String(data="x" * 10_000)),
        ("joints", convert.joint_state_to_msg(np.zeros(3), ["a", "b", "c"], stamp)),
    ]


def test_bad_inputs_are_dropped_and_counted_never_moving(ros_context):
    node, rig, ex = make(ros_context, ConstantPolicy())
    try:
        for _ in range(3):
            for kind, msg in bad_inputs(rig):
                pub = {"image": rig.cams["front"], "joints": rig.joints, "instruction": rig.instruction}[kind]
                pub.publish(msg)
                spin_for(ex, 0.01)
        spin_for(ex, 0.2)
        drops = node.health.drops
        for kind in ("image_encoding", "image_step", "image_length", "image_size", "joint_state_nan",
                     "instruction_empty", "instruction_long"):
            assert drops[kind] >= 1, (kind, dict(drops))
        assert not rig.moving_twists()
        # Out-of-order stamps: a frame older than the last one is dropped.
        old = convert.image_to_msg(np.zeros((8, 8, 3), np.uint8), convert.sec_to_stamp(1.0))
        rig.publish_inputs()
        spin_for(ex, 0.05)
        rig.cams["front"].publish(old)
        spin_for(ex, 0.05)
        assert drops["out_of_order"] >= 1
        assert int(rig.last_status()["drops/total"]) >= 8
    finally:
        close(node, ex)


def test_model_exception_stops_reports_error_and_stays_up(ros_context):
    policy = ConstantPolicy()
    node, rig, ex = make(ros_context, policy, instruction="go")
    feed(rig, ex, 0.3)
    try:
        assert rig.moving_twists()
        failing = FailingPolicy()
        node._policy.policy = failing  # the model starts failing mid-run
        n = len(rig.twists)
        feed(rig, ex, 0.3)
        assert failing.calls >= 2  # it keeps trying: the node is up
        after = [m.twist.linear.x for _, m in rig.twists[n:]]
        assert 0.0 in after, after  # a stop was published ...
        assert not any(after[after.index(0.0):]), after  # ... and nothing moved after it
        assert node.health.counts["model_errors"] >= 2
        assert rig.last_status()["level"] == bytes([2]) and "model error" in rig.last_status()["message"]
        node._policy.policy = policy  # recovers when the model does
        feed(rig, ex, 0.3)
        assert rig.twists[-1][1].twist.linear.x == pytest.approx(0.01 * RATE)
    finally:
        close(node, ex)


def test_nan_action_is_a_safety_stop(ros_context):
    node, rig, ex = make(ros_context, ConstantPolicy(np.full(7, np.nan, np.float32)), instruction="go")
    feed(rig, ex, 0.3)
    try:
        assert not rig.moving_twists()
        assert node.health.counts["model_errors"] >= 1  # check_chunk rejects NaN chunks before safety
    finally:
        close(node, ex)


def test_joint_mode_publishes_rate_limited_trajectories(ros_context):
    target = np.array([1.0, 0.0, 0.5], dtype=np.float32)
    node, rig, ex = make(ros_context, ConstantPolicy(target), instruction="go", mode="joint", action_dim=3,
                         joint_names=["j0", "j1", "j2"], gripper_axis=-1, max_velocity=[1.0, 1.0, 1.0])
    feed(rig, ex, 0.4, state=(0.0, 0.0, 0.0))
    try:
        traj = [t for t in rig.trajectories if t.points]
        assert len(traj) >= 5 and traj[0].joint_names == ["j0", "j1", "j2"]
        first = np.array(traj[0].points[0].positions)
        np.testing.assert_allclose(first, [1.0 / RATE, 0.0, 1.0 / RATE], atol=1e-6)  # 1 rad/s limit
        steps = np.diff([t.points[0].positions[0] for t in traj[:5]])
        assert np.all(steps <= 1.0 / RATE + 1e-6)
    finally:
        close(node, ex)
