"""Dataset metadata: load and write info.json, stats.json, tasks.parquet and the episodes parquet files.

`DatasetMeta.load(root)` reads a v3.0 dataset written by us or by LeRobot. Episode rows are plain dicts
with LeRobot's column names ("length", "tasks", "data/chunk_index", "dataset_from_index",
"videos/<key>/from_timestamp", ...); per-episode stats columns ("stats/<key>/<stat>") are loaded only
on request because they dominate the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vla.data import stats as st
from vla.data.format import (CODEBASE_VERSION, EPISODES_DIR, INFO_PATH, NUMERIC_DTYPES, STATS_PATH, TASKS_PATH,
                             is_video)


@dataclass
class DatasetMeta:
    """Everything in `meta/`: info (features, fps, totals), episodes, tasks, stats."""

    root: Path
    info: dict[str, Any]
    episodes: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    stats: dict[str, st.Stats] = field(default_factory=dict)

    @property
    def fps(self) -> int:
        return int(self.info["fps"])

    @property
    def features(self) -> dict[str, dict[str, Any]]:
        return self.info["features"]

    @property
    def video_keys(self) -> list[str]:
        return [k for k, ft in self.features.items() if is_video(ft)]

    @property
    def image_keys(self) -> list[str]:
        """Cameras stored as PNG bytes inside the data parquet (LeRobot dtype "image"; read-only here)."""
        return [k for k, ft in self.features.items() if ft["dtype"] == "image"]

    @property
    def camera_keys(self) -> list[str]:
        return [k for k, ft in self.features.items() if ft["dtype"] in ("video", "image")]

    @property
    def numeric_keys(self) -> list[str]:
        return [k for k, ft in self.features.items() if ft["dtype"] in NUMERIC_DTYPES]

    @property
    def camera_names(self) -> list[str]:
        return [k.removeprefix("observation.images.") for k in self.camera_keys]

    @property
    def num_frames(self) -> int:
        return int(self.episodes[-1]["dataset_to_index"]) if self.episodes else 0

    def video_path(self, episode: dict[str, Any], key: str) -> Path:
        return self.root / self.info["video_path"].format(
            video_key=key, chunk_index=int(episode[f"videos/{key}/chunk_index"]),
            file_index=int(episode[f"videos/{key}/file_index"]))

    def data_path(self, episode: dict[str, Any]) -> Path:
        return self.root / self.info["data_path"].format(
            chunk_index=int(episode["data/chunk_index"]), file_index=int(episode["data/file_index"]))

    @classmethod
    def load(cls, root: str | Path, with_episode_stats: bool = False) -> "DatasetMeta":
        """Read `root/meta`; raises FileNotFoundError / ValueError naming the missing or bad file."""
        root = Path(root)
        info_path = root / INFO_PATH
        if not info_path.exists():
            raise FileNotFoundError(f"{root} is not a dataset: {info_path} is missing")
        info = json.loads(info_path.read_text())
        if info.get("codebase_version") != CODEBASE_VERSION:
            raise ValueError(f"{info_path}: codebase_version {info.get('codebase_version')!r}, "
                             f"expected {CODEBASE_VERSION!r} (convert older datasets with LeRobot first)")
        for ft in info["features"].values():
            ft["shape"] = [int(s) for s in ft["shape"]]
        stats = st.from_json(json.loads((root / STATS_PATH).read_text())) if (root / STATS_PATH).exists() else {}
        return cls(root, info, load_episodes(root, with_episode_stats), load_tasks(root), stats)


def load_stats(root: str | Path) -> dict[str, st.Stats]:
    """meta/stats.json of the dataset at `root` as numpy arrays (key -> {min, max, mean, std, count, q01, ...})."""
    path = Path(root) / STATS_PATH
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing (a dataset with no saved episode has no stats)")
    return st.from_json(json.loads(path.read_text()))


def load_tasks(root: Path) -> list[str]:
    """Task texts in task_index order (the text is pandas index "task", or an unnamed index column)."""
    path = Path(root) / TASKS_PATH
    if not path.exists():
        return []
    table = pq.read_table(path)
    text_col = "task" if "task" in table.column_names else "__index_level_0__"
    if text_col not in table.column_names or "task_index" not in table.column_names:
        raise ValueError(f"{path}: expected columns 'task' and 'task_index', got {table.column_names}")
    pairs = sorted(zip(table["task_index"].to_pylist(), table[text_col].to_pylist()))
    if [i for i, _ in pairs] != list(range(len(pairs))):
        raise ValueError(f"{path}: task_index values are not 0..{len(pairs) - 1}")
    return [t for _, t in pairs]


def tasks_table(tasks: list[str]) -> pa.Table:
    """tasks.parquet as pandas writes a DataFrame indexed by "task" (so pd.read_parquet restores it)."""
    pandas_meta = {
        "index_columns": ["task"], "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode",
                                                        "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
        "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
                     "numpy_type": "int64", "metadata": None},
                    {"name": "task", "field_name": "task", "pandas_type": "unicode",
                     "numpy_type": "object", "metadata": None}],
        "creator": {"library": "pyarrow", "version": pa.__version__}, "pandas_version": "2.2.3"}
    table = pa.table({"task_index": pa.array(range(len(tasks)), pa.int64()), "task": pa.array(tasks, pa.string())})
    return table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})


def episode_files(root: Path) -> list[Path]:
    return sorted((Path(root) / EPISODES_DIR).glob("*/*.parquet"))


def load_episodes(root: Path, with_stats: bool = False) -> list[dict[str, Any]]:
    """Episode rows from every meta/episodes file, sorted by episode_index."""
    rows: list[dict[str, Any]] = []
    for path in episode_files(root):
        schema = pq.read_schema(path)
        cols = [c for c in schema.names if with_stats or not c.startswith("stats/")]
        rows += pq.read_table(path, columns=cols).to_pylist()
    rows.sort(key=lambda r: r["episode_index"])
    if [r["episode_index"] for r in rows] != list(range(len(rows))):
        raise ValueError(f"{root}/{EPISODES_DIR}: episode indices are not 0..{len(rows) - 1}")
    return rows


def episode_stats(row: dict[str, Any]) -> dict[str, st.Stats]:
    """The per-episode stats held in an episode row's 'stats/<key>/<stat>' columns."""
    out: dict[str, st.Stats] = {}
    for col, value in row.items():
        if col.startswith("stats/") and value is not None:
            key, _, name = col[len("stats/"):].rpartition("/")
            out.setdefault(key, {})[name] = np.asarray(value)
    return out
