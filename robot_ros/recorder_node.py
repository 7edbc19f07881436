"""recorder_node: teleoperation on live topics -> a LeRobot v3 dataset (and optionally one rosbag2 per episode).

At `fps` it samples the newest camera frames and joint state and the newest command (vla/ee_delta +
vla/gripper as the tabletop's 7-dim delta action, or vla/joint_command positions in joint mode) into one
frame of `vla.data.DatasetWriter`; a frame whose camera or state input is older than `input_timeout_s` is
skipped and counted, never filled in. Episodes are controlled on `recorder/control` (std_msgs/String):

    start [task text]   begin an episode (task defaults to the newest vla/instruction)
    label <task text>   set the episode's task text
    save                commit the episode atomically (DatasetWriter.save_episode)
    discard             drop it

and the recorder reports on `recorder/status` (String) and `diagnostics`.

    python -m robot_ros.recorder_node --ros-args -p root:=data/teleop -p fps:=10 -p bag_dir:=data/teleop_bags
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64, String
from trajectory_msgs.msg import JointTrajectory

from robot_ros import convert
from robot_ros.health import ERROR, OK, WARN, Health
from robot_ros.params import declare_config
from robot_ros.policy_node import SENSOR_QOS, WARN_EVERY_S
from robot_ros.spin import run_node

TOPICS = {
    "subscribes": ["camera/{camera}/image_raw", "joint_states", "vla/ee_delta", "vla/gripper", "vla/joint_command",
                   "vla/instruction", "recorder/control"],
    "publishes": ["recorder/status", "diagnostics"],
}
ACTION_MODES = ("ee_delta", "joint")


@dataclass
class RecorderConfig:
    """Parameters of `recorder_node`."""

    root: str = ""  # dataset directory (created, or appended to when it exists with the same features)
    fps: int = 10
    cameras: tuple[str, ...] = ("front", "wrist")
    state_joints: tuple[str, ...] = ()  # empty = the JointState message's order
    action_mode: str = "ee_delta"
    joint_names: tuple[str, ...] = ()  # joint mode: the action's joints, in order
    command_rate_hz: float = 0.0  # rate the twists are meant at (delta = twist / rate); 0 = fps
    command_timeout_s: float = 0.5  # an older twist counts as zero velocity
    input_timeout_s: float = 0.5  # frames with older camera/state inputs are skipped
    robot_type: str = ""
    bag_dir: str = ""  # non-empty: also write one rosbag2 per saved episode here
    max_instruction_chars: int = 512
    diagnostics_period_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.root:
            raise ValueError("RecorderConfig.root must name the dataset directory, got ''")
        if not 1 <= self.fps <= 1000:
            raise ValueError(f"RecorderConfig.fps must be in [1, 1000], got {self.fps}")
        if self.action_mode not in ACTION_MODES:
            raise ValueError(f"RecorderConfig.action_mode must be one of {ACTION_MODES}, got {self.action_mode!r}")
        if self.action_mode == "joint" and not self.joint_names:
            raise ValueError("RecorderConfig.joint_names must list the action's joints in joint mode")
        if not self.cameras:
            raise ValueError("RecorderConfig.cameras must name at least one camera")
        for name in ("command_timeout_s", "input_timeout_s", "diagnostics_period_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"RecorderConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.command_rate_hz < 0:
            raise ValueError(f"RecorderConfig.command_rate_hz must be >= 0 (0 = fps), got {self.command_rate_hz}")


class RecorderNode(Node):
    """Samples the newest inputs at `fps` into the episode in progress."""

    def __init__(self, **node_kwargs: Any):
        super().__init__("recorder_node", **node_kwargs)
        self.cfg = cfg = declare_config(self, RecorderConfig)
        self.health = Health(self.get_fully_qualified_name())
        self.writer: Any = None  # vla.data.DatasetWriter, created on the first frame (shapes known then)
        self._images: dict[str, tuple[np.ndarray, float]] = {}
        self._state: tuple[np.ndarray, float, list[str]] | None = None
        self._twist: tuple[np.ndarray, float] | None = None
        self._gripper = 1.0  # action convention: -1 closed ... +1 open
        self._joint_target: np.ndarray | None = None
        self._instruction = ""
        self.recording, self.task, self.frames, self.saved = False, "", 0, []
        self._bag: Any = None
        for cam in cfg.cameras:
            self.create_subscription(Image, f"camera/{cam}/image_raw",
                                     lambda m, cam=cam: self._on_image(cam, m), SENSOR_QOS)
        self.create_subscription(JointState, "joint_states", self._on_joints, SENSOR_QOS)
        self.create_subscription(TwistStamped, "vla/ee_delta", self._on_twist, 10)
        self.create_subscription(Float64, "vla/gripper", self._on_gripper, 10)
        self.create_subscription(JointTrajectory, "vla/joint_command", self._on_joint_command, 10)
        self.create_subscription(String, "vla/instruction", self._on_instruction, 10)
        self.create_subscription(String, "recorder/control", self._on_control, 10)
        self._status = self.create_publisher(String, "recorder/status", 10)
        self._diag = self.create_publisher(DiagnosticArray, "diagnostics", 10)
        self.create_timer(1.0 / cfg.fps, self._sample)
        self.create_timer(cfg.diagnostics_period_s, self._publish_diagnostics)
        self._report(OK, "idle")

    # ---- inputs ----

    def _bag_write(self, topic: str, msg: Any) -> None:
        if self._bag is not None:
            self._bag.write(topic, msg, time.time_ns())

    def _drop(self, err: convert.BadMessage) -> None:
        n = self.health.drop(err.kind)
        self.get_logger().warning(f"dropped input ({n} {err.kind}): {err.detail}", throttle_duration_sec=WARN_EVERY_S)

    def _on_image(self, cam: str, msg: Image) -> None:
        self.health.arrived(f"camera/{cam}")
        self._bag_write(f"camera/{cam}/image_raw", msg)
        try:
            self._images[cam] = (convert.image_from_msg(msg), time.monotonic())
        except convert.BadMessage as err:
            self._drop(err)

    def _on_joints(self, msg: JointState) -> None:
        self.health.arrived("joint_states")
        self._bag_write("joint_states", msg)
        try:
            state = convert.state_from_joint_state(msg, self.cfg.state_joints)
        except convert.BadMessage as err:
            self._drop(err)
            return
        self._state = (state, time.monotonic(), list(self.cfg.state_joints or msg.name))

    def _on_twist(self, msg: TwistStamped) -> None:
        self._bag_write("vla/ee_delta", msg)
        try:
            delta = convert.delta_from_twist(msg, self.cfg.command_rate_hz or self.cfg.fps)
        except convert.BadMessage as err:
            self._drop(err)
            return
        self._twist = (delta, time.monotonic())

    def _on_gripper(self, msg: Float64) -> None:
        self._bag_write("vla/gripper", msg)
        try:
            self._gripper = convert.gripper_from_msg(msg)
        except convert.BadMessage as err:
            self._drop(err)

    def _on_joint_command(self, msg: JointTrajectory) -> None:
        self._bag_write("vla/joint_command", msg)
        if self.cfg.action_mode != "joint" or not msg.points:  # an empty trajectory is a stop: keep the target
            return
        try:
            self._joint_target = convert.positions_from_trajectory(msg, self.cfg.joint_names)
        except convert.BadMessage as err:
            self._drop(err)

    def _on_instruction(self, msg: String) -> None:
        self._bag_write("vla/instruction", msg)
        try:
            self._instruction = convert.instruction_from_msg(msg, self.cfg.max_instruction_chars)
        except convert.BadMessage as err:
            self._drop(err)

    # ---- episodes ----

    def _on_control(self, msg: String) -> None:
        verb, _, rest = msg.data.strip().partition(" ")
        handlers = {"start": self.start, "label": self.label, "save": self.save, "discard": self.discard}
        if verb not in handlers:
            self._report(WARN, f"unknown control {msg.data!r}; expected one of {sorted(handlers)}")
            return
        handlers[verb](rest.strip())

    def start(self, task: str = "") -> None:
        """Begin an episode (a running one is discarded first)."""
        if self.recording:
            self.discard()
        self.recording, self.task, self.frames = True, task, 0
        if self.cfg.bag_dir:
            from robot_ros.bag import EpisodeBag

            self._bag = EpisodeBag(self.cfg.bag_dir)
        self._report(OK, f"recording episode (task {task or self._instruction!r})")

    def label(self, task: str) -> None:
        self.task = task
        self._report(OK, f"label set to {task!r}")

    def save(self, _: str = "") -> None:
        """Commit the episode; refused (and kept recording) without frames or a task label."""
        task = self.task or self._instruction
        if not self.recording or self.writer is None or self.frames == 0 or not task:
            self._report(WARN, f"cannot save: recording={self.recording}, frames={self.frames}, task={task!r}")
            return
        t0 = time.monotonic()
        try:
            index = self.writer.save_episode(task=task)
        except (ValueError, OSError) as err:
            self._report(ERROR, f"save failed, episode discarded: {err}")
            self.discard()
            return
        self.saved.append(index)
        self.recording = False
        if self._bag is not None:
            try:
                self._bag.commit(f"episode_{index:06d}")
            except OSError as err:
                self._bag.abort()
                self._report(WARN, f"episode {index} saved but its bag was not: {err}")
            self._bag = None
        self.health.latency("save_episode", time.monotonic() - t0)
        self._report(OK, f"saved episode {index} ({self.frames} frames, task {task!r})")

    def discard(self, _: str = "") -> None:
        if self.writer is not None:
            self.writer.discard_episode()
        if self._bag is not None:
            self._bag.abort()
        self._bag, self.recording = None, False
        self._report(OK, f"discarded episode ({self.frames} frames)")

    def _report(self, level: int, text: str) -> None:
        self.health.set_state(level, text)
        self._status.publish(String(data=text))
        if level == OK:
            self.get_logger().info(text)
        else:
            self.get_logger().warning(text)

    # ---- sampling ----

    def _frame(self) -> dict[str, np.ndarray] | None:
        """The frame for now, or None when an input is missing or stale."""
        now = time.monotonic()
        limit = self.cfg.input_timeout_s
        if self._state is None or now - self._state[1] > limit or any(
                c not in self._images or now - self._images[c][1] > limit for c in self.cfg.cameras):
            return None
        if self.cfg.action_mode == "joint":
            if self._joint_target is None:
                return None
            action = self._joint_target
        else:
            fresh = self._twist is not None and now - self._twist[1] <= self.cfg.command_timeout_s
            delta = self._twist[0] if fresh else np.zeros(6, np.float32)
            action = np.concatenate([delta, [self._gripper]]).astype(np.float32)
        frame = {f"observation.images.{c}": self._images[c][0] for c in self.cfg.cameras}
        return frame | {"observation.state": self._state[0], "action": action}

    def _features(self, frame: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
        feats: dict[str, dict[str, Any]] = {}
        for key, value in frame.items():
            if key.startswith("observation.images."):
                feats[key] = {"dtype": "video", "shape": list(value.shape)}
            else:
                feats[key] = {"dtype": "float32", "shape": [int(value.size)], "names": None}
        feats["observation.state"]["names"] = self._state[2] if len(self._state[2]) == frame[
            "observation.state"].size else None
        if self.cfg.action_mode == "joint":
            feats["action"]["names"] = list(self.cfg.joint_names)
        else:
            feats["action"]["names"] = ["dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper"]
        return feats

    def _sample(self) -> None:
        if not self.recording:
            return
        frame = self._frame()
        if frame is None:
            self.health.count("frames_skipped_stale")
            return
        try:
            if self.writer is None:
                from vla.data import DatasetWriter

                self.writer = DatasetWriter.create_or_open(self.cfg.root, self.cfg.fps, self._features(frame),
                                                           robot_type=self.cfg.robot_type or None)
            self.writer.add_frame(frame)
        except (ValueError, KeyError, OSError) as err:  # shapes changed mid-run, disk full, ...
            self._report(ERROR, f"frame rejected, episode discarded: {err}")
            self.discard()
            return
        self.frames += 1
        self.health.count("frames")

    def _publish_diagnostics(self) -> None:
        self._diag.publish(self.health.to_diagnostic(self.get_clock().now().to_msg(), self.cfg.root))

    def destroy_node(self) -> None:
        """An unsaved episode is dropped (never half-written); the dataset stays valid."""
        if self.recording:
            self.discard()
        if self.writer is not None:
            self.writer.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    """Console entry `recorder_node` (ament) / `python -m robot_ros.recorder_node`."""
    run_node(RecorderNode, args)


if __name__ == "__main__":
    main()
