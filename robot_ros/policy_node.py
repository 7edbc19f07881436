"""policy_node: cameras + joint states + instruction -> a policy -> safe end-effector or joint commands.

Subscriptions only store the newest valid message (sensor-data QoS, depth 1, one slot per camera);
inference runs in its own thread at `control_rate_hz` through `ActionChunkExecutor`, so callbacks never
wait on the model. Every action goes through `policies.safety.SafetyLayer`; a watchdog timer on the ROS
thread publishes a stop the moment any input is older than its timeout, `vla/enable` false stops at once,
and a model exception publishes a stop and reports ERROR while the node stays up.

Run (README "ROS 2"):
    ros2 run robot_ros policy_node --ros-args -p policy:=vla -p checkpoint:=/path/to/ckpt -p dry_run:=true
    python -m robot_ros.policy_node --ros-args -p policy:=noop -p cameras:=[front,wrist]
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64, String
from trajectory_msgs.msg import JointTrajectory

from policies.base import Policy
from policies.safety import SafetyLayer, Watchdog
from robot_ros import convert
from robot_ros.health import ERROR, OK, WARN, Health
from robot_ros.params import declare_config
from robot_ros.policy_config import PolicyNodeConfig, load_policy, make_executor
from robot_ros.spin import run_node
from vla.io import atomic_write_json

# Only the newest frame matters; a late frame is worse than a dropped one.
SENSOR_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)
WARN_EVERY_S = 2.0

TOPICS = {  # default names (all remappable); camera topics are camera/<name>/image_raw per camera
    "subscribes": ["camera/{camera}/image_raw", "joint_states", "vla/instruction", "vla/enable"],
    "publishes": ["vla/ee_delta", "vla/gripper", "vla/joint_command", "diagnostics"],
}


# Wall seconds (time.time) of one command's path, plus CPU seconds of this node's Python on it: the image
# callback's, and the control step's outside inference (thread CPU time, blind to waiting for a core or the GIL).
TIMING_FIELDS = ("image_stamp", "image_recv", "step_start", "inference_s", "publish", "command_stamp",
                 "image_cpu_s", "step_cpu_s")
TIMING_CAPACITY = 200_000  # 5.5 h at 10 Hz; 9.6 MB allocated (and touched) up front, so RSS stays flat


class TimingLog:
    """Fixed-size float table of per-command timings (only when asked for: a robot runs for days)."""

    def __init__(self, fields: tuple[str, ...], capacity: int):
        self.fields = fields
        self._rows = np.full((capacity, len(fields)), np.nan)  # (N, F), written in place, never grown
        self._n = 0
        self.dropped = 0

    def append(self, row: tuple[float, ...]) -> None:
        if self._n < len(self._rows):
            self._rows[self._n] = row
            self._n += 1
        elif len(self._rows):
            self.dropped += 1

    def records(self) -> list[dict]:
        return [{f: (None if np.isnan(v) else float(v)) for f, v in zip(self.fields, row)}
                for row in self._rows[: self._n]]


class _TimedPolicy:
    """Forwards to a policy and adds up the wall and thread-CPU seconds of `predict_action_chunk`."""

    def __init__(self, policy: Policy):
        self.policy = policy
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def reset(self, instruction: str) -> None:
        self.policy.reset(instruction)

    def predict_action_chunk(self, obs: dict) -> np.ndarray:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return self.policy.predict_action_chunk(obs)
        finally:
            self.seconds += time.perf_counter() - t0
            self.cpu_seconds += time.thread_time() - c0


class PolicyNode(Node):
    """The node; `policy` may be given directly (tests), else it is built from the parameters."""

    def __init__(self, policy: Policy | None = None, **node_kwargs: Any):
        super().__init__("policy_node", **node_kwargs)
        self.cfg = cfg = declare_config(self, PolicyNodeConfig)
        self.health = Health(self.get_fully_qualified_name())
        self._lock = threading.Lock()
        self._images: dict[str, tuple[np.ndarray, float, float, float]] = {}  # camera -> (rgb, stamp, recv, cpu)
        self._last_stamp: dict[str, float] = {}
        self._state: np.ndarray | None = None
        self._instruction: str | None = cfg.instruction.strip() or None
        self._active_instruction: str | None = None
        self._enabled = cfg.start_enabled
        self._halted = True
        self._generation = 0  # bumped by every stop: an action computed before it is never published
        self._watchdog = Watchdog({**{f"camera/{c}": cfg.image_timeout_s for c in cfg.cameras},
                                   "joint_states": cfg.state_timeout_s})
        self._safety = SafetyLayer(cfg.safety())
        self._policy = _TimedPolicy(policy if policy is not None else load_policy(cfg))
        self._executor = make_executor(self._policy, cfg)
        self._timings = TimingLog(TIMING_FIELDS, TIMING_CAPACITY if cfg.timing_log else 0)
        self._ee_index = list(cfg.ee_position_state_indices)  # where the EE xyz sits in the state
        self.last_command: np.ndarray | None = None  # the last safe action (published, or logged in dry run)
        self._make_interfaces()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._control_loop, name="policy_inference", daemon=True)
        self._thread.start()
        self.health.set_state(OK, "waiting for inputs")
        self.get_logger().info(f"policy {cfg.policy!r} at {cfg.control_rate_hz} Hz, mode {cfg.mode}, "
                               f"dry_run={cfg.dry_run}, enabled={cfg.start_enabled}")

    def _make_interfaces(self) -> None:
        cfg = self.cfg
        for cam in cfg.cameras:
            self.create_subscription(Image, f"camera/{cam}/image_raw",
                                     lambda msg, cam=cam: self._on_image(cam, msg), SENSOR_QOS)
        self.create_subscription(JointState, "joint_states", self._on_joints, SENSOR_QOS)
        self.create_subscription(String, "vla/instruction", self._on_instruction, 10)
        self.create_subscription(Bool, "vla/enable", self._on_enable, 10)
        if cfg.mode == "ee_delta":
            self._twist_pub = self.create_publisher(TwistStamped, "vla/ee_delta", 10)
            self._gripper_pub = self.create_publisher(Float64, "vla/gripper", 10)
        else:
            self._joint_pub = self.create_publisher(JointTrajectory, "vla/joint_command", 10)
        self._diag_pub = self.create_publisher(DiagnosticArray, "diagnostics", 10)
        # Checked 4x per control period, so a stale input stops the robot within ~1/4 period of its timeout.
        self.create_timer(0.25 / cfg.control_rate_hz, self._watchdog_tick)
        self.create_timer(cfg.diagnostics_period_s, self._publish_diagnostics)

    # ---- inputs (ROS thread): validate, keep the newest, never block ----

    def _reject(self, err: convert.BadMessage) -> None:
        n = self.health.drop(err.kind)
        self.get_logger().warning(f"dropped input ({n} {err.kind} so far): {err.detail}",
                                  throttle_duration_sec=WARN_EVERY_S)

    def _in_order(self, key: str, stamp: float) -> bool:
        """False (and counted) when a stamped message is older than the last one on `key`."""
        last = self._last_stamp.get(key)
        if stamp > 0 and last is not None and stamp < last:
            self._reject(convert.BadMessage("out_of_order", f"{key} stamp {stamp:.6f} < last {last:.6f}"))
            return False
        self._last_stamp[key] = max(stamp, last or 0.0)
        return True

    def _on_image(self, cam: str, msg: Image) -> None:
        cpu0 = time.thread_time()
        key = f"camera/{cam}"
        self.health.arrived(key)
        try:
            rgb = convert.image_from_msg(msg)  # (H, W, 3), a view of msg.data for rgb8 (no copy)
        except convert.BadMessage as err:
            self._reject(err)
            return
        stamp = convert.stamp_to_sec(msg.header.stamp)
        recv = time.time()  # the frame is usable from here on: transport + validation count as "image in"
        with self._lock:
            if self._in_order(key, stamp):
                self._images[cam] = (rgb, stamp, recv, time.thread_time() - cpu0)
                self._watchdog.feed(key, time.monotonic())

    def _on_joints(self, msg: JointState) -> None:
        self.health.arrived("joint_states")
        try:
            state = convert.state_from_joint_state(msg, self.cfg.state_joints)
        except convert.BadMessage as err:
            self._reject(err)
            return
        with self._lock:
            if self._in_order("joint_states", convert.stamp_to_sec(msg.header.stamp)):
                self._state = state
                self._watchdog.feed("joint_states", time.monotonic())

    def _on_instruction(self, msg: String) -> None:
        try:
            text = convert.instruction_from_msg(msg, self.cfg.max_instruction_chars)
        except convert.BadMessage as err:
            self._reject(err)
            return
        with self._lock:
            self._instruction = text
        self.get_logger().info(f"instruction: {text!r}")

    def _on_enable(self, msg: Bool) -> None:
        with self._lock:
            self._enabled = bool(msg.data)
        if not msg.data:
            self._halt("disabled by vla/enable")
        self.get_logger().info(f"enable={bool(msg.data)}")

    # ---- stopping (either thread) ----

    def _halt(self, reason: str, level: int = WARN) -> None:
        """Stop the robot now (once per halt), and invalidate any action still being computed."""
        with self._lock:
            self._generation += 1
            first = not self._halted
            self._halted = True
            self._safety.halt()
            if first:
                self._publish_stop()
        self.health.set_state(level, f"stopped: {reason}")
        if first:
            self.health.count("stops")
            self.get_logger().warning(f"stop: {reason}")

    def _publish_stop(self) -> None:
        """Zero twist (EE mode) or an empty trajectory (joint mode: the controller holds position)."""
        if self.cfg.dry_run:
            return
        stamp = self.get_clock().now().to_msg()
        if self.cfg.mode == "ee_delta":
            self._twist_pub.publish(convert.stop_twist(stamp, self.cfg.frame_id))
        else:
            msg = JointTrajectory(joint_names=list(self.cfg.joint_names))
            msg.header.stamp = stamp
            self._joint_pub.publish(msg)

    def _watchdog_tick(self) -> None:
        with self._lock:
            stale = self._watchdog.stale(time.monotonic())
            moving = not self._halted
        if stale and moving:
            self._halt(f"inputs stale: {stale}")

    # ---- control (inference thread) ----

    def _control_loop(self) -> None:
        period = 1.0 / self.cfg.control_rate_hz
        next_t = time.monotonic()
        while not self._done.is_set():
            next_t += period
            delay = next_t - time.monotonic()
            if delay < 0:  # overran (slow inference): skip the missed ticks instead of bursting
                self.health.count("overruns")
                next_t = time.monotonic()
            elif self._done.wait(delay):
                break
            self._control_step()

    def _snapshot(self) -> dict | None:
        """The observation for this step, or None (after setting the state) when the robot must not move."""
        with self._lock:
            stale = self._watchdog.stale(time.monotonic())
            enabled, instruction = self._enabled, self._instruction
            if not enabled or stale or instruction is None:
                snapshot = None
            else:
                snapshot = {"generation": self._generation, "instruction": instruction, "state": self._state,
                            "images": {c: self._images[c][0] for c in self.cfg.cameras},
                            "frame": self._images[self.cfg.cameras[0]][1:], "resume": self._halted}
        if not enabled:
            self.health.set_state(OK, "disabled (waiting for vla/enable true)")
        elif stale:
            self._halt(f"inputs stale: {stale}")
        elif instruction is None:
            self.health.set_state(OK, "waiting for an instruction on vla/instruction")
        return snapshot

    def _control_step(self) -> None:
        start = (time.time(), time.thread_time())  # the tick: from here to the publish is this step's work
        snap = self._snapshot()
        if snap is None:
            return
        self._policy.seconds = self._policy.cpu_seconds = 0.0
        try:
            if snap["resume"] or snap["instruction"] != self._active_instruction:
                self._executor.reset(snap["instruction"])  # drop chunks planned before the stop / for the old task
                self._active_instruction = snap["instruction"]
            obs = {"images": snap["images"], "state": snap["state"], "instruction": snap["instruction"]}
            action = self._executor(obs)
        except Exception as err:  # a model failure must stop the robot, not the node
            self._active_instruction = None
            self.health.count("model_errors")
            self.get_logger().error(f"policy failed: {type(err).__name__}: {err}", throttle_duration_sec=WARN_EVERY_S)
            self._halt(f"model error: {type(err).__name__}", level=ERROR)
            return
        if self._policy.seconds > 0:
            self.health.latency("inference", self._policy.seconds)
        self._command(action, snap, start)

    def _command(self, action: np.ndarray, snap: dict, start: tuple[float, float]) -> None:
        """Filter through the safety layer and publish, unless a stop happened meanwhile.

        start: (wall, thread CPU) seconds at the step's tick, for the timing log and `ros_overhead`."""
        state = snap["state"]
        idx = self._ee_index
        with self._lock:
            if snap["generation"] != self._generation or self._watchdog.stale(time.monotonic()):
                self.health.count("discarded_after_stop")
                return
            result = self._safety.filter(action, ee_position=state[idx] if idx else None, joint_positions=state)
            if result.stopped:
                self._generation += 1
                self._publish_stop()
                self._halted = True
            else:
                self._halted = False
                step_cpu = time.thread_time() - start[1] - self._policy.cpu_seconds
                cmd_stamp = self._publish(result.action)
        pub = time.time()
        if result.stopped:
            self.health.count("safety_stops")
            self.get_logger().warning(f"safety stop: {result.reasons[0]}", throttle_duration_sec=WARN_EVERY_S)
            self.health.set_state(WARN, f"stopped: {result.reasons[0]}")
            return
        for reason in result.reasons:
            self.health.count(f"safety/{reason}")
        self.last_command = result.action
        stamp, recv, image_cpu = snap["frame"]
        infer = self._policy.seconds
        self.health.latency("ros_overhead", (recv - stamp) + (pub - start[0] - infer))
        self._timings.append((stamp, recv, start[0], infer, pub, float("nan") if cmd_stamp is None else cmd_stamp,
                              image_cpu, step_cpu))
        self.health.set_state(OK, "dry run (commands logged, not sent)" if self.cfg.dry_run else "running")

    def _publish(self, action: np.ndarray) -> float | None:
        """Send one safe action (called with the lock held, so no stop can slip in between); returns the
        command's stamp in seconds (None in dry run)."""
        cfg = self.cfg
        self.health.count("commands")
        if cfg.dry_run:
            self.get_logger().info(f"dry run: would command {np.round(action, 4).tolist()}",
                                   throttle_duration_sec=WARN_EVERY_S)
            return None
        stamp = self.get_clock().now().to_msg()
        if cfg.mode == "ee_delta":
            self._twist_pub.publish(convert.twist_from_action(action, cfg.control_rate_hz, stamp, cfg.frame_id))
            if cfg.gripper is not None:
                self._gripper_pub.publish(convert.gripper_to_msg(float(action[cfg.gripper])))
        else:
            self._joint_pub.publish(convert.trajectory_from_positions(
                action, cfg.joint_names, stamp, 1.0 / cfg.control_rate_hz))
        return convert.stamp_to_sec(stamp)

    def _publish_diagnostics(self) -> None:
        self._diag_pub.publish(self.health.to_diagnostic(self.get_clock().now().to_msg(), self.cfg.policy))

    def timings(self) -> list[dict]:
        """Per-command timing records (wall-clock seconds), oldest first; empty unless `timing_log` is set."""
        return self._timings.records()

    def destroy_node(self) -> None:
        """Stop the inference thread, publish a final stop, and write the timing log if asked for."""
        self._done.set()
        self._thread.join(timeout=5.0)
        if not self._halted:
            with self._lock:
                self._publish_stop()
        if self.cfg.timing_log:
            atomic_write_json(self.cfg.timing_log, {"timings": self.timings(), "health": self.health.summary()})
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    """Console entry `policy_node` (ament) / `python -m robot_ros.policy_node`."""
    run_node(PolicyNode, args)


if __name__ == "__main__":
    main()
