"""One Meta-World v3 task behind our observation/action contract (DESIGN.md).

Observation: {"images": {camera: uint8[H, W, 3]}, "state": float32[4], "instruction": str}, where state
is the hand (tool centre) position x, y, z in metres (world frame) and the gripper opening in [0, 1]
(0 closed, 1 fully open; Meta-World's normalized finger-pad distance). Action: float32[4] in [-1, 1]:
hand position deltas dx, dy, dz (scaled by 1 cm per step by Meta-World) and the gripper effort
(-1 open ... +1 close, Meta-World's convention). Control runs at `CONTROL_HZ` = 80 Hz (2.5 ms physics
timestep x frame_skip 5), so the default 500-step episode lasts 6.25 s.

Reproducible episodes: `reset(seed=s)` always gives the same episode. The seed drives Meta-World's own
rejection sampler for the object/goal vector (so every constraint a task places on it holds), and the
vector it lands on is then frozen with `set_task` as a Meta-World `Task` (env name + rand_vec), exactly
how Meta-World's MT1/MT10 benchmarks fix their task lists. `reset()` without a seed draws the next
episode seed from the env's RNG (seeded by `make(seed=...)`).

The raw 39-dim Meta-World observation, which includes object and goal poses, stays available as
`env.raw_observation` for privileged scripted experts; policies under evaluation see only the contract.
"""

from __future__ import annotations

import pickle
import string
from typing import Any

import gymnasium as gym
import numpy as np

from sim.metaworld.render import CameraRenderer, check_cameras
from sim.metaworld.tasks import INSTRUCTIONS, TASKS

ACTION_NAMES = ("dx", "dy", "dz", "gripper")
STATE_NAMES = ("hand_x", "hand_y", "hand_z", "gripper_opening")
DEFAULT_CAMERAS = ("corner2",)
DEFAULT_IMAGE_SIZE = 128
DEFAULT_MAX_STEPS = 500  # Meta-World's own max_path_length
CONTROL_HZ = 80


def _check_task(task: str) -> str:
    if task not in INSTRUCTIONS:
        raise KeyError(f"unknown Meta-World task {task!r}; valid tasks: {list(TASKS)}")
    return task


class MetaWorldEnv(gym.Env):
    """A Meta-World v3 task with image observations, our instruction text and checked actions.

    `info` on every step has "success" (bool), "clipped" (how many action components were outside
    [-1, 1] and were clipped this step) and, when the physics blows up, "error" (str; the episode
    then terminates). `terminated` is True on success when `terminate_on_success` (the default, as in
    Meta-World's evaluation), `truncated` after `max_episode_steps`.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": CONTROL_HZ}

    def __init__(self, task: str, *, seed: int | None = None, cameras: tuple[str, ...] | None = None,
                 image_size: int | None = None, max_episode_steps: int | None = None,
                 render_mode: str | None = None, terminate_on_success: bool = True):
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS

        self.task = _check_task(task)
        self.cameras = check_cameras(cameras or DEFAULT_CAMERAS)
        size = DEFAULT_IMAGE_SIZE if image_size is None else int(image_size)
        if size < 8:
            raise ValueError(f"image_size must be >= 8 pixels, got {image_size}")
        self.max_episode_steps = DEFAULT_MAX_STEPS if max_episode_steps is None else int(max_episode_steps)
        if not 1 <= self.max_episode_steps <= DEFAULT_MAX_STEPS:
            raise ValueError(f"max_episode_steps must be in [1, {DEFAULT_MAX_STEPS}], got {max_episode_steps}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.terminate_on_success = bool(terminate_on_success)
        self.instruction = INSTRUCTIONS[task]

        self._env = ALL_V3_ENVIRONMENTS[task]()  # the raw SawyerXYZEnv, no gymnasium wrappers
        self._renderer = CameraRenderer(self._env.model, self.cameras, size, size)
        self._rng = np.random.default_rng(seed)
        self.raw_observation: np.ndarray | None = None
        self.episode_seed: int | None = None
        self._steps = 0
        self._warnings = 0

        self.action_space = gym.spaces.Box(-1.0, 1.0, (len(ACTION_NAMES),), np.float32)
        self.observation_space = gym.spaces.Dict({
            "images": gym.spaces.Dict({c: gym.spaces.Box(0, 255, (size, size, 3), np.uint8) for c in self.cameras}),
            "state": gym.spaces.Box(-np.inf, np.inf, (len(STATE_NAMES),), np.float32),
            "instruction": gym.spaces.Text(max_length=256, charset=string.printable),
        })

    # -- episodes ---------------------------------------------------------------------------------

    def task_for_seed(self, episode_seed: int) -> Any:
        """The Meta-World `Task` (env name + frozen rand_vec) of episode `episode_seed`.

        Runs Meta-World's own reset once with its RNG seeded, so the task-specific rejection loops
        (e.g. goal not on top of the object) pick the vector, then packs it like `metaworld._make_tasks`.
        """
        from metaworld.types import Task

        env = self._env
        env._set_task_called = True
        env._freeze_rand_vec = False
        env.seeded_rand_vec = True
        env.np_random = np.random.default_rng(episode_seed)
        env.reset()
        # partially_observable=False puts the goal into the raw obs (as in Meta-World's MT benchmarks);
        # set_task also drops the cached observation bounds, which would otherwise clip the goal to 0.
        data = {"rand_vec": np.array(env._last_rand_vec), "env_cls": type(env), "partially_observable": False}
        return Task(env_name=self.task, data=pickle.dumps(data))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start the episode for `seed` (or the next one from the env's RNG); returns (obs, info)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.episode_seed = int(self._rng.integers(2**31))
        self._env.set_task(self.task_for_seed(self.episode_seed))
        raw, _ = self._env.reset()  # gymnasium's MujocoEnv.reset runs mj_resetData: no state carried over
        self.raw_observation = raw
        self._steps = 0
        self._warnings = self._warning_count()
        return self._observation(raw), {"success": False, "episode_seed": self.episode_seed,
                                        "rand_vec": self._env._last_rand_vec.tolist()}

    # -- stepping ---------------------------------------------------------------------------------

    def _check_action(self, action: Any) -> tuple[np.ndarray, int]:
        """Validate and clip one action; returns (clipped float64 action, number of clipped components)."""
        arr = np.asarray(action, dtype=np.float64)
        if arr.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape} {ACTION_NAMES}, got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"action has non-finite values: {arr.tolist()}")
        clipped = np.clip(arr, -1.0, 1.0)
        return clipped, int(np.count_nonzero(clipped != arr))

    def noop_action(self) -> np.ndarray:
        """The hold-still action: zero hand deltas, gripper at -1 (open, the command Meta-World resets with)."""
        return np.array([0.0, 0.0, 0.0, -1.0], np.float32)

    def _warning_count(self) -> int:
        import mujoco

        return int(self._env.data.warning[mujoco.mjtWarning.mjWARN_BADQACC].number)

    def step(self, action: Any):
        """Apply one action; returns (obs, reward, terminated, truncated, info)."""
        if self.raw_observation is None:
            raise RuntimeError("call reset() before step()")
        act, n_clipped = self._check_action(action)
        raw, reward, _, _, mw_info = self._env.step(act)
        self._steps += 1
        info: dict[str, Any] = {"success": bool(mw_info["success"]), "clipped": n_clipped}
        qpos = self._env.data.qpos
        if self._warning_count() > self._warnings or not np.all(np.isfinite(qpos)) or not np.all(np.isfinite(raw)):
            info["error"] = f"physics became unstable at step {self._steps} (MuJoCo reset the state or produced NaN)"
            info["success"] = False
        self.raw_observation = raw
        terminated = "error" in info or (self.terminate_on_success and info["success"])
        truncated = self._steps >= self.max_episode_steps and not terminated
        return self._observation(raw), float(reward), bool(terminated), bool(truncated), info

    # -- observations -----------------------------------------------------------------------------

    def _observation(self, raw: np.ndarray) -> dict[str, Any]:
        state = np.asarray(raw[:4], dtype=np.float32)  # hand xyz, gripper opening
        return {"images": self._renderer.render(self._env.data), "state": state, "instruction": self.instruction}

    def render(self) -> np.ndarray | None:
        """The first camera's upright image when render_mode is 'rgb_array'."""
        if self.render_mode != "rgb_array":
            return None
        return self._renderer.render(self._env.data)[self.cameras[0]]

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()  # GL context before the model it draws
            self._renderer = None
        self._env.close()
