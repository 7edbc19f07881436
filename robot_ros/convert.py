"""Conversions between ROS 2 messages and the stack's numpy contracts (DESIGN.md), with validation.

Every `*_from_msg` function either returns a clean value or raises `BadMessage` naming what is wrong,
so a node can drop the message with a throttled warning and count it, and never moves on it.

Conventions (README "ROS 2"):
- Images: sensor_msgs/Image in rgb8, bgr8, rgba8, bgra8 or mono8 become RGB uint8 (H, W, 3), row 0 at
  the top. We publish rgb8.
- End-effector commands: the action's per-step delta (m, rad) times the control rate is the
  TwistStamped velocity (m/s, rad/s), as MoveIt Servo expects; the receiver multiplies by its own step.
- Gripper: our action's gripper is -1 closed ... +1 open; std_msgs/Float64 on `vla/gripper` is
  0 closed ... 1 open.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import TwistStamped
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64, String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
MAX_IMAGE_SIDE = 8192  # anything larger is a corrupt header, not a camera


class BadMessage(ValueError):
    """A message that must be dropped; `kind` is the diagnostics counter it goes to."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def stamp_to_sec(stamp: Time) -> float:
    """builtin_interfaces/Time -> float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def sec_to_stamp(t: float) -> Time:
    """float seconds -> builtin_interfaces/Time."""
    sec = math.floor(t)
    nanosec = min(int(round((t - sec) * 1e9)), 999_999_999)
    return Time(sec=int(sec), nanosec=nanosec)


def image_from_msg(msg: Image) -> np.ndarray:
    """sensor_msgs/Image -> RGB uint8 (H, W, 3); raises BadMessage on a bad encoding, size, step or length."""
    h, w, enc = int(msg.height), int(msg.width), msg.encoding.lower()
    if enc not in CHANNELS:
        raise BadMessage("image_encoding", f"encoding {msg.encoding!r} not supported; expected one of {sorted(CHANNELS)}")
    if not (0 < h <= MAX_IMAGE_SIDE and 0 < w <= MAX_IMAGE_SIDE):
        raise BadMessage("image_size", f"size {w}x{h} must be within 1..{MAX_IMAGE_SIDE} per side")
    c = CHANNELS[enc]
    step = int(msg.step)
    if step < w * c:
        raise BadMessage("image_step", f"step {step} < width*channels {w * c} for {enc}")
    if len(msg.data) != step * h:
        raise BadMessage("image_length", f"data has {len(msg.data)} bytes, expected step*height = {step * h}")
    buf = np.frombuffer(msg.data, dtype=np.uint8).reshape(h, step)[:, : w * c]  # (H, W*C), padding dropped
    img = buf.reshape(h, w, c)  # (H, W, C)
    if enc == "mono8":
        return np.repeat(img, 3, axis=2)  # (H, W, 3)
    if enc.startswith("bgr"):
        img = img[:, :, 2::-1]  # (H, W, 3) BGR(A) -> RGB
    return np.ascontiguousarray(img[:, :, :3])  # (H, W, 3)


def image_to_msg(rgb: np.ndarray, stamp: Time, frame_id: str = "") -> Image:
    """RGB uint8 (H, W, 3) -> sensor_msgs/Image rgb8 (raises ValueError on another shape or dtype)."""
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or 0 in arr.shape:
        raise ValueError(f"image must be uint8 (H, W, 3), got {arr.dtype} {arr.shape}")
    msg = Image(height=arr.shape[0], width=arr.shape[1], encoding="rgb8", is_bigendian=0, step=arr.shape[1] * 3)
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.data = np.ascontiguousarray(arr).tobytes()  # bytes: assigning an ndarray is ~1000x slower in rclpy
    return msg


def state_from_joint_state(msg: JointState, names: Sequence[str] = ()) -> np.ndarray:
    """sensor_msgs/JointState -> float32 state vector.

    names: the joints to read, in order (the robot's documented state layout); empty = the message's
    position array as it is. Raises BadMessage on a missing joint, a length mismatch or a non-finite value.
    """
    pos = np.asarray(msg.position, dtype=np.float64)
    if names:
        if len(msg.name) != len(pos):
            raise BadMessage("joint_state_shape", f"{len(msg.name)} names but {len(pos)} positions")
        index = {n: i for i, n in enumerate(msg.name)}
        missing = [n for n in names if n not in index]
        if missing:
            raise BadMessage("joint_state_names", f"missing joints {missing}; message has {list(msg.name)}")
        pos = pos[[index[n] for n in names]]
    if pos.size == 0:
        raise BadMessage("joint_state_shape", "no positions")
    if not np.all(np.isfinite(pos)):
        raise BadMessage("joint_state_nan", f"non-finite positions {pos.tolist()}")
    return pos.astype(np.float32)


def joint_state_to_msg(state: np.ndarray, names: Sequence[str], stamp: Time) -> JointState:
    """float state (S,) + S names -> sensor_msgs/JointState (positions only)."""
    values = np.asarray(state, dtype=np.float64).reshape(-1)
    if len(names) != values.size:
        raise ValueError(f"{len(names)} joint names for a state of size {values.size}")
    msg = JointState(name=list(names), position=values.tolist())
    msg.header.stamp = stamp
    return msg


def instruction_from_msg(msg: String, max_chars: int) -> str:
    """std_msgs/String -> instruction text; raises BadMessage when empty or longer than max_chars."""
    text = msg.data.strip()
    if not text:
        raise BadMessage("instruction_empty", "empty instruction")
    if len(text) > max_chars:
        raise BadMessage("instruction_long", f"instruction has {len(text)} characters, limit {max_chars}")
    return text


def twist_from_action(action: np.ndarray, rate_hz: float, stamp: Time, frame_id: str) -> TwistStamped:
    """Per-step EE delta action (>= 6 dims) -> TwistStamped velocities (delta * rate)."""
    v = np.asarray(action, dtype=np.float64)[:6] * rate_hz  # (6,) m/s, rad/s
    msg = TwistStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    lin, ang = msg.twist.linear, msg.twist.angular
    lin.x, lin.y, lin.z, ang.x, ang.y, ang.z = (float(x) for x in v)
    return msg


def stop_twist(stamp: Time, frame_id: str) -> TwistStamped:
    """A zero-velocity TwistStamped: the stop command in end-effector mode."""
    return twist_from_action(np.zeros(6), 1.0, stamp, frame_id)


def delta_from_twist(msg: TwistStamped, rate_hz: float) -> np.ndarray:
    """TwistStamped velocities -> per-step delta (6,) at `rate_hz`; raises BadMessage on non-finite values."""
    lin, ang = msg.twist.linear, msg.twist.angular
    v = np.array([lin.x, lin.y, lin.z, ang.x, ang.y, ang.z], dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise BadMessage("twist_nan", f"non-finite twist {v.tolist()}")
    return (v / rate_hz).astype(np.float32)


def gripper_to_msg(gripper_action: float) -> Float64:
    """Action gripper (-1 closed ... +1 open) -> Float64 (0 closed ... 1 open)."""
    return Float64(data=float(np.clip((gripper_action + 1.0) / 2.0, 0.0, 1.0)))


def gripper_from_msg(msg: Float64) -> float:
    """Float64 (0 closed ... 1 open) -> action gripper (-1 ... +1); raises BadMessage outside [0, 1] or NaN."""
    v = float(msg.data)
    if not (0.0 <= v <= 1.0):
        raise BadMessage("gripper_range", f"gripper command {v} outside [0, 1]")
    return 2.0 * v - 1.0


def trajectory_from_positions(positions: np.ndarray, names: Sequence[str], stamp: Time,
                              time_from_start: float) -> JointTrajectory:
    """Joint targets (J,) -> a one-point JointTrajectory reaching them after `time_from_start` seconds."""
    values = np.asarray(positions, dtype=np.float64).reshape(-1)
    if len(names) != values.size:
        raise ValueError(f"{len(names)} joint names for {values.size} joint targets")
    sec = math.floor(time_from_start)
    point = JointTrajectoryPoint(positions=values.tolist(), time_from_start=Duration(
        sec=int(sec), nanosec=int((time_from_start - sec) * 1e9)))
    msg = JointTrajectory(joint_names=list(names), points=[point])
    msg.header.stamp = stamp
    return msg


def positions_from_trajectory(msg: JointTrajectory, names: Sequence[str]) -> np.ndarray:
    """The first point of a JointTrajectory, ordered as `names`; raises BadMessage when malformed."""
    if not msg.points:
        raise BadMessage("trajectory_empty", "trajectory has no points")
    pos = np.asarray(msg.points[0].positions, dtype=np.float64)
    if len(msg.joint_names) != pos.size:
        raise BadMessage("trajectory_shape", f"{len(msg.joint_names)} joint names but {pos.size} positions")
    index = {n: i for i, n in enumerate(msg.joint_names)}
    missing = [n for n in names if n not in index]
    if missing:
        raise BadMessage("trajectory_names", f"missing joints {missing}; message has {list(msg.joint_names)}")
    out = pos[[index[n] for n in names]]
    if not np.all(np.isfinite(out)):
        raise BadMessage("trajectory_nan", f"non-finite joint targets {out.tolist()}")
    return out.astype(np.float32)
