"""Read LeRobotDataset v3.0 datasets (ours or LeRobot's): metadata, frames, whole episodes.

    ds = DatasetReader("out/ds")
    ds.meta.fps, ds.meta.features, ds.meta.tasks, ds.stats
    len(ds)                      # frames
    ds.frame(i)                  # {key: value, ..., "task": str}; camera keys decoded to uint8 (H, W, 3)
    ds.episode_frames(ep)        # {key: (T, ...)} for one episode, cameras as (T, H, W, 3)

Numeric columns are loaded into memory once (they are small next to the videos); camera frames are decoded
on demand by one `VideoReader` per MP4 file, opened lazily and never pickled, so a reader handed to
DataLoader workers opens its own decoders in each worker.
"""

from __future__ import annotations

import os
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vla.data import journal
from vla.data.format import column_to_numpy
from vla.data.meta import DatasetMeta
from vla.data.stats import Stats
from vla.data.video import VideoReader


class DatasetReader:
    """Random access to a dataset's frames; see the module docstring."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        try:
            journal.recover_if_idle(self.root)
        except OSError:  # read-only copy: nothing to recover there, and no lock to take
            pass
        with _shared_commit_lock(self.root):  # a concurrent writer's commit is seen whole or not at all
            self.meta = DatasetMeta.load(self.root)
            self.columns = _load_columns(self.meta)  # key -> (N,) or (N, n)
            self._png = _load_columns(self.meta, self.meta.image_keys)  # key -> PNG struct column ("image")
        n = self.meta.num_frames
        index = self.columns.get("index")
        if index is None or len(index) != n or not np.array_equal(index, np.arange(n)):
            raise ValueError(f"{self.root}: data files hold {0 if index is None else len(index)} frames whose "
                             f"'index' is not 0..{n - 1} as meta/episodes says (run `vla-dataset validate`)")
        self.episode_index = self.columns["episode_index"].astype(np.int64)
        self._videos: dict[Path, VideoReader] = {}
        self._pid = os.getpid()
        self._inherited: list[VideoReader] = []

    def __len__(self) -> int:
        return self.meta.num_frames

    @property
    def stats(self) -> dict[str, Stats]:
        """Dataset statistics from meta/stats.json (key -> {min, max, mean, std, count, q01, ...})."""
        return self.meta.stats

    def numeric(self, key: str, indices: np.ndarray | int) -> np.ndarray:
        """Values of a numeric feature at global frame indices."""
        return self.columns[key][indices]

    def camera_frames(self, key: str, episode: int, frame_indices: np.ndarray | list[int]) -> np.ndarray:
        """Camera `key` frames (T, H, W, 3) uint8 at frame indices within `episode` (video or PNG storage)."""
        if key in self._png:
            import imageio.v3 as iio

            lo = int(self.meta.episodes[episode]["dataset_from_index"])
            cells = [self._png[key][lo + int(i)].as_py()["bytes"] for i in frame_indices]
            return np.stack([_rgb(iio.imread(c, extension=".png")) for c in cells])  # (T, H, W, 3)
        return self.video_frames(key, episode, frame_indices)

    def video_frames(self, key: str, episode: int, frame_indices: np.ndarray | list[int]) -> np.ndarray:
        """Video camera `key` frames (T, H, W, 3) uint8 at frame indices within `episode`."""
        ep = self.meta.episodes[episode]
        reader = self._video(self.meta.video_path(ep, key))
        start = int(round(float(ep[f"videos/{key}/from_timestamp"]) * self.meta.fps))
        return reader.frames(np.asarray(frame_indices, dtype=np.int64) + start)

    def _video(self, path: Path) -> VideoReader:
        if self._pid != os.getpid():  # forked (a DataLoader worker): the parent's decoders are not ours.
            # Keep them referenced but unused: freeing an inherited FFmpeg context in the child waits on
            # decoder threads that do not exist there, and the worker hangs.
            self._inherited = list(self._videos.values())
            self._videos, self._pid = {}, os.getpid()
        if path not in self._videos:
            self._videos[path] = VideoReader(path, self.meta.fps)
        return self._videos[path]

    def frame(self, i: int, decode_images: bool = True) -> dict[str, Any]:
        """Frame `i` (global index) as {key: value}, plus its "task" text."""
        if not 0 <= i < len(self):
            raise IndexError(f"frame index {i} out of range 0..{len(self) - 1}")
        out: dict[str, Any] = {k: v[i] for k, v in self.columns.items()}
        ep, fi = int(out["episode_index"]), int(out["frame_index"])
        if decode_images:
            for key in self.meta.camera_keys:
                out[key] = self.camera_frames(key, ep, [fi])[0]
        out["task"] = self.meta.tasks[int(out["task_index"])]
        return out

    def episode_frames(self, episode: int, decode_images: bool = True) -> dict[str, Any]:
        """Every frame of `episode`: numeric keys (T, ...), camera keys (T, H, W, 3), and "task"."""
        if not 0 <= episode < len(self.meta.episodes):
            raise IndexError(f"episode {episode} out of range 0..{len(self.meta.episodes) - 1}")
        ep = self.meta.episodes[episode]
        lo, hi = int(ep["dataset_from_index"]), int(ep["dataset_to_index"])
        out: dict[str, Any] = {k: v[lo:hi] for k, v in self.columns.items()}
        if decode_images:
            for key in self.meta.camera_keys:
                out[key] = self.camera_frames(key, episode, np.arange(hi - lo))
        out["task"] = ep["tasks"][0] if ep.get("tasks") else self.meta.tasks[int(out["task_index"][0])]
        return out

    def close(self) -> None:
        for reader in self._videos.values():
            reader.close()
        self._videos = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_videos"], state["_inherited"] = {}, []  # decoders are per process
        return state


def _rgb(img: np.ndarray) -> np.ndarray:
    """A decoded PNG as RGB uint8 (H, W, 3): gray is repeated, alpha dropped."""
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]


@contextmanager
def _shared_commit_lock(root: Path) -> Iterator[None]:
    with ExitStack() as stack:
        try:
            stack.enter_context(journal.commit_lock(root, shared=True))
        except OSError:  # read-only copy: no lock file can be made, and no writer can be active there
            pass
        yield


def _load_columns(meta: DatasetMeta, keys: list[str] | None = None) -> dict[str, Any]:
    """Numeric columns (or the raw Arrow columns of `keys`) of every data file, concatenated in file order
    (which is frame index order)."""
    raw = keys is not None
    feats = {k: meta.features[k] for k in (keys if raw else meta.numeric_keys)}
    if not feats:
        return {}
    rows: dict[Path, int] = {}  # data file -> frames the committed episodes own in it (in file order)
    for ep in meta.episodes:
        p = meta.data_path(ep)
        rows[p] = rows.get(p, 0) + int(ep["length"])
    parts: dict[str, list[Any]] = {k: [] for k in feats}
    for path, n in rows.items():
        table = pq.read_table(path, columns=list(feats)).slice(0, n)  # a partial tail is not data
        for k, ft in feats.items():
            parts[k].append(table[k] if raw else column_to_numpy(table[k], ft))
    if raw:
        return {k: pa.chunked_array([c for part in v for c in part.chunks]) for k, v in parts.items()}
    return {k: np.concatenate(v) if v else np.zeros(0, feats[k]["dtype"]) for k, v in parts.items()}
