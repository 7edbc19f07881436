"""Datasets written the way LeRobot (and converters in the LeRobot ecosystem) write v3.0 load in our reader.

The fixture follows LeRobot's v3.0 writer field by field where it differs from ours: AV1 video (LeRobot's
default codec) with episodes concatenated in one file, an unnamed pandas index in tasks.parquet, variable
length list columns (pandas / older `datasets`), newer per-feature `info` blocks, extra per-feature keys, a
bool feature, a camera stored as PNG bytes in the parquet (dtype "image"), and stats without quantiles.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vla.data import DatasetReader, DatasetWriter
from vla.data.journal import WriterLock
from vla.data.torch_dataset import FrameDataset
from vla.data.validate import validate
from vla.data.video import EpisodeVideoEncoder, concat_videos

FPS, H, W = 10, 24, 32
LENGTHS = [6, 4]


def _png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    iio.imwrite(buf, img, extension=".png")
    return buf.getvalue()


def build_lerobot_style(root: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = sum(LENGTHS)
    state = rng.normal(size=(n, 3)).astype(np.float32)
    action = rng.normal(size=(n, 2)).astype(np.float32)
    wrist = rng.integers(0, 255, size=(n, H, W, 3), dtype=np.uint8)
    ep_index = np.repeat(np.arange(len(LENGTHS)), LENGTHS)
    frame_index = np.concatenate([np.arange(k) for k in LENGTHS])
    (root / "data/chunk-000").mkdir(parents=True)
    pq.write_table(pa.table({
        "observation.state": pa.array(state.tolist(), pa.list_(pa.float32())),  # variable-length lists
        "action": pa.array(action.tolist(), pa.list_(pa.float32())),
        "observation.images.wrist": pa.array([{"bytes": _png(im), "path": None} for im in wrist],
                                             pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
        "next.done": pa.array(frame_index == np.repeat(np.array(LENGTHS) - 1, LENGTHS)),
        "timestamp": pa.array(frame_index / FPS, pa.float32()),
        "frame_index": pa.array(frame_index, pa.int64()), "episode_index": pa.array(ep_index, pa.int64()),
        "index": pa.array(np.arange(n), pa.int64()), "task_index": pa.array(ep_index, pa.int64()),
    }), root / "data/chunk-000/file-000.parquet")
    # AV1, each episode encoded on its own, then concatenated into one file (as LeRobot does)
    vid = root / "videos/observation.images.top/chunk-000"
    vid.mkdir(parents=True)
    parts = []
    for e, k in enumerate(LENGTHS):
        enc = EpisodeVideoEncoder(root / f"ep{e}.mp4", FPS, H, W, "av1")
        for t in range(k):
            enc.add(np.full((H, W, 3), 30 + 40 * e + 10 * t, np.uint8))
        enc.close()
        parts.append(root / f"ep{e}.mp4")
    concat_videos(parts, LENGTHS, vid / "file-000.mp4", FPS)
    for p in parts:
        p.unlink()
    tasks = ["fold the towel", "open the box"]
    pandas_meta = {"index_columns": ["__index_level_0__"], "columns": [
        {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": None},
        {"name": None, "field_name": "__index_level_0__", "pandas_type": "unicode", "numpy_type": "object",
         "metadata": None}], "column_indexes": [], "pandas_version": "2.2.2"}
    (root / "meta").mkdir()
    pq.write_table(pa.table({"task_index": [0, 1], "__index_level_0__": tasks}).replace_schema_metadata(
        {b"pandas": json.dumps(pandas_meta).encode()}), root / "meta/tasks.parquet")
    (root / "meta/episodes/chunk-000").mkdir(parents=True)
    starts = np.cumsum([0] + LENGTHS)
    rows = [{"episode_index": e, "tasks": [tasks[e]], "length": k, "data/chunk_index": 0, "data/file_index": 0,
             "dataset_from_index": int(starts[e]), "dataset_to_index": int(starts[e + 1]),
             "videos/observation.images.top/chunk_index": 0, "videos/observation.images.top/file_index": 0,
             "videos/observation.images.top/from_timestamp": float(starts[e]) / FPS,
             "videos/observation.images.top/to_timestamp": float(starts[e + 1]) / FPS,
             "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0,
             "stats/action/mean": action[starts[e]:starts[e + 1]].mean(0).tolist()} for e, k in enumerate(LENGTHS)]
    pq.write_table(pa.Table.from_pylist(rows), root / "meta/episodes/chunk-000/file-000.parquet")
    feats = {
        "observation.images.top": {"dtype": "video", "shape": [H, W, 3], "names": ["height", "width", "channels"],
                                   "info": {"codec": "av1", "pix_fmt": "yuv420p", "is_depth_map": False}},
        "observation.images.wrist": {"dtype": "image", "shape": [H, W, 3], "names": ["height", "width", "channel"]},
        "observation.state": {"dtype": "float32", "shape": [3], "names": ["x", "y", "z"], "fps": FPS},
        "action": {"dtype": "float32", "shape": [2], "names": None},
        "next.done": {"dtype": "bool", "shape": [1], "names": None},
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
        "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        "index": {"dtype": "int64", "shape": [1], "names": None},
        "task_index": {"dtype": "int64", "shape": [1], "names": None}}
    info = {"codebase_version": "v3.0", "robot_type": "so100", "total_episodes": 2, "total_frames": n,
            "total_tasks": 2, "chunks_size": 1000, "data_files_size_in_mb": 100, "video_files_size_in_mb": 200,
            "fps": FPS, "splits": {"train": "0:2"},
            "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
            "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4", "features": feats}
    (root / "meta/info.json").write_text(json.dumps(info, indent=4))
    stats = {"action": {"min": action.min(0).tolist(), "max": action.max(0).tolist(), "mean": action.mean(0).tolist(),
                        "std": action.std(0).tolist(), "count": [n]}}
    (root / "meta/stats.json").write_text(json.dumps(stats))
    return {"state": state, "action": action, "wrist": wrist}


def test_reader_loads_a_lerobot_written_dataset(tmp_path):
    root = tmp_path / "lerobot_ds"
    want = build_lerobot_style(root)
    ds = DatasetReader(root)
    assert ds.meta.tasks == ["fold the towel", "open the box"] and len(ds) == 10
    assert ds.meta.camera_keys == ["observation.images.top", "observation.images.wrist"]
    ep = ds.episode_frames(1)
    np.testing.assert_array_equal(ep["observation.state"], want["state"][6:])
    np.testing.assert_array_equal(ep["observation.images.wrist"], want["wrist"][6:])  # PNG: lossless
    top = ep["observation.images.top"][:, 5, 5, 0].astype(int)
    assert np.abs(top - (70 + 10 * np.arange(4))).max() <= 4  # AV1 frames of episode 1, in order
    assert ep["task"] == "open the box" and ep["next.done"].tolist() == [False, False, False, True]
    np.testing.assert_allclose(ds.stats["action"]["mean"], want["action"].mean(0), rtol=1e-6)
    sample = FrameDataset(root, delta_timestamps={"action": [0.0, 0.1, 0.2]})[5]
    assert sample["actions_is_pad"].tolist() == [False, True, True] and sample["instruction"] == "fold the towel"
    assert set(sample["images"]) == {"top", "wrist"} and sample["images"]["wrist"].shape == (H, W, 3)
    report = validate(root)
    assert report.ok, report.lines()


def test_writer_refuses_to_append_png_cameras_and_releases_its_lock(tmp_path):
    root = tmp_path / "lerobot_ds"
    build_lerobot_style(root)
    with pytest.raises(ValueError, match="observation.images.wrist"):
        DatasetWriter.open(root)
    WriterLock(root).release()  # the failed open released the writer lock


def test_our_dataset_loads_the_way_lerobot_loads_it(small_dataset):
    """Replays LeRobotDataset v3.0's load path (pandas tasks, `datasets` parquet with features built from
    info.json, timestamp-based video decoding with its 1e-4 s tolerance) on a dataset we wrote."""
    import av

    datasets = pytest.importorskip("datasets")
    pd = pytest.importorskip("pandas")
    root, written = small_dataset
    info = json.loads((root / "meta/info.json").read_text())
    tasks = pd.read_parquet(root / "meta/tasks.parquet")
    assert tasks.index.name == "task" and int(tasks.loc["open the drawer"].task_index) == 1
    episodes = datasets.concatenate_datasets([datasets.Dataset.from_parquet(str(p)) for p in
                                              sorted((root / "meta/episodes").glob("*/*.parquet"))])
    hf = {}
    for key, ft in info["features"].items():  # LeRobot's get_hf_features_from_features
        if ft["dtype"] == "video":
            continue
        value = datasets.Value(ft["dtype"])
        hf[key] = value if ft["shape"] == [1] else datasets.Sequence(value, length=ft["shape"][0])
    data = datasets.Dataset.from_parquet([str(p) for p in sorted((root / "data").glob("*/*.parquet"))],
                                         features=datasets.Features(hf))
    assert len(data) == info["total_frames"] == 28
    item = data[14]
    ep = episodes[item["episode_index"]]
    assert item["task_index"] == 1 and ep["tasks"] == ["open the drawer"]
    np.testing.assert_array_equal(np.asarray(item["action"], np.float32), written["action"][1][2])
    key = "observation.images.front"
    query = ep[f"videos/{key}/from_timestamp"] + item["timestamp"]
    path = root / info["video_path"].format(video_key=key, chunk_index=ep[f"videos/{key}/chunk_index"],
                                            file_index=ep[f"videos/{key}/file_index"])
    with av.open(str(path)) as c:  # LeRobot's pyav path: seek, decode forward, keep frames within tolerance
        c.seek(int(max(query - 0.5, 0) / c.streams.video[0].time_base), stream=c.streams.video[0], backward=True)
        hits = [f.to_ndarray(format="rgb24") for f in c.decode(video=0) if abs(f.time - query) < 1e-4]
    assert len(hits) == 1
    np.testing.assert_array_equal(hits[0], DatasetReader(root).frame(14)[key])
    stats = json.loads((root / "meta/stats.json").read_text())
    assert np.asarray(stats[key]["mean"]).shape == (3, 1, 1) and stats[key]["count"] == [28]
