"""Write LeRobotDataset v3.0 datasets episode by episode, crash-safe and appendable.

    w = DatasetWriter.create("out/ds", fps=10, features={
            "observation.images.front": {"dtype": "video", "shape": [128, 128, 3]},
            "observation.state": {"dtype": "float32", "shape": [8], "names": None},
            "action": {"dtype": "float32", "shape": [7], "names": None}}, robot_type="tabletop")
    for step in rollout:
        w.add_frame({"observation.images.front": rgb, "observation.state": s, "action": a})
    w.save_episode(task="pick up the red cube")     # or w.discard_episode()
    w.close()
    w = DatasetWriter.open("out/ds")                # later: appends after the last episode

Frames are checked as they arrive (keys, dtype, shape, finite values; errors name the key). Camera frames
stream into an MP4 encoder, numeric values stay in memory until `save_episode`, which commits the episode
atomically through `journal.commit`: a SIGKILL at any moment leaves every saved episode intact and the
next `open` continues after them. Episodes are appended to the current data/video/episodes files (each
rewritten whole and renamed into place) until a file reaches its size limit, then a new file starts.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vla.data import journal
from vla.data import stats as st
from vla.data.columns import check_value, codec_of, load_numeric, to_arrow
from vla.data.format import (DEFAULT_CHUNK_SIZE, DEFAULT_DATA_FILE_SIZE_IN_MB, DEFAULT_FEATURES,
                             DEFAULT_VIDEO_CODEC, DEFAULT_VIDEO_FILE_SIZE_IN_MB, EPISODES_PATH, INFO_PATH,
                             STATS_PATH, TASKS_PATH, data_schema, is_video, make_info, next_file,
                             validate_features)
from vla.data.meta import DatasetMeta, episode_stats, tasks_table
from vla.data.video import EpisodeVideoEncoder, concat_videos
from vla.io import atomic_write_json

MB = 1024 * 1024
# Besides LeRobot's size limits, a data/video file also closes after this many frames: every commit rewrites
# (parquet) or remuxes (MP4, ~55k packets/s here) the open file whole, so its frame count bounds the cost
# of a commit (~0.4 s at 20k frames) however small the frames compress. File boundaries are free in v3.0.
MAX_FRAMES_PER_FILE = 20_000


class DatasetWriter:
    """Appends episodes to one dataset; holds the dataset's writer lock until `close()`."""

    def __init__(self, root: Path, meta: DatasetMeta, lock: journal.WriterLock):
        self.root, self.meta, self._lock = root, meta, lock
        feats = meta.features
        self.user_features = {k: ft for k, ft in feats.items() if k not in DEFAULT_FEATURES}
        if meta.image_keys:
            raise ValueError(f"{root}: appending to features stored as PNG in parquet (dtype 'image': "
                             f"{meta.image_keys}) is not supported; this writer stores cameras as video")
        self.codec = codec_of(feats)
        self._history = load_numeric(meta)  # key -> (N, n) committed values, for exact dataset stats
        self._buffer: dict[str, list[np.ndarray]] = {}
        self._encoders: dict[str, EpisodeVideoEncoder] = {}
        self._image_stats: dict[str, st.ImageStatsAccumulator] = {}
        self._stage: Path | None = None
        self._closed = False
        self.max_frames_per_file = MAX_FRAMES_PER_FILE

    # ---- opening -------------------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, fps: int, features: dict[str, dict[str, Any]], robot_type: str | None = None,
               codec: str = DEFAULT_VIDEO_CODEC, chunks_size: int = DEFAULT_CHUNK_SIZE,
               data_files_size_in_mb: int = DEFAULT_DATA_FILE_SIZE_IN_MB,
               video_files_size_in_mb: int = DEFAULT_VIDEO_FILE_SIZE_IN_MB) -> "DatasetWriter":
        """Start a new dataset at `root` (which must not exist, or be an empty directory)."""
        root = Path(root)
        if root.exists() and any(not p.name.startswith(".") for p in root.iterdir()):  # hidden: locks, tools' state
            raise FileExistsError(f"cannot create a dataset at {root}: it exists and is not empty "
                                  f"(use DatasetWriter.open to append)")
        info = make_info(fps, validate_features(features), robot_type, codec, chunks_size,
                         data_files_size_in_mb, video_files_size_in_mb)
        root.mkdir(parents=True, exist_ok=True)
        lock = journal.WriterLock(root)
        atomic_write_json(root / INFO_PATH, info, indent=4)
        return cls(root, DatasetMeta(root, info), lock)

    @classmethod
    def open(cls, root: str | Path) -> "DatasetWriter":
        """Reopen an existing dataset to append; finishes or drops an interrupted commit first."""
        root = Path(root)
        if not (root / INFO_PATH).exists():
            raise FileNotFoundError(f"no dataset at {root} ({INFO_PATH} missing); use DatasetWriter.create")
        lock = journal.WriterLock(root)
        try:
            journal.recover(root)
            return cls(root, DatasetMeta.load(root, with_episode_stats=True), lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def create_or_open(cls, root: str | Path, fps: int, features: dict[str, dict[str, Any]],
                       **kwargs: Any) -> "DatasetWriter":
        """Open `root` if it holds a dataset with the same fps and features, else create it."""
        root = Path(root)
        if not (root / INFO_PATH).exists():
            return cls.create(root, fps, features, **kwargs)
        writer = cls.open(root)
        try:
            writer._check_same(fps, validate_features(features))
        except ValueError:
            writer.close()
            raise
        return writer

    def _check_same(self, fps: int, features: dict[str, dict[str, Any]]) -> None:
        if fps != self.meta.fps:
            raise ValueError(f"dataset {self.root} has fps {self.meta.fps}, asked for {fps}")
        have = self.user_features
        for key in sorted(set(have) | set(features)):
            if key not in have or key not in features:
                raise ValueError(f"feature {key!r} is {'missing from' if key not in have else 'not asked for but in'} "
                                 f"dataset {self.root}")
            if (have[key]["dtype"], have[key]["shape"]) != (features[key]["dtype"], features[key]["shape"]):
                raise ValueError(f"feature {key!r}: dataset has {have[key]['dtype']} {have[key]['shape']}, "
                                 f"asked for {features[key]['dtype']} {features[key]['shape']}")

    # ---- frames --------------------------------------------------------------------------------------
    @property
    def num_episodes(self) -> int:
        return len(self.meta.episodes)

    @property
    def episode_length(self) -> int:
        """Frames added to the episode in progress."""
        return len(next(iter(self._buffer.values()), [])) if self._buffer else (
            next(iter(self._encoders.values())).count if self._encoders else 0)

    def add_frame(self, frame: dict[str, Any]) -> None:
        """Append one frame {feature key: value} to the episode in progress (every user feature, no others)."""
        self._check_open()
        keys = set(frame)
        if keys != set(self.user_features):
            missing, extra = sorted(set(self.user_features) - keys), sorted(keys - set(self.user_features))
            raise KeyError(f"frame keys do not match the dataset features: missing {missing}, unexpected {extra}")
        checked = {k: check_value(k, frame[k], ft) for k, ft in self.user_features.items()}
        for key, value in checked.items():
            if is_video(self.user_features[key]):
                self._encoder(key).add(value)
                self._image_stats[key].add(value)
            else:
                self._buffer.setdefault(key, []).append(value)

    def _encoder(self, key: str) -> EpisodeVideoEncoder:
        if key not in self._encoders:
            if self._stage is None:
                self._stage = journal.new_stage(self.root)
            h, w, _ = self.user_features[key]["shape"]
            self._encoders[key] = EpisodeVideoEncoder(self._stage / f"{key}.episode.mp4", self.meta.fps, h, w, self.codec)
            self._image_stats[key] = st.ImageStatsAccumulator()
        return self._encoders[key]

    def discard_episode(self) -> None:
        """Drop the episode in progress (nothing of it reaches the dataset)."""
        for enc in self._encoders.values():
            enc.abort()
        if self._stage is not None:
            shutil.rmtree(self._stage, ignore_errors=True)
        self._buffer, self._encoders, self._image_stats, self._stage = {}, {}, {}, None

    # ---- saving --------------------------------------------------------------------------------------
    def save_episode(self, task: str, extra: dict[str, Any] | None = None) -> int:
        """Commit the episode in progress with its task text; returns its episode_index.

        `extra`: scalar columns added to this episode's row in meta/episodes (e.g. {"record/seed": 3});
        LeRobot ignores columns it does not know, and `DatasetMeta.episodes` rows carry them.
        """
        self._check_open()
        length = self.episode_length
        if length == 0:
            raise ValueError("save_episode: no frames were added to this episode")
        counts = {k: len(v) for k, v in self._buffer.items()} | {k: e.count for k, e in self._encoders.items()}
        if len(set(counts.values())) != 1:
            raise ValueError(f"features have different frame counts in this episode: {counts}")
        videos = {}
        for key, enc in self._encoders.items():
            enc.close()
            videos[key] = enc.path
        image_stats = {k: acc.stats() for k, acc in self._image_stats.items()}
        numeric = {k: np.stack(v) for k, v in self._buffer.items()}
        return self._commit_episode(task, length, numeric, videos, image_stats, extra)

    def add_episode(self, task: str, numeric: dict[str, np.ndarray], videos: dict[str, Path],
                    image_stats: dict[str, st.Stats], extra: dict[str, Any] | None = None) -> int:
        """Commit a whole episode at once (merge/split copy episodes this way, without re-encoding).

        `numeric`: user feature -> (T, ...) values; `videos`: camera key -> an MP4 holding exactly its T
        frames (moved into the dataset); `image_stats`: camera key -> that episode's image stats.
        """
        self._check_open()
        if self.episode_length:
            raise RuntimeError("add_episode: an episode is in progress; save or discard it first")
        want = set(self.user_features)
        got = set(numeric) | set(videos)
        if got != want:
            raise KeyError(f"add_episode keys do not match the dataset features: missing {sorted(want - got)}, "
                           f"unexpected {sorted(got - want)}")
        lengths = {k: len(v) for k, v in numeric.items()}
        length = next(iter(lengths.values())) if lengths else 0
        for key, values in numeric.items():
            ft = self.user_features[key]
            arr = np.asarray(values)
            if arr.shape[1:] != tuple(ft["shape"]) and not (ft["shape"] == [1] and arr.ndim == 1):
                raise ValueError(f"{key}: expected frames of shape {ft['shape']}, got {list(arr.shape[1:])}")
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                raise ValueError(f"{key}: non-finite values in the episode (a dataset never stores NaN or inf)")
        if len(set(lengths.values())) > 1 or length == 0:
            raise ValueError(f"add_episode: features need the same non-zero frame count, got {lengths}")
        self._stage = journal.new_stage(self.root)
        staged = {}
        for key, path in videos.items():
            staged[key] = self._stage / f"{key}.episode.mp4"
            shutil.move(str(path), staged[key])
        numeric = {k: np.asarray(v).astype(self.user_features[k]["dtype"]) for k, v in numeric.items()}
        return self._commit_episode(task, length, numeric, staged, image_stats, extra)

    def _commit_episode(self, task: str, length: int, numeric: dict[str, np.ndarray], videos: dict[str, Path],
                        image_stats: dict[str, st.Stats], extra: dict[str, Any] | None) -> int:
        if not isinstance(task, str) or not task.strip():
            raise ValueError(f"task must be a non-empty string, got {task!r}")
        for key, value in (extra or {}).items():
            if key.startswith(("stats/", "data/", "videos/", "meta/")) or key in ("episode_index", "tasks", "length"):
                raise ValueError(f"extra column {key!r} would shadow a LeRobot episode column")
            if not isinstance(value, (bool, int, float, str)):
                raise ValueError(f"extra column {key!r} must be a bool/int/float/str, got {value!r}")
        if self._stage is None:
            self._stage = journal.new_stage(self.root)
        ep = len(self.meta.episodes)
        tasks = self.meta.tasks + ([task] if task not in self.meta.tasks else [])
        columns = self._episode_columns(numeric, ep, length, tasks.index(task))
        row: dict[str, Any] = {"episode_index": ep, "tasks": [task], "length": length, **(extra or {})}
        moves = self._stage_videos(row, length, videos) + self._stage_data(row, columns)
        ep_stats = {k: st.numeric_stats(v) for k, v in columns.items()} | dict(image_stats)
        row.update({f"stats/{k}/{name}": np.asarray(v).tolist() for k, s in ep_stats.items() for name, v in s.items()})
        moves += self._stage_episode_row(row)
        if len(tasks) != len(self.meta.tasks):
            pq.write_table(tasks_table(tasks), self._stage / "tasks.parquet")
            moves.append(("tasks.parquet", TASKS_PATH))
        history = {k: np.concatenate([self._history[k], v.reshape(length, -1)]) if k in self._history
                   else v.reshape(length, -1) for k, v in columns.items()}
        dataset_stats = self._dataset_stats(history, ep_stats)
        atomic_write_json(self._stage / "stats.json", st.to_json(dataset_stats), indent=4)
        info = dict(self.meta.info, total_episodes=ep + 1, total_frames=self.meta.num_frames + length,
                    total_tasks=len(tasks), splits={"train": f"0:{ep + 1}"})
        atomic_write_json(self._stage / "info.json", info, indent=4)
        moves += [("stats.json", STATS_PATH), ("info.json", INFO_PATH)]
        journal.commit(self.root, self._stage, moves)
        self.meta.episodes.append(row)
        self.meta.tasks, self.meta.stats, self.meta.info, self._history = tasks, dataset_stats, info, history
        self._buffer, self._encoders, self._image_stats, self._stage = {}, {}, {}, None
        return ep

    def _episode_columns(self, numeric: dict[str, np.ndarray], ep: int, length: int,
                         task_index: int) -> dict[str, np.ndarray]:
        """Every non-video column of the episode as numpy, in info.json feature order."""
        start = self.meta.num_frames
        cols = dict(numeric)
        cols["timestamp"] = (np.arange(length) / self.meta.fps).astype(np.float32)
        cols["frame_index"] = np.arange(length, dtype=np.int64)
        cols["episode_index"] = np.full(length, ep, dtype=np.int64)
        cols["index"] = np.arange(start, start + length, dtype=np.int64)
        cols["task_index"] = np.full(length, task_index, dtype=np.int64)
        return {k: cols[k] for k in self.meta.numeric_keys}

    def _last(self, prefix: str) -> tuple[int, int] | None:
        if not self.meta.episodes:
            return None
        last = self.meta.episodes[-1]
        if f"{prefix}/chunk_index" not in last or last[f"{prefix}/chunk_index"] is None:
            return None
        return int(last[f"{prefix}/chunk_index"]), int(last[f"{prefix}/file_index"])

    def _target(self, prefix: str, path_of, limit_mb: float, added_bytes: int) -> tuple[int, int, bool]:
        """(chunk, file, append?) for the next episode's `prefix` file: the last one unless it is full."""
        last = self._last(prefix)
        if last is None:
            return 0, 0, False
        size = os.path.getsize(path_of(*last))
        frames = sum(int(ep["length"]) for ep in self.meta.episodes
                     if (ep.get(f"{prefix}/chunk_index"), ep.get(f"{prefix}/file_index")) == last)
        if size + added_bytes >= limit_mb * MB or frames >= self.max_frames_per_file:
            return (*next_file(*last, int(self.meta.info["chunks_size"])), False)
        return (*last, True)

    def _stage_videos(self, row: dict[str, Any], length: int, videos: dict[str, Path]) -> list[tuple[str, str]]:
        moves = []
        fps = self.meta.fps
        for key, episode_mp4 in videos.items():
            template = self.meta.info["video_path"]
            path_of = lambda c, f, key=key: self.root / template.format(video_key=key, chunk_index=c, file_index=f)
            chunk, file, append = self._target(f"videos/{key}", path_of, self.meta.info["video_files_size_in_mb"],
                                               os.path.getsize(episode_mp4))
            staged = f"{key}.mp4"
            start = 0
            if append:
                start = int(round(float(self.meta.episodes[-1][f"videos/{key}/to_timestamp"]) * fps))
                concat_videos([path_of(chunk, file), episode_mp4], [start, length], self._stage / staged, fps)
                episode_mp4.unlink()
            else:
                os.replace(episode_mp4, self._stage / staged)
            row.update({f"videos/{key}/chunk_index": chunk, f"videos/{key}/file_index": file,
                        f"videos/{key}/from_timestamp": start / fps,
                        f"videos/{key}/to_timestamp": (start + length) / fps})
            moves.append((staged, template.format(video_key=key, chunk_index=chunk, file_index=file)))
        return moves

    def _stage_data(self, row: dict[str, Any], columns: dict[str, np.ndarray]) -> list[tuple[str, str]]:
        schema = data_schema(self.meta.features)
        arrays = [to_arrow(columns[f.name], f.type) for f in schema]
        table = pa.Table.from_arrays(arrays, schema=schema)
        template = self.meta.info["data_path"]
        path_of = lambda c, f: self.root / template.format(chunk_index=c, file_index=f)
        chunk, file, append = self._target("data", path_of, self.meta.info["data_files_size_in_mb"], table.nbytes)
        if append:
            old = pq.read_table(path_of(chunk, file))
            table = pa.concat_tables([old, table.cast(old.schema)])
        pq.write_table(table, self._stage / "data.parquet", compression="snappy")
        start = self.meta.num_frames
        row.update({"data/chunk_index": chunk, "data/file_index": file, "dataset_from_index": start,
                    "dataset_to_index": start + len(columns["index"])})
        return [("data.parquet", template.format(chunk_index=chunk, file_index=file))]

    def _stage_episode_row(self, row: dict[str, Any]) -> list[tuple[str, str]]:
        path_of = lambda c, f: self.root / EPISODES_PATH.format(chunk_index=c, file_index=f)
        chunk, file, append = self._target("meta/episodes", path_of, self.meta.info["data_files_size_in_mb"], 0)
        row.update({"meta/episodes/chunk_index": chunk, "meta/episodes/file_index": file})
        table = pa.Table.from_pylist([row])
        if append:
            old = pq.read_table(path_of(chunk, file))
            table = pa.concat_tables([old, table], promote_options="permissive")
        pq.write_table(table, self._stage / "episodes.parquet", compression="snappy")
        return [("episodes.parquet", EPISODES_PATH.format(chunk_index=chunk, file_index=file))]

    def _dataset_stats(self, history: dict[str, np.ndarray], new: dict[str, st.Stats]) -> dict[str, st.Stats]:
        out = {k: st.numeric_stats(v if v.shape[1] > 1 else v[:, 0]) for k, v in history.items()}
        for key in self.meta.video_keys:
            per_ep = [episode_stats(r).get(key) for r in self.meta.episodes] + [new[key]]
            out[key] = st.aggregate([s for s in per_ep if s is not None])
        return out

    # ---- closing -------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"writer for {self.root} is closed")

    def close(self) -> None:
        """Drop an unsaved episode in progress and release the writer lock (idempotent)."""
        if self._closed:
            return
        self.discard_episode()
        self._lock.release()
        self._closed = True

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
