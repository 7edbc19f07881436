"""One worker process of `vla-record`: roll out the scripted expert for (task, seed) jobs and write each
finished episode to its own staging dataset, which the parent then appends to the real one.

Workers start with spawn/forkserver (a forked MuJoCo GL context is not safe), so everything here is
importable at module level and takes plain picklable arguments. The env and expert of the current task
are kept between jobs of that task.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from policies.base import ActionChunkExecutor
from policies.registry import make_policy
from sim.record.config import RecordConfig
from sim.registry import make_env
from vla.data import DatasetWriter, camera_key


@dataclass(frozen=True)
class Job:
    order: int  # position in the deterministic plan: the parent appends in this order
    task_id: str
    seed: int


@dataclass
class Result:
    job: Job
    success: bool
    steps: int
    staged: str | None  # staging dataset root, or None when the episode was not kept
    instruction: str


_ENV: dict[str, Any] = {}  # task id -> env, at most one entry


def _env(task_id: str, cfg: RecordConfig) -> Any:
    if task_id not in _ENV:
        for env in _ENV.values():
            env.close()
        _ENV.clear()
        _ENV[task_id] = make_env(task_id, cameras=tuple(cfg.cameras) if cfg.cameras else None,
                                 image_size=cfg.image_size, max_episode_steps=cfg.max_episode_steps, **cfg.env_kwargs)
    return _ENV[task_id]


def features_of(obs: dict[str, Any], action_dim: int) -> dict[str, dict[str, Any]]:
    """Dataset features for an env's observation contract and action size."""
    feats = {camera_key(cam): {"dtype": "video", "shape": list(np.asarray(img).shape)}
             for cam, img in obs["images"].items()}
    feats["observation.state"] = {"dtype": "float32", "shape": [int(np.asarray(obs["state"]).shape[0])], "names": None}
    feats["action"] = {"dtype": "float32", "shape": [action_dim], "names": None}
    return feats


def frame_of(obs: dict[str, Any], action: np.ndarray) -> dict[str, np.ndarray]:
    """The dataset frame (observation_t, action_t) of one control step."""
    frame = {camera_key(cam): np.asarray(img) for cam, img in obs["images"].items()}
    frame["observation.state"] = np.asarray(obs["state"], dtype=np.float32)
    frame["action"] = np.asarray(action, dtype=np.float32)
    return frame


def perturbed(action: np.ndarray, space: Any, std: float | list[float], rng: np.random.Generator) -> np.ndarray:
    """`action` plus Gaussian noise of `std` half-ranges of the Box `space` (one std for every dimension, or
    one per dimension), clipped to the space."""
    half = (np.asarray(space.high, np.float64) - np.asarray(space.low, np.float64)) / 2  # (A,)
    if np.ndim(std) and len(std) != half.shape[0]:
        raise ValueError(f"action_noise lists {len(std)} stds, the action space has {half.shape[0]} dimensions")
    std = np.asarray(std, np.float64)  # () or (A,)
    noisy = np.asarray(action, np.float64) + std * half * rng.standard_normal(half.shape)
    return np.clip(noisy, space.low, space.high).astype(np.float32)


def record_job(job: Job, cfg: RecordConfig, staging: str) -> Result:
    """Roll out the expert for `job`; keep the episode in `staging/<order>` when it succeeded (or keep_failed).
    With `cfg.action_noise` the env executes a perturbed action (seeded by the job) and the frame keeps the
    expert's own."""
    env = _env(job.task_id, cfg)
    obs, info = env.reset(seed=job.seed)
    policy = make_policy("scripted", env, job.task_id)
    executor = ActionChunkExecutor(policy, replan_every=cfg.replan_every, action_dim=env.action_space.shape[0])
    executor.reset(obs["instruction"])
    root = Path(staging) / f"{job.order:06d}"
    if root.exists():
        shutil.rmtree(root)  # a leftover of a killed run
    fps = int(round(env.metadata["render_fps"]))
    writer = DatasetWriter.create(root, fps, features_of(obs, env.action_space.shape[0]), codec=cfg.codec)
    instruction, success, steps = obs["instruction"], False, 0
    noise_rng = np.random.default_rng([job.seed, 30011])
    noisy = bool(np.any(np.asarray(cfg.action_noise) > 0))
    try:
        while True:
            action = executor(obs)
            writer.add_frame(frame_of(obs, action))
            if noisy:
                action = perturbed(action, env.action_space, cfg.action_noise, noise_rng)
            obs, _, terminated, truncated, info = env.step(action)
            steps += 1
            success = success or bool(info.get("success", False))
            if terminated or truncated:
                break
        if success or cfg.keep_failed:
            writer.save_episode(instruction, extra={"record/task_id": job.task_id, "record/seed": job.seed,
                                                    "record/success": success,
                                                    "record/action_noise": json.dumps(cfg.action_noise)})
    finally:
        writer.close()
    if not (success or cfg.keep_failed):
        shutil.rmtree(root, ignore_errors=True)
        return Result(job, success, steps, None, instruction)
    return Result(job, success, steps, str(root), instruction)


def init_worker(environ: dict[str, str]) -> None:
    """Pool initializer: render backend and one thread per worker before mujoco loads."""
    os.environ.update(environ)


def close_envs() -> None:
    for env in _ENV.values():
        env.close()
    _ENV.clear()
