"""The typed schema of `vla-bench` (conf/bench.yaml composes and overrides it; `main()` converts to it).

`BenchConfig.episode_fields()` names the settings that decide what an episode *is* (policy, tasks,
seeds, env settings, chunk execution); they are fingerprinted into the output directory, so a rerun of
the same command resumes in the same place and a changed setting never mixes its episodes with old ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

START_METHODS = ("spawn", "forkserver")
# Settings that change the episodes themselves; everything else (workers, progress, ...) only changes
# how fast they are produced.
EPISODE_FIELDS = ("policy", "policy_kwargs", "tasks", "seed", "max_episode_steps", "cameras", "image_size",
                  "env_kwargs", "replan_every", "ensemble", "ensemble_decay", "batch_envs")


@dataclass
class BenchConfig:
    """One benchmark run: `policy` on `tasks`, `episodes` episodes per task."""

    policy: str = "scripted"  # a name in policies.registry.ALL_POLICIES
    policy_kwargs: Dict[str, Any] = field(default_factory=dict)
    # suites and/or task ids; a single string is accepted too (tasks=metaworld/mt10 on the command line)
    tasks: Any = field(default_factory=lambda: ["metaworld/mt10"])
    episodes: int = 10  # per task
    seed: int = 0  # base seed; episode seeds derive from (seed, task id, episode index)
    max_episode_steps: Optional[int] = None  # None: the env's default
    cameras: Optional[List[str]] = None  # None: the env's default cameras
    image_size: Optional[int] = None
    env_kwargs: Dict[str, Any] = field(default_factory=dict)  # extra kwargs for the family's make()
    replan_every: Optional[int] = None  # ActionChunkExecutor: None plays whole chunks
    ensemble: bool = False  # ActionChunkExecutor temporal ensembling
    ensemble_decay: float = 0.01
    batch_envs: int = 1  # envs of one task stepped in lockstep by one worker
    workers: int = 2  # worker processes; 0 runs everything in this process
    start_method: str = "spawn"
    videos_per_task: int = 1  # MP4s of the first k episodes of each task
    video_fps: float = 20.0
    out_dir: Optional[str] = None  # None: outputs/bench/<policy>-<fingerprint>
    progress: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.tasks, str):
            self.tasks = [self.tasks]
        self.tasks = list(self.tasks)
        if not all(isinstance(t, str) for t in self.tasks):
            raise ValueError(f"bench.tasks must be suite names or task ids (strings), got {self.tasks!r}")
        if not self.tasks:
            raise ValueError("bench.tasks must name at least one suite or task id, got []")
        for name in ("episodes", "batch_envs"):
            if getattr(self, name) < 1:
                raise ValueError(f"bench.{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("workers", "videos_per_task"):
            if getattr(self, name) < 0:
                raise ValueError(f"bench.{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("max_episode_steps", "image_size", "replan_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"bench.{name} must be >= 1 or null, got {value!r}")
        if self.start_method not in START_METHODS:
            raise ValueError(f"bench.start_method must be one of {START_METHODS}, got {self.start_method!r}")
        if not self.video_fps > 0:
            raise ValueError(f"bench.video_fps must be > 0, got {self.video_fps!r}")
        if self.ensemble and self.replan_every is not None:
            raise ValueError("bench.ensemble queries the policy every step; leave replan_every null with it, "
                             f"got replan_every={self.replan_every!r}")
        if self.cameras is not None:
            self.cameras = list(self.cameras)

    def episode_settings(self) -> dict[str, Any]:
        """The settings that define the episodes (see module docstring), as plain JSON-able values."""
        full = asdict(self)
        return {name: full[name] for name in EPISODE_FIELDS}

    def fingerprint(self) -> str:
        """A short stable hash of `episode_settings()`."""
        blob = json.dumps(self.episode_settings(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    def resolved_out_dir(self) -> str:
        return self.out_dir or f"outputs/bench/{self.policy}-{self.fingerprint()}"
