"""`TabletopEnv`: the MuJoCo tabletop behind the gymnasium API, controlled at 10 Hz.

Actions (`control_mode="ee_delta"`, the default, A = 7): `dx, dy, dz` (m) and `droll, dpitch, dyaw` (rad,
a rotation vector in the base frame, applied before the current orientation) for the `tcp` site, then
`gripper` (-1 closed ... +1 open). The delta is added to the previous commanded pose while the arm tracks
it (else to the measured pose; see `_anchor_pose`) and turned into joint position targets, within the joint
limits, by damped-least-squares IK (`sim.tabletop.ik`). `control_mode="joint"`: 7 absolute joint position
targets (rad) and `gripper`. Gripper commands in between open the fingers proportionally; the finger
actuator is force-limited (40 N), so a closed gripper squeezes, never crushes.

Observation (DESIGN.md): {"images": {camera: uint8[H, W, 3]}, "state": float32[14], "instruction": str};
the state layout is `STATE_NAMES`. `info` carries `success` (bool), `reward_terms` (dict; the reward is
their sum), `clipped` (action entries clipped this step), `subgoals`, and `error` when physics blew up.

Scene introspection for planners: `scene_objects()`, `held_object()`, `object_position(name)`; the
predicates on top of these live in `sim.tabletop.predicates`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import gymnasium as gym
import mujoco
import numpy as np

from sim.tabletop import predicates
from sim.tabletop.ik import DiffIK, quat_error, rotvec_to_quat
from sim.tabletop.physics import Physics, SceneObject
from sim.tabletop.render import CameraRenderer
from sim.tabletop.tasks import ALL_TASKS
from sim.tabletop.tasks.base import Episode, Task

CAMERAS = ("front", "wrist")
CONTROL_MODES = ("ee_delta", "joint")
STATE_NAMES = ("ee_x", "ee_y", "ee_z", "ee_roll", "ee_pitch", "ee_yaw", "gripper_opening",
               "joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "joint7")
STATE_UNITS = ("m", "m", "m", "rad", "rad", "rad", "m") + ("rad",) * 7
EE_ACTION_NAMES = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")
EE_ACTION_UNITS = ("m", "m", "m", "rad", "rad", "rad", "1")
MAX_DPOS = 0.05  # m per 0.1 s step: 0.5 m/s
MAX_DROT = 0.3  # rad per step


@dataclass
class TabletopConfig:
    """Settings of one env; validated on construction."""

    task: str = "pick"
    cameras: tuple[str, ...] = CAMERAS  # () renders nothing: obs["images"] is {} (fast physics-only runs)
    image_size: int | tuple[int, int] = 128
    control_mode: str = "ee_delta"
    max_episode_steps: int | None = None  # None: the task's default
    control_hz: float = 10.0
    seed: int | None = None
    render_mode: str | None = None
    terminate_on_success: bool = True

    def __post_init__(self):
        if self.task not in ALL_TASKS:
            raise ValueError(f"TabletopConfig.task must be one of {sorted(ALL_TASKS)}, got {self.task!r}")
        self.cameras = tuple(self.cameras)
        bad = [c for c in self.cameras if c not in CAMERAS]
        if bad:
            raise ValueError(f"TabletopConfig.cameras must be a subset of {CAMERAS}, got {self.cameras}")
        size = (self.image_size, self.image_size) if isinstance(self.image_size, int) else tuple(self.image_size)
        if len(size) != 2 or min(size) < 8 or max(size) > 1024:
            raise ValueError(f"TabletopConfig.image_size must be an int or (H, W) in [8, 1024], got {self.image_size}")
        self.image_size = (int(size[0]), int(size[1]))
        if self.control_mode not in CONTROL_MODES:
            raise ValueError(f"TabletopConfig.control_mode must be one of {CONTROL_MODES}, got {self.control_mode!r}")
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise ValueError(f"TabletopConfig.max_episode_steps must be >= 1 or None, got {self.max_episode_steps}")
        if not 1.0 <= self.control_hz <= 100.0:
            raise ValueError(f"TabletopConfig.control_hz must be in [1, 100], got {self.control_hz}")
        if self.render_mode not in (None, "rgb_array"):
            raise ValueError(f"TabletopConfig.render_mode must be None or 'rgb_array', got {self.render_mode!r}")


class TabletopEnv(gym.Env):
    """A Panda-like arm, blocks and bowls on a table, and a language task (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    state_names = STATE_NAMES
    state_units = STATE_UNITS

    def __init__(self, task: str = "pick", **kwargs):
        self.config = TabletopConfig(task=task, **kwargs)
        self.task: Task = ALL_TASKS[self.config.task]()
        self.render_mode = self.config.render_mode
        self.metadata = {**self.metadata, "render_fps": self.config.control_hz}
        self.max_episode_steps = self.config.max_episode_steps or self.task.max_steps
        self.physics = Physics(self.task.spec, self.config.control_hz)
        self.ik = DiffIK(self.physics.model, self.physics.home)
        self._renderer = CameraRenderer(self.physics.model)
        self._default_seed = self.config.seed
        self._np_random_seeded = False
        self.episode: Episode | None = None
        self._steps = 0
        self._clipped_total = 0
        self._touched: set[str] = set()
        self._last_obs: dict | None = None
        self._target: tuple[np.ndarray, np.ndarray] | None = None  # last commanded TCP pose (ee_delta mode)
        self._last_gripper = 1.0
        self._define_spaces()

    # ---- spaces -------------------------------------------------------------------------------------
    def _define_spaces(self) -> None:
        h, w = self.config.image_size
        image = gym.spaces.Box(0, 255, (h, w, 3), np.uint8)
        self.observation_space = gym.spaces.Dict({
            "images": gym.spaces.Dict({c: image for c in self.config.cameras}),
            "state": gym.spaces.Box(-np.inf, np.inf, (len(STATE_NAMES),), np.float32),
            "instruction": gym.spaces.Text(max_length=256, charset=string.printable),
        })
        if self.config.control_mode == "ee_delta":
            high = np.array([MAX_DPOS] * 3 + [MAX_DROT] * 3 + [1.0], np.float32)
            low = -high
            self.action_names, self.action_units = EE_ACTION_NAMES, EE_ACTION_UNITS
        else:
            low = np.append(self.ik.low, -1.0).astype(np.float32)
            high = np.append(self.ik.high, 1.0).astype(np.float32)
            self.action_names = tuple(f"joint{i}" for i in range(1, 8)) + ("gripper",)
            self.action_units = ("rad",) * 7 + ("1",)
        self.action_space = gym.spaces.Box(low, high, dtype=np.float32)
        if self.config.seed is not None:
            self.action_space.seed(self.config.seed)

    # ---- gymnasium API ------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Sample a new episode (layout + instruction) and return (obs, info). Same seed -> same episode."""
        if seed is None and not self._np_random_seeded:
            seed = self._default_seed
        super().reset(seed=seed)
        self._np_random_seeded = True
        self.episode = self.task.sample(self.np_random)
        self.physics.reset(self.episode, self.np_random, self.ik)
        self._steps = 0
        self._clipped_total = 0
        self._touched = set()
        self._target = None
        self._last_gripper = 1.0  # episodes start with the gripper open
        obs = self._observe()
        self._last_obs = obs
        return obs, self._info(clipped=0)

    def step(self, action):
        """Apply one 0.1 s control step; returns (obs, reward, terminated, truncated, info)."""
        if self.episode is None:
            raise RuntimeError("call reset() before step()")
        act, clipped = self._check_action(action)
        self._steps += 1
        self._clipped_total += clipped
        q_target = self._joint_targets(act)
        self._last_gripper = float(act[-1])
        error = self.physics.advance(q_target, float(act[-1]))
        truncated = self._steps >= self.max_episode_steps
        if error is not None:
            info = {"success": False, "reward_terms": {}, "clipped": clipped, "error": error,
                    "clipped_total": self._clipped_total, "steps": self._steps}
            return self._last_obs, 0.0, True, truncated, info
        self._touched |= set(self.physics.touched_objects())
        obs = self._observe()
        self._last_obs = obs
        info = self._info(clipped)
        terminated = bool(info["success"] and self.config.terminate_on_success)
        return obs, float(sum(info["reward_terms"].values())), terminated, truncated, info

    def noop_action(self) -> np.ndarray:
        """The action that holds the arm still and the gripper as last commanded (open after reset).

        ee_delta: zero deltas; joint mode: the current joint positions. The noop baseline plays this.
        """
        gripper = self._last_gripper
        if self.config.control_mode == "joint":
            return np.append(self.physics.arm_qpos(), gripper).astype(np.float32)
        return np.append(np.zeros(6), gripper).astype(np.float32)

    def render(self):
        """The front camera (or the first configured one) at the configured size, for rgb_array mode."""
        if self.render_mode != "rgb_array":
            raise ValueError(f"render() needs render_mode='rgb_array', this env has {self.render_mode!r}")
        cam = self.config.cameras[0] if self.config.cameras and "front" not in self.config.cameras else "front"
        return self._renderer.render(self.physics.data, cam, *self.config.image_size)

    def close(self):
        """Close the GL renderers first: they hold the model's textures and must go before the model."""
        self._renderer.close()

    # ---- actions ------------------------------------------------------------------------------------
    def _check_action(self, action) -> tuple[np.ndarray, int]:
        arr = np.asarray(action, dtype=np.float64)
        if arr.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape} ({', '.join(self.action_names)}), "
                             f"got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"action has non-finite values {arr.tolist()}; a robot never moves on NaN/inf")
        low, high = self.action_space.low.astype(np.float64), self.action_space.high.astype(np.float64)
        clipped = int(np.sum((arr < low) | (arr > high)))
        return np.clip(arr, low, high), clipped

    def _joint_targets(self, act: np.ndarray) -> np.ndarray:
        """Arm joint position targets (7,) for a clipped action."""
        q = self.physics.arm_qpos()
        if self.config.control_mode == "joint":
            self._target = None
            return act[:7]
        pos, quat = self._anchor_pose()
        target_quat = np.empty(4)
        mujoco.mju_mulQuat(target_quat, rotvec_to_quat(act[3:6]), quat)
        target_pos = pos + act[:3]
        self._target = (target_pos, target_quat)
        return self.ik.solve(q, target_pos, target_quat)

    def _anchor_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """The pose the delta is added to: the previous target while the arm tracks it (within 1 cm and
        0.05 rad), so steady motion integrates exactly; else (blocked, after a joint-mode step or reset) the
        measured pose, so a blocked arm never winds up a large hidden error."""
        pos, quat = self.physics.ee_pose()
        if self._target is not None:
            t_pos, t_quat = self._target
            if np.linalg.norm(t_pos - pos) < 0.01 and np.linalg.norm(quat_error(t_quat, quat)) < 0.05:
                return t_pos, t_quat
        return pos, quat

    # ---- observations -------------------------------------------------------------------------------
    def _observe(self) -> dict:
        h, w = self.config.image_size
        images = {c: self._renderer.render(self.physics.data, c, h, w) for c in self.config.cameras}
        return {"images": images, "state": self.physics.state(), "instruction": self.episode.instruction}

    def _info(self, clipped: int) -> dict:
        success = bool(self.task.success(self))
        return {"success": success, "reward_terms": self.task.reward_terms(self), "clipped": clipped,
                "clipped_total": self._clipped_total, "subgoals": self.task.subgoals(self), "steps": self._steps}

    # ---- scene introspection (planners, affordances, experts) ---------------------------------------
    def scene_objects(self) -> list[SceneObject]:
        """The episode's objects: `name` ("red block"), `kind` ("block"/"bowl"), `color`, `position` (3,)."""
        return self.physics.scene_objects()

    def object_position(self, name: str) -> np.ndarray:
        """World position (3,) of object `name` (a block's center, a bowl's floor center)."""
        return self.physics.object_position(name)

    def object_yaw(self, name: str) -> float:
        """Yaw (rad) of object `name` about world z."""
        return self.physics.object_yaw(name)

    def ee_position(self) -> np.ndarray:
        """World position (3,) of the TCP (between the fingertips)."""
        return self.physics.ee_pose()[0]

    def held_object(self) -> str | None:
        """Name of the block the gripper holds (pinched by both fingers), or None."""
        for obj in self.physics.scene_objects():
            if obj.kind == "block" and predicates.is_held(self, obj.name):
                return obj.name
        return None

    def touched_objects(self) -> set[str]:
        """Names of the objects the robot has touched since reset (for touch-type goals)."""
        return set(self._touched)
