"""What one worker process does: build the envs and policies of a task (kept while jobs stay on that
task), run a job's episodes, and write each finished record.

Workers start with `spawn`/`forkserver` (never `fork`: a forked MuJoCo GL context or torch thread pool
is not safe), so everything here is importable at module level and takes plain picklable arguments.
"""

from __future__ import annotations

import atexit
import os
from typing import Any

from policies.registry import make_policy
from sim.bench.config import BenchConfig
from sim.bench.recorder import VideoRecorder
from sim.bench.rollout import run_group
from sim.bench.store import Job, RunDir
from sim.registry import make_env


class TaskKit:
    """The envs and policies of one task in one worker: `shared` is a policy with
    predict_action_chunk_batch used for all envs, else `policies` holds one policy per env."""

    def __init__(self, task_id: str, cfg: BenchConfig):
        self.task_id, self.cfg = task_id, cfg
        self.envs: list[Any] = []
        self.policies: list[Any] = []
        self.shared: Any = None

    def _make_env(self) -> Any:
        cfg = self.cfg
        return make_env(self.task_id, cameras=tuple(cfg.cameras) if cfg.cameras else None,
                        image_size=cfg.image_size, max_episode_steps=cfg.max_episode_steps, **cfg.env_kwargs)

    def grow(self, k: int) -> None:
        """Make sure there are k envs with their policies."""
        while len(self.envs) < k:
            env = self._make_env()
            self.envs.append(env)
            if self.shared is not None:
                continue
            policy = make_policy(self.cfg.policy, env, self.task_id, **self.cfg.policy_kwargs)
            if self.cfg.batch_envs > 1 and hasattr(policy, "predict_action_chunk_batch"):
                self.shared = policy
            else:
                self.policies.append(policy)

    def close(self) -> None:
        for policy in [*self.policies, self.shared]:
            if policy is not None and hasattr(policy, "close"):
                policy.close()
        for env in self.envs:
            env.close()
        self.envs, self.policies, self.shared = [], [], None


_KIT: dict[str, TaskKit] = {}  # at most one entry: the task this worker process is on
_CLOSE_AT_EXIT: list[bool] = []  # non-empty once close_kit is registered with atexit


def close_kit() -> None:
    for kit in _KIT.values():
        kit.close()
    _KIT.clear()


def init_worker(environ: dict[str, str]) -> None:
    """Process initializer: set the render backend / thread env vars before mujoco or torch load."""
    for key, value in environ.items():
        os.environ.setdefault(key, value)


def _kit_for(task_id: str, cfg: BenchConfig, k: int) -> TaskKit:
    kit = _KIT.get(task_id)
    if kit is None or kit.cfg != cfg:
        close_kit()
        kit = _KIT[task_id] = TaskKit(task_id, cfg)
    kit.grow(k)
    return kit


def _close_at_exit() -> None:
    """Register close_kit once, after the first episode rendered: mujoco registers its EGL teardown when
    the first GL context is made (lazily, at the first render), and atexit runs handlers last-in first-out,
    so ours must come later to close the renderers before the EGL display goes."""
    if not _CLOSE_AT_EXIT:
        atexit.register(close_kit)
        _CLOSE_AT_EXIT.append(True)


def run_job(job: Job, cfg: BenchConfig, root: str) -> list[dict[str, Any]]:
    """Run the job's episodes (in lockstep) and write every record not yet on disk; returns the records."""
    run_dir = RunDir(root)
    n = len(job.indices)
    kit = _kit_for(job.task_id, cfg, n)
    observers = [VideoRecorder(run_dir, job.task_id, i, cfg.video_fps) if i < cfg.videos_per_task else None
                 for i in job.indices]
    executor_kwargs = {"replan_every": cfg.replan_every, "ensemble": cfg.ensemble,
                       "ensemble_decay": cfg.ensemble_decay}
    records = run_group(kit.envs[:n], kit.policies[:n] if kit.shared is None else None, kit.shared,
                        job.task_id, job.indices, job.seeds, executor_kwargs, observers)
    _close_at_exit()
    for record in records:
        if run_dir.load_record(record["task"], record["episode"]) is None:
            run_dir.write_record(record)
    return records
