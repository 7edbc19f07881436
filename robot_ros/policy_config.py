"""The policy node's typed config (one ROS parameter per field) and how it builds its policy and safety layer.

No rclpy here: the config validates itself and the loader goes through `policies.registry`, so both are
testable without ROS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from policies.base import ActionChunkExecutor, Policy
from policies.safety import SafetyConfig

MODES = ("ee_delta", "joint")


@dataclass
class PolicyNodeConfig:
    """Parameters of `policy_node` (README "ROS 2" documents each)."""

    policy: str = "noop"  # a name in policies.registry.ALL_POLICIES
    checkpoint: str = ""  # checkpoint directory (policy "vla")
    task_id: str = ""  # passed to the policy factory (e.g. "tabletop/pick"); may be empty on a robot
    cameras: tuple[str, ...] = ("front",)  # subscribes camera/<name>/image_raw for each
    state_joints: tuple[str, ...] = ()  # joints forming the state vector, in order; empty = message order
    action_dim: int = 7
    mode: str = "ee_delta"  # ee_delta: TwistStamped + gripper; joint: JointTrajectory
    joint_names: tuple[str, ...] = ()  # joint mode: the trajectory's joints (action_dim of them)
    frame_id: str = "base_link"  # frame of the TwistStamped commands
    control_rate_hz: float = 10.0
    replan_every: int = 0  # 0 = play whole chunks; k = re-plan every k steps
    instruction: str = ""  # initial instruction (vla/instruction overrides)
    max_instruction_chars: int = 512
    start_enabled: bool = True  # false: wait for vla/enable=true before moving
    dry_run: bool = False  # compute and log every command, publish none
    image_timeout_s: float = 0.5
    state_timeout_s: float = 0.5
    action_low: tuple[float, ...] = ()
    action_high: tuple[float, ...] = ()
    max_velocity: tuple[float, ...] = ()
    max_acceleration: tuple[float, ...] = ()
    gripper_axis: int = 6  # -1 = no gripper axis
    workspace_low: tuple[float, ...] = ()
    workspace_high: tuple[float, ...] = ()
    ee_position_state_indices: tuple[int, ...] = ()  # where the EE xyz sits in the state (for the box)
    diagnostics_period_s: float = 1.0
    timing_log: str = ""  # write per-step timings here (JSON) at shutdown, for benchmarks/ros_latency.py

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"PolicyNodeConfig.mode must be one of {MODES}, got {self.mode!r}")
        if not self.cameras or any(not c or "/" in c for c in self.cameras):
            raise ValueError(f"PolicyNodeConfig.cameras must be non-empty names without '/', got {self.cameras}")
        for name in ("control_rate_hz", "image_timeout_s", "state_timeout_s", "diagnostics_period_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"PolicyNodeConfig.{name} must be a positive number, got {value}")
        if self.replan_every < 0:
            raise ValueError(f"PolicyNodeConfig.replan_every must be >= 0, got {self.replan_every}")
        if self.max_instruction_chars < 1:
            raise ValueError(f"PolicyNodeConfig.max_instruction_chars must be >= 1, got {self.max_instruction_chars}")
        if self.mode == "joint" and len(self.joint_names) != self.action_dim:
            raise ValueError(f"PolicyNodeConfig.joint_names needs action_dim={self.action_dim} names in joint "
                             f"mode, got {list(self.joint_names)}")
        if self.mode == "ee_delta" and self.action_dim < 6:
            raise ValueError(f"PolicyNodeConfig.action_dim must be >= 6 in ee_delta mode, got {self.action_dim}")
        if self.workspace_low and len(self.ee_position_state_indices) != 3:
            raise ValueError("PolicyNodeConfig.ee_position_state_indices must give 3 state indices when a "
                             f"workspace box is set, got {self.ee_position_state_indices}")
        if self.policy == "vla" and not self.checkpoint:
            raise ValueError("PolicyNodeConfig.checkpoint must name a checkpoint directory for policy 'vla'")
        self.safety()  # validates the limits now, naming the bad field

    def safety(self) -> SafetyConfig:
        """The safety-layer config these parameters describe."""
        return SafetyConfig(
            action_dim=self.action_dim, control_rate_hz=self.control_rate_hz,
            mode="delta" if self.mode == "ee_delta" else "absolute",
            action_low=self.action_low, action_high=self.action_high,
            max_velocity=self.max_velocity, max_acceleration=self.max_acceleration,
            gripper_axis=None if self.gripper_axis < 0 else self.gripper_axis,
            workspace_low=self.workspace_low, workspace_high=self.workspace_high)

    @property
    def gripper(self) -> int | None:
        return None if self.gripper_axis < 0 or self.mode == "joint" else self.gripper_axis


def action_spec(cfg: PolicyNodeConfig) -> Any:
    """A stand-in for the env that policy factories read: only `action_space` (low/high/shape/dtype).

    A robot has no gymnasium env; factories of env-free policies (vla, noop, random) only read the action
    space, which the node's action limits describe (unbounded axes get +-1, the normalized range).
    """
    low = np.asarray(cfg.action_low or (-1.0,) * cfg.action_dim, dtype=np.float32)
    high = np.asarray(cfg.action_high or (1.0,) * cfg.action_dim, dtype=np.float32)
    try:
        from gymnasium.spaces import Box

        space = Box(low=low, high=high, dtype=np.float32)
    except ImportError:  # gymnasium is the sim extra; a robot may not have it
        space = SimpleNamespace(low=low, high=high, shape=low.shape, dtype=np.float32)
    return SimpleNamespace(action_space=space)


def load_policy(cfg: PolicyNodeConfig) -> Policy:
    """Build the configured policy through the registry (policy 'vla' loads `cfg.checkpoint`)."""
    from policies.registry import make_policy

    kwargs = {"checkpoint": cfg.checkpoint} if cfg.checkpoint else {}
    return make_policy(cfg.policy, action_spec(cfg), cfg.task_id, **kwargs)


def make_executor(policy: Policy, cfg: PolicyNodeConfig) -> ActionChunkExecutor:
    """Wrap the policy so that each control step yields one action (chunks re-planned per config)."""
    return ActionChunkExecutor(policy, replan_every=cfg.replan_every or None, action_dim=cfg.action_dim)
