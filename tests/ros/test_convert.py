"""Message <-> numpy conversions (robot_ros/convert.py); needs the message packages but starts no node."""

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="rclpy missing: pip install 'vla-stack[ros-dev]'")

from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Float64, String  # noqa: E402

from robot_ros import convert  # noqa: E402

STAMP = convert.sec_to_stamp(12.25)


def raw_image(h, w, enc, step, data) -> Image:
    return Image(height=h, width=w, encoding=enc, step=step, data=bytes(data))


def test_image_round_trip_rgb():
    rgb = np.random.default_rng(0).integers(0, 255, (4, 5, 3), dtype=np.uint8)
    msg = convert.image_to_msg(rgb, STAMP, "cam")
    assert (msg.encoding, msg.step, msg.header.frame_id) == ("rgb8", 15, "cam")
    np.testing.assert_array_equal(convert.image_from_msg(msg), rgb)


def test_image_bgr_mono_and_padded_step():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    bgr = rgb[:, :, ::-1]
    padded = np.zeros((2, 12), np.uint8)
    padded[:, :9] = bgr.reshape(2, 9)  # 3 padding bytes per row
    out = convert.image_from_msg(raw_image(2, 3, "bgr8", 12, padded.tobytes()))
    np.testing.assert_array_equal(out, rgb)
    mono = convert.image_from_msg(raw_image(2, 2, "mono8", 2, [1, 2, 3, 4]))
    assert mono.shape == (2, 2, 3) and mono[1, 0].tolist() == [3, 3, 3]


@pytest.mark.parametrize("msg, kind", [
    (raw_image(2, 2, "yuv422", 4, b"\0" * 8), "image_encoding"),
    (raw_image(0, 2, "rgb8", 6, b""), "image_size"),
    (raw_image(2, 2, "rgb8", 5, b"\0" * 10), "image_step"),
    (raw_image(2, 2, "rgb8", 6, b"\0" * 11), "image_length"),
])
def test_bad_images_raise_with_kind(msg, kind):
    with pytest.raises(convert.BadMessage) as err:
        convert.image_from_msg(msg)
    assert err.value.kind == kind


def test_joint_state_order_and_validation():
    msg = JointState(name=["b", "a"], position=[2.0, 1.0])
    np.testing.assert_allclose(convert.state_from_joint_state(msg, ["a", "b"]), [1.0, 2.0])
    np.testing.assert_allclose(convert.state_from_joint_state(msg), [2.0, 1.0])
    for bad, kind in [(JointState(name=["a"], position=[float("nan")]), "joint_state_nan"),
                      (JointState(name=["a"], position=[1.0]), "joint_state_names"),
                      (JointState(), "joint_state_shape")]:
        with pytest.raises(convert.BadMessage) as err:
            convert.state_from_joint_state(bad, ["a", "b"] if kind == "joint_state_names" else ())
        assert err.value.kind == kind


def test_instruction_limits():
    assert convert.instruction_from_msg(String(data="  pick the cube "), 100) == "pick the cube"
    with pytest.raises(convert.BadMessage, match="empty"):
        convert.instruction_from_msg(String(data="   "), 100)
    with pytest.raises(convert.BadMessage, match="limit 10"):
        convert.instruction_from_msg(String(data="x" * 11), 10)


def test_twist_and_gripper_conventions():
    action = np.array([0.01, -0.02, 0.03, 0.1, 0.0, -0.1, -1.0], dtype=np.float32)
    twist = convert.twist_from_action(action, 10.0, STAMP, "base")
    assert twist.twist.linear.x == pytest.approx(0.1) and twist.twist.angular.z == pytest.approx(-1.0)
    np.testing.assert_allclose(convert.delta_from_twist(twist, 10.0), action[:6], atol=1e-7)
    assert convert.gripper_to_msg(-1.0).data == 0.0 and convert.gripper_to_msg(1.0).data == 1.0
    assert convert.gripper_from_msg(Float64(data=0.25)) == pytest.approx(-0.5)
    with pytest.raises(convert.BadMessage):
        convert.gripper_from_msg(Float64(data=float("nan")))


def test_trajectory_round_trip_and_stamp():
    msg = convert.trajectory_from_positions(np.array([0.1, 0.2]), ["j1", "j2"], STAMP, 0.1)
    assert msg.points[0].time_from_start.nanosec == 100_000_000
    np.testing.assert_allclose(convert.positions_from_trajectory(msg, ["j2", "j1"]), [0.2, 0.1])
    assert convert.stamp_to_sec(STAMP) == pytest.approx(12.25)
