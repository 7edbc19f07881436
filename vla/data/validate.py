"""Check a dataset on disk against the v3.0 layout and its own metadata; optionally repair the tail.

`validate(root)` returns a `Report` of issues, each naming the file or key at fault: unreadable or
truncated parquet/MP4 files, missing episodes, info.json totals that disagree with meta/episodes,
columns or video sizes that do not match the features, frames that belong to no episode (a partial tail
left by a writer that died before LeRobot-style flushing, or by a copy cut short), and interrupted commits.

`validate(root, fix=True)` repairs what can be repaired without guessing: it finishes or drops interrupted
commits, cuts data and video files back to the frames the committed episodes own, deletes files no
episode references, drops trailing episodes whose files are missing or broken, and rewrites info/stats
to match. Earlier broken episodes are reported, never silently dropped.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vla.data import journal
from vla.data import stats as st
from vla.data.format import EPISODES_DIR, INFO_PATH, column_to_numpy, data_schema
from vla.data.meta import DatasetMeta, episode_stats, tasks_table
from vla.data.video import VideoReader, count_frames
from vla.io import atomic_path, atomic_write_json


@dataclass
class Issue:
    severity: str  # "error" or "warning"
    where: str  # file or key
    message: str
    episode: int | None = None  # the episode a broken file belongs to, when one does


@dataclass
class Report:
    root: Path
    issues: list[Issue] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)

    def add(self, severity: str, where: Any, message: str, episode: int | None = None) -> None:
        self.issues.append(Issue(severity, str(where), message, episode))

    def lines(self) -> list[str]:
        out = [f"{i.severity.upper()}: {i.where}: {i.message}" for i in self.issues]
        return out + [f"FIXED: {f}" for f in self.fixed]


def validate(root: str | Path, fix: bool = False) -> Report:
    """Validate the dataset at `root` (see module docstring); with `fix`, repair and validate again."""
    root = Path(root)
    report = Report(root)
    if fix:
        report.fixed += _fix(root)
        after = validate(root)
        after.fixed = report.fixed
        return after
    meta = _check_meta(root, report)
    if meta is None:
        return report
    _check_staging(root, report)
    _check_data(meta, report)
    _check_videos(meta, report)
    report.summary = {"episodes": len(meta.episodes), "frames": meta.num_frames, "tasks": len(meta.tasks),
                      "cameras": meta.camera_names}
    return report


def _check_meta(root: Path, report: Report) -> DatasetMeta | None:
    try:
        meta = DatasetMeta.load(root)
    except (OSError, ValueError, pa.ArrowException, KeyError) as err:
        report.add("error", root / "meta", f"metadata unreadable: {err}")
        return None
    info, eps = meta.info, meta.episodes
    expected = 0
    for ep in eps:
        lo, hi = int(ep["dataset_from_index"]), int(ep["dataset_to_index"])
        if lo != expected or hi - lo != int(ep["length"]):
            report.add("error", EPISODES_DIR, f"episode {ep['episode_index']} spans frames {lo}..{hi} "
                       f"with length {ep['length']}; expected to start at {expected}", ep["episode_index"])
        expected = hi
        missing = [t for t in ep.get("tasks") or [] if t not in meta.tasks]
        if missing:
            report.add("error", "meta/tasks.parquet", f"episode {ep['episode_index']} has tasks {missing} "
                       "that tasks.parquet lacks", ep["episode_index"])
    totals = {"total_episodes": len(eps), "total_frames": meta.num_frames, "total_tasks": len(meta.tasks)}
    for name, want in totals.items():
        if info.get(name) != want:
            report.add("error", INFO_PATH, f"{name} is {info.get(name)}, but meta says {want} (fixable)")
    return meta


def _check_staging(root: Path, report: Report) -> None:
    base = root / journal.STAGING_DIR
    if not base.exists():
        return
    for stage in base.iterdir():
        if (stage / journal.MANIFEST).exists():
            report.add("error", stage, "interrupted commit: a committed episode is half applied (fixable; "
                       "opening the dataset also finishes it)")
        else:
            report.add("warning", stage, "leftover of an unsaved episode (ignored by readers; fixable)")


def _file_extents(meta: DatasetMeta, path_of) -> dict[Path, list[dict[str, Any]]]:
    """Referenced file -> the episode rows stored in it, in order."""
    out: dict[Path, list[dict[str, Any]]] = {}
    for ep in meta.episodes:
        out.setdefault(path_of(ep), []).append(ep)
    return out


def _check_data(meta: DatasetMeta, report: Report) -> None:
    schema = data_schema(meta.features)
    files = _file_extents(meta, meta.data_path)
    for path, eps in files.items():
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as err:
            report.add("error", path, f"unreadable parquet ({err})", eps[0]["episode_index"])
            continue
        if not _check_columns(table, schema, meta, path, report, eps[0]["episode_index"]):
            continue
        want = np.concatenate([np.arange(e["dataset_from_index"], e["dataset_to_index"]) for e in eps])
        index = column_to_numpy(table["index"], meta.features["index"])
        if len(index) < len(want) or not np.array_equal(index[: len(want)], want):
            report.add("error", path, f"holds {len(index)} frames with index {index[:1]}..{index[-1:]}, "
                       f"episodes {[e['episode_index'] for e in eps]} need {want[0]}..{want[-1]}",
                       eps[0]["episode_index"])
        elif len(index) > len(want):
            report.add("error", path, f"partial tail: {len(index) - len(want)} frames after the last "
                       "committed episode (fixable)")
    for path in sorted((meta.root / "data").glob("*/*.parquet")):
        if path not in files:
            report.add("error", path, "data file that no episode references (fixable: deleted)")


def _check_columns(table: pa.Table, schema: pa.Schema, meta: DatasetMeta, path: Path, report: Report,
                   episode: int) -> bool:
    ok = True
    for key in meta.image_keys:
        if key not in table.column_names:
            report.add("error", path, f"column {key!r} of camera {key!r} (PNG frames) is missing", episode)
            ok = False
    for fld in schema:
        if fld.name not in table.column_names:
            report.add("error", path, f"column {fld.name!r} of feature {fld.name!r} is missing", episode)
            ok = False
            continue
        shape = meta.features[fld.name]["shape"]
        try:
            values = column_to_numpy(table[fld.name], meta.features[fld.name])
        except (ValueError, pa.ArrowException) as err:
            report.add("error", path, f"column {fld.name!r} does not convert to {shape}: {err}", episode)
            ok = False
            continue
        got = list(values.shape[1:]) or [1]
        if got != shape:
            report.add("error", path, f"feature {fld.name!r} has shape {got} per frame, info.json says {shape}",
                       episode)
            ok = False
    return ok


def _check_videos(meta: DatasetMeta, report: Report) -> None:
    fps = meta.fps
    for key in meta.video_keys:
        files = _file_extents(meta, lambda ep, key=key: meta.video_path(ep, key))
        for path, eps in files.items():
            first = eps[0]["episode_index"]
            if not path.exists():
                report.add("error", path, f"video of {key} is missing", first)
                continue
            try:
                n = count_frames(path)
                reader = VideoReader(path, fps)
                frame = reader.frames([n - 1])[0]
                reader.close()
            except (OSError, ValueError, IndexError) as err:  # av errors subclass OSError/ValueError
                report.add("error", path, f"unreadable or truncated MP4 ({err})", first)
                continue
            if list(frame.shape) != meta.features[key]["shape"]:
                report.add("error", path, f"feature {key!r}: frames are {list(frame.shape)}, info.json says "
                           f"{meta.features[key]['shape']}", first)
            end = int(round(float(eps[-1][f"videos/{key}/to_timestamp"]) * fps))
            if n < end:
                report.add("error", path, f"holds {n} frames, episodes need {end}", eps[-1]["episode_index"])
            elif n > end:
                report.add("error", path, f"partial tail: {n - end} frames after the last committed episode "
                           "(fixable)")
        for path in sorted((meta.root / "videos" / key).glob("*/*.mp4")):
            if path not in files:
                report.add("error", path, "video file that no episode references (fixable: deleted)")


# ---- repair ------------------------------------------------------------------------------------------
def _fix(root: Path) -> list[str]:
    """Repair what `validate` reports as fixable; returns one line per change."""
    lock = journal.WriterLock(root)
    try:
        done = journal.recover(root)
        report = validate(root)
        meta = DatasetMeta.load(root, with_episode_stats=True)
        broken = sorted({i.episode for i in report.issues if i.episode is not None})
        keep = len(meta.episodes)
        while broken and broken[-1] == keep - 1:  # only a broken tail is dropped
            broken.pop()
            keep -= 1
        if keep < len(meta.episodes):
            done.append(f"dropped trailing episodes {keep}..{len(meta.episodes) - 1} (broken files)")
        meta.episodes = meta.episodes[:keep]
        done += _trim_files(meta)
        _rewrite_meta(meta)
        done.append("rewrote meta/episodes, info.json and stats.json from the committed episodes")
        return done
    finally:
        lock.release()


def _trim_files(meta: DatasetMeta) -> list[str]:
    done = []
    data_files = _file_extents(meta, meta.data_path)
    for path in sorted((meta.root / "data").glob("*/*.parquet")):
        eps = data_files.get(path)
        if eps is None:
            path.unlink()
            done.append(f"deleted {path}")
            continue
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as err:
            done.append(f"left {path} as it is: unreadable ({err})")
            continue
        rows = int(eps[-1]["dataset_to_index"]) - int(eps[0]["dataset_from_index"])
        if table.num_rows > rows:
            with atomic_path(path) as tmp:
                pq.write_table(table.slice(0, rows), tmp, compression="snappy")
            done.append(f"cut {path} to {rows} frames")
    for key in meta.video_keys:
        files = _file_extents(meta, lambda ep, key=key: meta.video_path(ep, key))
        for path in sorted((meta.root / "videos" / key).glob("*/*.mp4")):
            eps = files.get(path)
            if eps is None:
                path.unlink()
                done.append(f"deleted {path}")
                continue
            end = int(round(float(eps[-1][f"videos/{key}/to_timestamp"]) * meta.fps))
            try:
                n = count_frames(path)
            except (OSError, ValueError) as err:
                done.append(f"left {path} as it is: unreadable ({err})")
                continue
            if n > end:
                _trim_video(path, end, meta.fps)
                done.append(f"cut {path} to {end} frames")
    return done


def _trim_video(path: Path, frames: int, fps: int) -> None:
    """Keep the first `frames` frames of an MP4 by remuxing (no re-encode)."""
    import av

    with atomic_path(path) as tmp:
        with av.open(str(path)) as src, av.open(str(tmp), mode="w", format="mp4") as dst:
            istream = src.streams.video[0]
            ostream = dst.add_stream_from_template(istream, opaque=True)
            for packet in src.demux(istream):
                if packet.pts is None or int(round(float(packet.pts * istream.time_base) * fps)) >= frames:
                    continue
                packet.stream = ostream
                dst.mux(packet)


def _rewrite_meta(meta: DatasetMeta) -> None:
    """Write episodes files, info.json and stats.json for `meta.episodes` through one journal commit."""
    stage = journal.new_stage(meta.root)
    moves: list[tuple[str | None, str]] = []
    by_file: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for ep in meta.episodes:
        by_file.setdefault((int(ep["meta/episodes/chunk_index"]), int(ep["meta/episodes/file_index"])), []).append(ep)
    stale = {p.relative_to(meta.root).as_posix() for p in (meta.root / EPISODES_DIR).glob("*/*.parquet")}
    for i, ((chunk, file), rows) in enumerate(sorted(by_file.items())):
        pq.write_table(pa.Table.from_pylist(rows), stage / f"episodes{i}.parquet")
        target = f"{EPISODES_DIR}/chunk-{chunk:03d}/file-{file:03d}.parquet"
        moves.append((f"episodes{i}.parquet", target))
        stale.discard(target)
    moves += [(None, target) for target in sorted(stale)]  # files that only held dropped episodes
    pq.write_table(tasks_table(meta.tasks), stage / "tasks.parquet")
    n_frames = meta.num_frames
    info = dict(meta.info, total_episodes=len(meta.episodes), total_frames=n_frames,
                total_tasks=len(meta.tasks), splits={"train": f"0:{len(meta.episodes)}"})
    atomic_write_json(stage / "info.json", info, indent=4)
    atomic_write_json(stage / "stats.json", st.to_json(_recompute_stats(meta)), indent=4)
    moves += [("tasks.parquet", "meta/tasks.parquet"), ("stats.json", "meta/stats.json"), ("info.json", INFO_PATH)]
    journal.commit(meta.root, stage, moves)
    shutil.rmtree(meta.root / journal.STAGING_DIR, ignore_errors=True)


def _recompute_stats(meta: DatasetMeta) -> dict[str, st.Stats]:
    """Dataset stats of `meta.episodes`: numeric exactly from the data files, images from episode stats."""
    from vla.data.reader import _load_columns

    out: dict[str, st.Stats] = {}
    if not meta.episodes:
        return out
    columns = _load_columns(meta)
    n = meta.num_frames
    for key, values in columns.items():
        out[key] = st.numeric_stats(values[:n])
    for key in meta.video_keys:
        per_ep = [episode_stats(ep).get(key) for ep in meta.episodes]
        if all(s is not None for s in per_ep):
            out[key] = st.aggregate(per_ep)
    return out


def format_report(report: Report) -> str:
    """The report as text: a summary line, then one line per issue."""
    head = f"{report.root}: {'OK' if report.ok else 'INVALID'} {json.dumps(report.summary)}"
    return "\n".join([head] + report.lines())
