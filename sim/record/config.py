"""The typed schema of `vla-record` (conf/record.yaml selects and overrides it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vla.data.format import VIDEO_CODECS


@dataclass
class RecordConfig:
    """What to record, where, and how.

    tasks: suite names ("tabletop/basic") or task ids ("metaworld/reach-v3"), see `sim.registry`.
    episodes_per_task: seeds seed, seed+1, ... per task; a (task, seed) already in the dataset (or tried and
      failed, when keep_failed is false) is skipped, so a rerun resumes.
    keep_failed: also keep episodes where the expert did not succeed (default: successes only).
    action_noise: DART-style noise injection (Laskey et al. 2017): the env executes the expert's action plus
      zero-mean Gaussian noise of this std, in units of half the action space's range per dimension
      (clipped to the space), while the dataset keeps the expert's clean action as the label. The expert
      servoes from wherever the noise took the arm, so the data shows how to recover from small errors
      that a cloned policy makes and would otherwise never have seen. A list gives one std per action
      dimension (e.g. [0.15, 0.15, 0.15, 0, 0, 0, 0]: tabletop position only; rotation noise tilts the
      fingers and makes half the pick grasps fail). 0 (default): no noise.
    codec: video codec of the cameras (vla/data/format.py): "h264" (LeRobot's usual 4:2:0), "av1", or
      "h264-444", lossless 4:4:4, for small images: at 64 px 4:2:0 turns 4-px colored blocks grey.
    """

    tasks: list[str] = field(default_factory=lambda: ["tabletop/pick"])
    episodes_per_task: int = 10
    seed: int = 0
    out: str = "outputs/data/record"
    workers: int = 1
    cameras: list[str] | None = None
    image_size: int | None = None
    max_episode_steps: int | None = None
    replan_every: int | None = None
    keep_failed: bool = False
    action_noise: Any = 0.0  # float or list of floats (OmegaConf structured configs take no such Union)
    codec: str = "h264"
    progress: bool = True
    start_method: str = "spawn"
    env_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ValueError("RecordConfig.tasks must name at least one suite or task, got []")
        if self.episodes_per_task < 1:
            raise ValueError(f"RecordConfig.episodes_per_task must be >= 1, got {self.episodes_per_task}")
        if self.workers < 1:
            raise ValueError(f"RecordConfig.workers must be >= 1, got {self.workers}")
        if self.image_size is not None and self.image_size < 8:
            raise ValueError(f"RecordConfig.image_size must be >= 8 or null, got {self.image_size}")
        if self.replan_every is not None and self.replan_every < 1:
            raise ValueError(f"RecordConfig.replan_every must be >= 1 or null, got {self.replan_every}")
        stds = self.action_noise if isinstance(self.action_noise, (list, tuple)) else [self.action_noise]
        if not stds or not all(isinstance(x, (int, float)) and 0.0 <= x < 1.0 for x in stds):
            raise ValueError(f"RecordConfig.action_noise must be a std in [0, 1) (half-ranges of the action space) "
                             f"or a non-empty list of them, one per action dimension, got {self.action_noise!r}")
        if isinstance(self.action_noise, (list, tuple)):
            self.action_noise = [float(x) for x in self.action_noise]
        if self.codec not in VIDEO_CODECS:
            raise ValueError(f"RecordConfig.codec must be one of {sorted(VIDEO_CODECS)}, got {self.codec!r}")
        if self.start_method not in ("spawn", "forkserver"):
            raise ValueError(f"RecordConfig.start_method must be 'spawn' or 'forkserver' (never fork: MuJoCo GL "
                             f"contexts do not survive it), got {self.start_method!r}")
        if not self.out:
            raise ValueError("RecordConfig.out must be a directory path, got ''")
