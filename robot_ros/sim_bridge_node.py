"""sim_bridge_node: a simulated env (tabletop or Meta-World) behind the topics of a real robot.

Each control tick it applies the newest command (vla/ee_delta TwistStamped + vla/gripper Float64, through
the family's adapter in `robot_ros.sim_commands`), steps the env, and publishes the observation:
camera/<name>/image_raw (rgb8, sensor-data QoS) every `camera_every` ticks and joint_states (the env's
state vector, named by the env's `state_names`) every tick. A command older than `command_timeout_s`
counts as a stop (zero velocity, gripper held), as a velocity-controlled arm behaves. With
`control_mode:=joint` (tabletop) it takes vla/joint_command JointTrajectory targets named like the env's
action (joint1..joint7, gripper) instead, and an empty trajectory holds the arm where it is. The episode's
instruction is published on vla/instruction at reset and every `instruction_period_s`.
`sim/reset` (std_msgs/String): "" restarts the current task, "tabletop/stack" switches task.

    python -m robot_ros.sim_bridge_node --ros-args -p task_id:=tabletop/pick -p cameras:=[front,wrist]
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, KeyValue
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64, String
from trajectory_msgs.msg import JointTrajectory

from robot_ros import convert
from robot_ros.health import ERROR, OK, Health
from robot_ros.params import declare_config
from robot_ros.policy_node import SENSOR_QOS, WARN_EVERY_S
from robot_ros.sim_commands import Command, action_for, env_rate_hz, state_names
from robot_ros.spin import run_node

CONTROL_MODES = ("ee_delta", "joint")
TOPICS = {
    "subscribes": ["vla/ee_delta", "vla/gripper", "vla/joint_command", "sim/reset"],
    "publishes": ["camera/{camera}/image_raw", "joint_states", "vla/instruction", "diagnostics"],
}


@dataclass
class SimBridgeConfig:
    """Parameters of `sim_bridge_node`."""

    task_id: str = "tabletop/pick"
    seed: int = 0
    cameras: tuple[str, ...] = ("front", "wrist")
    image_size: int = 128
    max_episode_steps: int = 0  # 0 = the task's default
    control_mode: str = "ee_delta"  # ee_delta: TwistStamped + gripper; joint: JointTrajectory (tabletop)
    control_rate_hz: float = 0.0  # 0 = the env's own control rate; also the twist -> delta conversion
    camera_every: int = 1  # publish images every k-th tick
    command_timeout_s: float = 0.5
    auto_reset: bool = True  # start the next episode when one ends
    publish_instruction: bool = True
    instruction_period_s: float = 1.0
    frame_id: str = "base_link"
    diagnostics_period_s: float = 1.0

    def __post_init__(self) -> None:
        if "/" not in self.task_id:
            raise ValueError(f"SimBridgeConfig.task_id must look like 'tabletop/pick', got {self.task_id!r}")
        if not self.cameras:
            raise ValueError("SimBridgeConfig.cameras must name at least one camera")
        for name in ("image_size", "camera_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"SimBridgeConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("command_timeout_s", "instruction_period_s", "diagnostics_period_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SimBridgeConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.control_mode not in CONTROL_MODES:
            raise ValueError(f"SimBridgeConfig.control_mode must be one of {CONTROL_MODES}, got {self.control_mode!r}")
        if not (math.isfinite(self.control_rate_hz) and self.control_rate_hz >= 0):
            raise ValueError(f"SimBridgeConfig.control_rate_hz must be >= 0 (0 = env rate), got {self.control_rate_hz}")


class SimBridgeNode(Node):
    """Owns one env; steps it on a timer with the newest command."""

    def __init__(self, **node_kwargs: Any):
        super().__init__("sim_bridge_node", **node_kwargs)
        self.cfg = declare_config(self, SimBridgeConfig)
        self.health = Health(self.get_fully_qualified_name())
        self._twist: tuple[np.ndarray, float] | None = None  # (velocity (6,), monotonic receipt time)
        self._joint_target: np.ndarray | None = None
        self._names: list[str] | None = None
        self._gripper_open = 1.0
        self.env: Any = None
        self.episode, self.steps, self.success = -1, 0, False
        self.obs: dict | None = None
        self._open_env(self.cfg.task_id)
        rate = self.cfg.control_rate_hz or env_rate_hz(self.env)
        self.rate_hz = rate
        self._cams = {c: self.create_publisher(Image, f"camera/{c}/image_raw", SENSOR_QOS) for c in self.cfg.cameras}
        self._joints = self.create_publisher(JointState, "joint_states", SENSOR_QOS)
        self._instruction = self.create_publisher(String, "vla/instruction", 10)
        self._diag = self.create_publisher(DiagnosticArray, "diagnostics", 10)
        self.create_subscription(TwistStamped, "vla/ee_delta", self._on_twist, 10)
        self.create_subscription(Float64, "vla/gripper", self._on_gripper, 10)
        if self.cfg.control_mode == "joint":
            self.create_subscription(JointTrajectory, "vla/joint_command", self._on_joint_command, 10)
        self.create_subscription(String, "sim/reset", self._on_reset, 10)
        self.create_timer(1.0 / rate, self._tick)
        self.create_timer(self.cfg.instruction_period_s, self._say_instruction)
        self.create_timer(self.cfg.diagnostics_period_s, self._publish_diagnostics)
        self._reset()
        self.get_logger().info(f"simulating {self.cfg.task_id} at {rate:g} Hz, cameras {list(self.cfg.cameras)}")

    def _open_env(self, task_id: str) -> None:
        from sim.registry import make_env, split_task_id

        family, _ = split_task_id(task_id)
        extra = {"control_mode": "joint"} if self.cfg.control_mode == "joint" else {}
        env = make_env(task_id, seed=self.cfg.seed, cameras=self.cfg.cameras, image_size=self.cfg.image_size,
                       max_episode_steps=self.cfg.max_episode_steps or None, **extra)
        if self.env is not None:
            self.env.close()
        self.env, self.family, self.task_id = env, family, task_id
        self._names: list[str] | None = None

    # ---- commands ----

    def _on_twist(self, msg: TwistStamped) -> None:
        self.health.arrived("vla/ee_delta")
        lin, ang = msg.twist.linear, msg.twist.angular
        v = np.array([lin.x, lin.y, lin.z, ang.x, ang.y, ang.z], dtype=np.float64)
        if not np.all(np.isfinite(v)):
            self.health.drop("twist_nan")
            self.get_logger().warning(f"dropped non-finite twist {v.tolist()}", throttle_duration_sec=WARN_EVERY_S)
            return
        self._twist = (v, time.monotonic())

    def _on_gripper(self, msg: Float64) -> None:
        try:
            self._gripper_open = (convert.gripper_from_msg(msg) + 1.0) / 2.0
        except convert.BadMessage as err:
            self.health.drop(err.kind)
            self.get_logger().warning(f"dropped gripper command: {err.detail}", throttle_duration_sec=WARN_EVERY_S)

    def _on_joint_command(self, msg: JointTrajectory) -> None:
        """Joint targets by the env's action names (joint1..7, gripper); an empty trajectory holds still."""
        names = list(self.env.unwrapped.action_names)
        if not msg.points:
            self._joint_target = None
            return
        try:
            self._joint_target = convert.positions_from_trajectory(msg, names)
        except convert.BadMessage as err:
            self.health.drop(err.kind)
            self.get_logger().warning(f"dropped joint command: {err.detail}", throttle_duration_sec=WARN_EVERY_S)

    def _hold_action(self) -> np.ndarray:
        """Joint mode without a target: the measured joint positions and the last gripper command."""
        names = list(self.env.unwrapped.action_names)
        state = dict(zip(self._names or [], np.asarray(self.obs["state"], dtype=np.float64)))
        return np.array([state[n] if n in state else 2.0 * self._gripper_open - 1.0 for n in names], np.float32)

    def _on_reset(self, msg: String) -> None:
        task_id = msg.data.strip()
        try:
            if task_id and task_id != self.task_id:
                self._open_env(task_id)
        except KeyError as err:  # unknown task: keep the current one
            self.health.drop("reset_task")
            self.get_logger().error(f"reset refused: {err}")
            return
        self._reset()

    # ---- stepping ----

    def current_action(self) -> np.ndarray:
        """The env action for this tick: the newest fresh twist (else zero velocity) and the gripper, or in
        joint mode the newest joint target (else hold where the arm is)."""
        space = self.env.action_space
        if self.cfg.control_mode == "joint":
            action = self._joint_target if self._joint_target is not None else self._hold_action()
            return np.clip(action, space.low, space.high).astype(np.float32)
        velocity = np.zeros(6)
        if self._twist is not None and time.monotonic() - self._twist[1] <= self.cfg.command_timeout_s:
            velocity = self._twist[0]
        action = action_for(self.family, Command(velocity, self._gripper_open), self.rate_hz)
        return np.clip(action, space.low, space.high).astype(np.float32)

    def _reset(self) -> None:
        self.episode += 1
        self.obs, _ = self.env.reset(seed=self.cfg.seed + self.episode)
        self.steps, self.success, self._twist, self._joint_target = 0, False, None, None
        self._publish_obs(images=True)
        self._say_instruction()

    def _tick(self) -> None:
        try:
            obs, _, terminated, truncated, info = self.env.step(self.current_action())
        except (ValueError, RuntimeError) as err:  # physics blew up: report and start over
            self.health.set_state(ERROR, f"step failed: {err}")
            self.get_logger().error(f"env step failed: {err}", throttle_duration_sec=WARN_EVERY_S)
            self._reset()
            return
        self.obs, self.steps = obs, self.steps + 1
        self.success = self.success or bool(info.get("success", False))
        self.health.count("steps")
        self.health.set_state(OK, "running")
        self._publish_obs(images=self.steps % self.cfg.camera_every == 0)
        if (terminated or truncated) and self.cfg.auto_reset:
            self.health.count("episodes")
            self._reset()

    def _publish_obs(self, images: bool) -> None:
        stamp = self.get_clock().now().to_msg()
        if images:
            for cam, pub in self._cams.items():
                pub.publish(convert.image_to_msg(self.obs["images"][cam], stamp, cam))
        state = np.asarray(self.obs["state"])
        if self._names is None:
            self._names = state_names(self.env, state.size)
        self._joints.publish(convert.joint_state_to_msg(state, self._names, stamp))

    def _say_instruction(self) -> None:
        if self.cfg.publish_instruction and self.obs is not None and self.obs.get("instruction"):
            self._instruction.publish(String(data=self.obs["instruction"]))

    def _publish_diagnostics(self) -> None:
        msg = self.health.to_diagnostic(self.get_clock().now().to_msg(), self.task_id)
        msg.status[0].values += [KeyValue(key="task", value=self.task_id), KeyValue(key="episode", value=str(self.episode)),
                                 KeyValue(key="step", value=str(self.steps)),
                                 KeyValue(key="success", value=str(self.success).lower())]
        self._diag.publish(msg)

    def destroy_node(self) -> None:
        if self.env is not None:
            self.env.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    """Console entry `sim_bridge_node` (ament) / `python -m robot_ros.sim_bridge_node`."""
    run_node(SimBridgeNode, args)


if __name__ == "__main__":
    main()
