"""Dataset tools: merge datasets, split one by episode. Episodes are copied without re-encoding video.

Each episode of a v3.0 dataset was encoded on its own and starts on a keyframe, so its frames are cut out
of the shared MP4 by remuxing packets (`extract_segment`); only when a segment does not start on a
keyframe (a file made by another tool) are its frames decoded and encoded again. Numeric columns and the
per-episode image stats are copied as they are; dataset stats are recomputed by the writer.
One task per episode: an episode whose frames carry several tasks keeps the first (our writer's model).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from vla.data.format import DEFAULT_FEATURES
from vla.data.meta import episode_stats, load_episodes
from vla.data.reader import DatasetReader
from vla.data.video import EpisodeVideoEncoder
from vla.data.columns import codec_of
from vla.data.writer import DatasetWriter


def extract_segment(src: Path, start: int, length: int, fps: int, out: Path, codec: str, shape: Sequence[int]) -> None:
    """Write frames start..start+length-1 of `src` to `out` with pts from 0 (remux, or re-encode if needed)."""
    import av

    with av.open(str(src)) as inp:
        istream = inp.streams.video[0]
        tb = istream.time_base
        packets = []
        for packet in inp.demux(istream):
            if packet.pts is None:
                continue
            k = int(round(float(packet.pts * tb) * fps))
            if start <= k < start + length:
                packets.append((k, packet))
        packets.sort(key=lambda kp: kp[0])
        if len(packets) == length and packets[0][1].is_keyframe:
            shift = int(round(start / fps / tb))
            with av.open(str(out), mode="w", format="mp4") as dst:
                ostream = dst.add_stream_from_template(istream, opaque=True)
                for _, packet in sorted(packets, key=lambda kp: kp[1].dts):
                    packet.pts -= shift
                    packet.dts -= shift
                    packet.stream = ostream
                    dst.mux(packet)
            return
    _reencode(src, start, length, fps, out, codec, shape)


def _reencode(src: Path, start: int, length: int, fps: int, out: Path, codec: str, shape: Sequence[int]) -> None:
    from vla.data.video import VideoReader

    reader = VideoReader(src, fps)
    enc = EpisodeVideoEncoder(out, fps, shape[0], shape[1], codec)
    for frame in reader.frames(np.arange(start, start + length)):
        enc.add(frame)
    enc.close()
    reader.close()


LEROBOT_COLUMNS = ("episode_index", "tasks", "length", "dataset_from_index", "dataset_to_index")
LEROBOT_PREFIXES = ("data/", "videos/", "meta/", "stats/")


def extra_columns(row: dict) -> dict:
    """The columns of an episode row that LeRobot does not define (e.g. "record/seed"), non-null only."""
    return {k: v for k, v in row.items() if k not in LEROBOT_COLUMNS and not k.startswith(LEROBOT_PREFIXES)
            and v is not None and isinstance(v, (bool, int, float, str))}


def copy_episodes(src: DatasetReader, episodes: Sequence[int], writer: DatasetWriter) -> int:
    """Append `episodes` of `src` to `writer`'s dataset in the given order; returns how many were copied."""
    if src.meta.image_keys:
        raise ValueError(f"{src.root}: copying features stored as PNG in parquet ({src.meta.image_keys}) is not "
                         "supported; only video cameras are copied")
    rows = load_episodes(src.root, with_stats=True)
    user = [k for k in src.meta.features if k not in DEFAULT_FEATURES]
    with tempfile.TemporaryDirectory(prefix=".copy-", dir=writer.root) as tmp:
        for e in episodes:
            ep = src.meta.episodes[e]
            lo, hi = int(ep["dataset_from_index"]), int(ep["dataset_to_index"])
            numeric = {k: src.columns[k][lo:hi] for k in user if k not in src.meta.video_keys}
            videos = {}
            for key in src.meta.video_keys:
                start = int(round(float(ep[f"videos/{key}/from_timestamp"]) * src.meta.fps))
                videos[key] = Path(tmp) / f"{e}-{key}.mp4"
                extract_segment(src.meta.video_path(ep, key), start, hi - lo, src.meta.fps, videos[key],
                                writer.codec, src.meta.features[key]["shape"])
            stats = episode_stats(rows[e])
            image_stats = {k: stats[k] for k in src.meta.video_keys}
            task = ep["tasks"][0] if ep.get("tasks") else src.meta.tasks[int(src.columns["task_index"][lo])]
            writer.add_episode(task, numeric, videos, image_stats, extra_columns(ep))
    return len(episodes)


def _user_features(reader: DatasetReader) -> dict:
    return {k: {kk: vv for kk, vv in ft.items() if kk != "info"} for k, ft in reader.meta.features.items()
            if k not in DEFAULT_FEATURES}


def merge(sources: Sequence[str | Path], out: str | Path) -> dict[str, int]:
    """Concatenate the episodes of `sources` (same fps and features) into `out` (created or appended)."""
    if not sources:
        raise ValueError("merge needs at least one source dataset")
    readers = [DatasetReader(s) for s in sources]
    first = readers[0]
    for r in readers[1:]:
        if r.meta.fps != first.meta.fps:
            raise ValueError(f"{r.root} has fps {r.meta.fps}, {first.root} has {first.meta.fps}")
        a, b = _user_features(first), _user_features(r)
        for key in sorted(set(a) | set(b)):
            if a.get(key, {}).get("shape") != b.get(key, {}).get("shape") or \
                    a.get(key, {}).get("dtype") != b.get(key, {}).get("dtype"):
                raise ValueError(f"feature {key!r} differs: {first.root} has {a.get(key)}, {r.root} has {b.get(key)}")
    codec = codec_of(first.meta.features)
    writer = DatasetWriter.create_or_open(out, first.meta.fps, _user_features(first),
                                          robot_type=first.meta.info.get("robot_type"), codec=codec)
    copied = 0
    try:
        for r in readers:
            copied += copy_episodes(r, range(len(r.meta.episodes)), writer)
    finally:
        writer.close()
    return {"sources": len(readers), "episodes": copied}


def split(root: str | Path, parts: dict[str | Path, Sequence[int]]) -> dict[str, int]:
    """Write each `parts` entry (output root -> episode indices of `root`) as a new dataset."""
    src = DatasetReader(root)
    n = len(src.meta.episodes)
    out = {}
    for dest, eps in parts.items():
        bad = [e for e in eps if not 0 <= e < n]
        if bad:
            raise IndexError(f"episodes {bad} are not in {root} (0..{n - 1})")
        codec = codec_of(src.meta.features)
        with DatasetWriter.create(dest, src.meta.fps, _user_features(src), robot_type=src.meta.info.get("robot_type"),
                                  codec=codec) as writer:
            out[str(dest)] = copy_episodes(src, list(eps), writer)
    return out


def split_by_fraction(n_episodes: int, fraction: float, seed: int | None = None) -> tuple[list[int], list[int]]:
    """Episode indices for (first, second) parts: `fraction` of them first; shuffled when `seed` is given."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    order = list(range(n_episodes)) if seed is None else list(np.random.default_rng(seed).permutation(n_episodes))
    k = int(round(fraction * n_episodes))
    return sorted(int(e) for e in order[:k]), sorted(int(e) for e in order[k:])
