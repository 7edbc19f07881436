"""Video of an episode as an observer of the rollout: all cameras side by side, one frame per step.

At the end it writes the MP4 and the first/last frames as PNGs (for the run's contact sheet), before the
runner writes the episode record, so a record on disk implies its media are complete.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.bench.store import RunDir
from vla.media import save_png, write_mp4


class VideoRecorder:
    """Collects frames of one episode and writes `videos/<task>/ep_XXXX.mp4` + first/last PNGs."""

    def __init__(self, run_dir: RunDir, task_id: str, index: int, fps: float):
        self.run_dir, self.task_id, self.index, self.fps = run_dir, task_id, index, fps
        self.frames: list[np.ndarray] = []

    def on_obs(self, obs: dict[str, Any]) -> None:
        images = obs["images"]
        self.frames.append(np.concatenate([images[name] for name in images], axis=1))  # (H, W * cams, 3)

    def on_end(self, record: dict[str, Any]) -> None:
        if not self.frames:  # the env failed before its first observation
            return
        write_mp4(self.run_dir.video_path(self.task_id, self.index), self.frames, fps=self.fps)
        save_png(self.run_dir.frame_path(self.task_id, self.index, "first"), self.frames[0])
        save_png(self.run_dir.frame_path(self.task_id, self.index, "last"), self.frames[-1])
        record["video"] = str(self.run_dir.video_path(self.task_id, self.index).relative_to(self.run_dir.root))
        self.frames = []
