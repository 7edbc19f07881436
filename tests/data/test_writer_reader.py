"""Write/read round trip of the v3.0 layout, append, errors naming the bad key, stats against numpy."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.data.conftest import FEATURES, frame_image, write_episodes
from vla.data import DatasetReader, DatasetWriter
from vla.data.format import QUANTILES
from vla.data.meta import load_episodes


def test_layout_matches_lerobot_v30(small_dataset):
    root, _ = small_dataset
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert info["total_episodes"] == 3 and info["total_frames"] == 28 and info["total_tasks"] == 2
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    assert info["splits"] == {"train": "0:3"} and info["fps"] == 10 and info["robot_type"] == "toy"
    assert list(info["features"])[-5:] == ["timestamp", "frame_index", "episode_index", "index", "task_index"]
    assert info["features"]["observation.images.front"]["info"]["video.codec"] == "h264"
    data = pq.read_table(root / "data/chunk-000/file-000.parquet")
    assert data.column_names == ["observation.state", "action", "timestamp", "frame_index", "episode_index",
                                 "index", "task_index"]
    state_type = data.schema.field("observation.state").type  # datasets.Sequence(length=4) in Arrow
    assert pa.types.is_fixed_size_list(state_type) and state_type.list_size == 4
    assert state_type.value_type == pa.float32() and data.schema.field("timestamp").type == pa.float32()
    assert b"huggingface" in data.schema.metadata
    eps = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [e["length"] for e in eps] == [12, 7, 9]
    assert [(e["dataset_from_index"], e["dataset_to_index"]) for e in eps] == [(0, 12), (12, 19), (19, 28)]
    key = "videos/observation.images.front"
    assert [e[f"{key}/from_timestamp"] for e in eps] == pytest.approx([0.0, 1.2, 1.9])
    assert [e[f"{key}/to_timestamp"] for e in eps] == pytest.approx([1.2, 1.9, 2.8])
    assert eps[0]["tasks"] == ["pick the cube"] and "stats/action/q01" in eps[0]
    tasks = pq.read_table(root / "meta/tasks.parquet")
    assert tasks.column("task").to_pylist() == ["pick the cube", "open the drawer"]
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["task"]


def test_round_trip_values(small_dataset):
    root, written = small_dataset
    ds = DatasetReader(root)
    assert len(ds) == 28 and ds.meta.tasks == ["pick the cube", "open the drawer"]
    for ep in range(3):
        frames = ds.episode_frames(ep)
        np.testing.assert_array_equal(frames["observation.state"], written["observation.state"][ep])
        np.testing.assert_array_equal(frames["action"], written["action"][ep])
        n = len(written["action"][ep])
        np.testing.assert_array_equal(frames["frame_index"], np.arange(n))
        np.testing.assert_allclose(frames["timestamp"], np.arange(n) / 10, atol=1e-6)
        want = np.stack([frame_image(ep, t) for t in range(n)]).astype(int)
        assert np.abs(frames["observation.images.front"].astype(int) - want).mean() < 3.0  # codec tolerance
        assert frames["task"] == ("pick the cube", "open the drawer")[ep % 2]
    one = ds.frame(14)  # episode 1, frame 2, random access
    assert one["episode_index"] == 1 and one["frame_index"] == 2 and one["task"] == "open the drawer"
    assert abs(int(one["observation.images.front"][20, 40, 1]) - int(frame_image(1, 2)[20, 40, 1])) <= 3


def test_append_after_reopen(small_dataset):
    root, written = small_dataset
    with DatasetWriter.open(root) as w:
        assert w.num_episodes == 3
        more = write_episodes(w, [5], seed=1, first_ep=3)
    ds = DatasetReader(root)
    assert len(ds.meta.episodes) == 4 and len(ds) == 33
    np.testing.assert_array_equal(ds.episode_frames(3)["action"], more["action"][0])
    np.testing.assert_array_equal(ds.episode_frames(0)["action"], written["action"][0])
    assert ds.meta.episodes[3]["videos/observation.images.front/from_timestamp"] == pytest.approx(2.8)


def test_files_roll_over_at_size_limit(tmp_path):
    with DatasetWriter.create(tmp_path / "ds", 10, FEATURES, data_files_size_in_mb=1e-4,
                              video_files_size_in_mb=1e-4) as w:
        write_episodes(w, [4, 4, 4])
    ds = DatasetReader(tmp_path / "ds")
    assert [e["data/file_index"] for e in ds.meta.episodes] == [0, 1, 2]
    assert [e["videos/observation.images.front/from_timestamp"] for e in ds.meta.episodes] == [0.0, 0.0, 0.0]
    assert ds.frame(9)["episode_index"] == 2
    assert np.abs(ds.episode_frames(2)["observation.images.front"].astype(int)
                  - frame_image(2, 0).astype(int)).mean() < 12


def test_bad_frames_name_the_key(tmp_path):
    w = DatasetWriter.create(tmp_path / "ds", 10, FEATURES)
    good = {"observation.images.front": frame_image(0, 0), "observation.state": np.zeros(4, np.float32),
            "action": np.zeros(3, np.float32)}
    with pytest.raises(ValueError, match="observation.state.*shape"):
        w.add_frame(good | {"observation.state": np.zeros(5, np.float32)})
    with pytest.raises(ValueError, match="action.*non-finite"):
        w.add_frame(good | {"action": np.array([0, np.nan, 0], np.float32)})
    with pytest.raises(KeyError, match="missing \\['action'\\]"):
        w.add_frame({k: v for k, v in good.items() if k != "action"})
    with pytest.raises(ValueError, match="observation.images.front.*uint8"):
        w.add_frame(good | {"observation.images.front": np.zeros((32, 48, 3), np.float32)})
    with pytest.raises(ValueError, match="no frames"):
        w.save_episode("x")
    w.close()
    with pytest.raises(ValueError, match="feature 'action'"):
        DatasetWriter.create_or_open(tmp_path / "ds", 10, FEATURES | {"action": {"dtype": "float32", "shape": [7]}})


def test_second_writer_is_refused_and_discard_leaves_nothing(tmp_path):
    w = DatasetWriter.create(tmp_path / "ds", 10, FEATURES)
    with pytest.raises(RuntimeError, match="already open for writing"):
        DatasetWriter.open(tmp_path / "ds")
    write_episodes(w, [3])
    w.add_frame({"observation.images.front": frame_image(0, 0), "observation.state": np.zeros(4, np.float32),
                 "action": np.zeros(3, np.float32)})
    w.discard_episode()
    w.close()
    ds = DatasetReader(tmp_path / "ds")
    assert len(ds) == 3 and not (tmp_path / "ds/.staging").exists()


def test_stats_match_numpy(small_dataset):
    root, written = small_dataset
    stats = json.loads((root / "meta/stats.json").read_text())
    for key in ("observation.state", "action"):
        allv = np.concatenate(written[key]).astype(np.float64)
        s = {k: np.asarray(v) for k, v in stats[key].items()}
        np.testing.assert_allclose(s["mean"], allv.mean(0), rtol=1e-6)
        np.testing.assert_allclose(s["std"], allv.std(0), rtol=1e-6)
        np.testing.assert_allclose(s["min"], allv.min(0), rtol=1e-6)
        np.testing.assert_allclose(s["max"], allv.max(0), rtol=1e-6)
        for name, q in QUANTILES.items():
            np.testing.assert_allclose(s[name], np.quantile(allv, q, axis=0), rtol=1e-6)
        assert s["count"].tolist() == [28]
    # images: per channel in [0, 1], shape (3, 1, 1); one episode's stats are exact against numpy
    img = {k: np.asarray(v) for k, v in stats["observation.images.front"].items()}
    assert img["mean"].shape == (3, 1, 1) and 0 <= img["min"].min() and img["max"].max() <= 1
    ds = DatasetReader(root)
    ep0 = ds.episode_frames(0)["observation.images.front"]  # decoded pixels differ from written ones
    written0 = np.stack([frame_image(0, t) for t in range(12)]).astype(np.float64) / 255
    ep_stats = {k: np.asarray(v) for k, v in load_episodes(root, with_stats=True)[0].items()
                if k.startswith("stats/observation.images.front/")}
    np.testing.assert_allclose(ep_stats["stats/observation.images.front/mean"].ravel(),
                               written0.mean((0, 1, 2)), atol=1e-9)
    np.testing.assert_allclose(ep_stats["stats/observation.images.front/q99"].ravel(),
                               np.quantile(written0.reshape(-1, 3), 0.99, axis=0), atol=1e-9)
    assert ep0.shape == (12, 32, 48, 3)


def test_av1_codec_round_trip_and_append(tmp_path):
    root = tmp_path / "ds"
    with DatasetWriter.create(root, 10, FEATURES, codec="av1") as w:
        write_episodes(w, [5, 3])
    with DatasetWriter.open(root) as w:  # the codec is read back from info.json
        assert w.codec == "av1"
        write_episodes(w, [4], first_ep=2)
    ds = DatasetReader(root)
    assert ds.meta.features["observation.images.front"]["info"]["video.codec"] == "av1"
    frames = ds.episode_frames(2)["observation.images.front"].astype(int)
    want = np.stack([frame_image(2, t) for t in range(4)]).astype(int)
    assert np.abs(frames - want).mean() < 3.0
    with pytest.raises(ValueError, match="video codec 'vp9' unknown"):
        DatasetWriter.create(tmp_path / "x", 10, FEATURES, codec="vp9")


def test_h264_444_keeps_small_colored_objects(tmp_path):
    """4:2:0 chroma turns a 2x2-px saturated block grey; 'h264-444' keeps it within 2 levels, is stored
    as LeRobot's h264 + yuv444p, and an appending writer reads the codec back."""
    feats = {"observation.images.front": {"dtype": "video", "shape": [32, 32, 3]},
             "action": {"dtype": "float32", "shape": [2], "names": None}}
    img = np.full((32, 32, 3), (160, 130, 100), np.uint8)
    img[9:11, 21:23] = (40, 97, 255)  # a blue block of 2 x 2 px on a brown table
    errors = {}
    for codec in ("h264", "h264-444"):
        root = tmp_path / codec
        with DatasetWriter.create(root, 10, feats, codec=codec) as w:
            for _ in range(3):
                w.add_frame({"observation.images.front": img, "action": np.zeros(2, np.float32)})
            w.save_episode("look")
        frames = DatasetReader(root).episode_frames(0)["observation.images.front"].astype(int)
        errors[codec] = np.abs(frames - img.astype(int)).max()
    assert errors["h264-444"] <= 2 and errors["h264"] > 30
    info = DatasetReader(tmp_path / "h264-444").meta.features["observation.images.front"]["info"]
    assert (info["video.codec"], info["video.pix_fmt"]) == ("h264", "yuv444p")
    with DatasetWriter.open(tmp_path / "h264-444") as w:
        assert w.codec == "h264-444"


def test_files_roll_over_at_frame_limit(tmp_path):
    with DatasetWriter.create(tmp_path / "ds", 10, FEATURES) as w:
        w.max_frames_per_file = 8
        write_episodes(w, [5, 4, 3, 6])  # 5 -> 9 frames (full) | 3 -> 9 (full) | 6
    ds = DatasetReader(tmp_path / "ds")
    assert [e["data/file_index"] for e in ds.meta.episodes] == [0, 0, 1, 1]
    assert [e["videos/observation.images.front/file_index"] for e in ds.meta.episodes] == [0, 0, 1, 1]
    assert [e["videos/observation.images.front/from_timestamp"] for e in ds.meta.episodes] == [0.0, 0.5, 0.0, 0.3]
    frame = ds.frame(13)
    assert (frame["episode_index"], frame["frame_index"]) == (3, 1)
    assert abs(int(frame["observation.images.front"][20, 40, 1]) - int(frame_image(3, 1)[20, 40, 1])) <= 3


def test_add_episode_checks_whole_columns(tmp_path):
    with DatasetWriter.create(tmp_path / "ds", 10, {"action": {"dtype": "float32", "shape": [2]}}) as w:
        bad = np.zeros((4, 2), np.float32)
        bad[3, 1] = np.inf
        with pytest.raises(ValueError, match="action: non-finite"):
            w.add_episode("t", {"action": bad}, {}, {})
        with pytest.raises(ValueError, match=r"action: expected frames of shape \[2\], got \[3\]"):
            w.add_episode("t", {"action": np.zeros((4, 3), np.float32)}, {}, {})
        assert w.add_episode("t", {"action": np.ones((4, 2), np.float32)}, {}, {}) == 0
    ds = DatasetReader(tmp_path / "ds")
    assert len(ds) == 4 and ds.meta.video_keys == [] and ds.frame(3)["task"] == "t"
