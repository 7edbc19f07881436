"""The output directory of a benchmark run: what is planned, what is finished, where files go.

Layout (all files written atomically through `vla.io`):
    run.json                              the episode-defining settings and their fingerprint
    episodes/<task>/ep_0003.json          one record per finished episode (written last: its presence
                                          means the episode, its video and frames are complete)
    videos/<task>/ep_0000.mp4             the first `videos_per_task` episodes of each task
    frames/<task>/ep_0000_{first,last}.png   first/last frames of those episodes (for the contact sheet)
    results.json, results.md, contact_sheet.png
A task id's "/" becomes "__" in file names. A rerun skips every episode whose record exists.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vla.io import atomic_write_json


def episode_seed(base_seed: int, task_id: str, index: int) -> int:
    """The env seed of episode `index` of `task_id`: a stable hash (not Python's salted `hash`), so it
    is the same in every process, on every machine, and independent of the other tasks in the run."""
    digest = hashlib.sha256(f"{int(base_seed)}/{task_id}/{int(index)}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


@dataclass(frozen=True)
class Job:
    """Episodes of one task that one worker runs together (in lockstep when there are several)."""

    task_id: str
    indices: tuple[int, ...]
    seeds: tuple[int, ...]


def task_slug(task_id: str) -> str:
    return task_id.replace("/", "__")


class RunDir:
    """Paths and records of one run's output directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def episode_path(self, task_id: str, index: int) -> Path:
        return self.root / "episodes" / task_slug(task_id) / f"ep_{index:04d}.json"

    def video_path(self, task_id: str, index: int) -> Path:
        return self.root / "videos" / task_slug(task_id) / f"ep_{index:04d}.mp4"

    def frame_path(self, task_id: str, index: int, which: str) -> Path:
        return self.root / "frames" / task_slug(task_id) / f"ep_{index:04d}_{which}.png"

    def claim(self, settings: dict[str, Any], fingerprint: str) -> None:
        """Record the run's settings, or check they match the ones already recorded here.

        Raises ValueError when the directory holds episodes of different settings: mixing them would
        give a table that no single command produces.
        """
        path = self.root / "run.json"
        mine = {"fingerprint": fingerprint, "episode_settings": json.loads(json.dumps(settings, default=str))}
        if path.exists():
            theirs = json.loads(path.read_text())
            if theirs.get("fingerprint") != fingerprint:
                diff = {k: (theirs.get("episode_settings", {}).get(k), v)
                        for k, v in mine["episode_settings"].items()
                        if theirs.get("episode_settings", {}).get(k) != v}
                raise ValueError(f"{self.root} holds a run with other settings (recorded, now): {diff}; "
                                 "use another out_dir or delete that one")
            return
        atomic_write_json(path, mine)

    def remove_stale_temps(self) -> int:
        """Delete temporary files that a killed run left behind (`vla.io` writes `.<name>.*.tmp` beside
        each target); returns how many. Only call this when no other run writes to this directory."""
        stale = [p for sub in ("episodes", "videos", "frames") for p in (self.root / sub).rglob(".*.tmp")]
        for path in stale:
            path.unlink(missing_ok=True)
        return len(stale)

    def load_record(self, task_id: str, index: int) -> dict[str, Any] | None:
        """The finished episode's record, or None if it has not finished."""
        path = self.episode_path(task_id, index)
        if not path.exists():
            return None
        return json.loads(path.read_text())

    def write_record(self, record: dict[str, Any]) -> None:
        atomic_write_json(self.episode_path(record["task"], record["episode"]), record)


def plan_jobs(task_ids: list[str], episodes: int, base_seed: int, group: int) -> list[Job]:
    """Split each task's episodes 0..episodes-1 into consecutive groups of `group`, with their seeds.

    Groups are fixed by the settings alone, so a resumed run rebuilds exactly the same lockstep batches.
    """
    jobs = []
    for task_id in task_ids:
        for start in range(0, episodes, group):
            idx = tuple(range(start, min(start + group, episodes)))
            jobs.append(Job(task_id, idx, tuple(episode_seed(base_seed, task_id, i) for i in idx)))
    return jobs
