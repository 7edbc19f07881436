"""`validate` finds corrupt, truncated, missing and mismatched files by name; `fix=True` drops a partial tail."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests.data.conftest import FEATURES, write_episodes
from vla.data import DatasetReader, DatasetWriter
from vla.data.validate import validate

DATA = "data/chunk-000/file-000.parquet"
VIDEO = "videos/observation.images.front/chunk-000/file-000.mp4"


def errors(report) -> str:
    return "\n".join(report.lines())


def test_clean_dataset_is_valid(small_dataset):
    root, _ = small_dataset
    report = validate(root)
    assert report.ok, errors(report)
    assert report.summary["episodes"] == 3 and report.summary["frames"] == 28


def test_truncated_parquet_and_mp4_are_named(small_dataset):
    root, _ = small_dataset
    raw = (root / DATA).read_bytes()
    (root / DATA).write_bytes(raw[: len(raw) // 2])
    raw = (root / VIDEO).read_bytes()
    (root / VIDEO).write_bytes(raw[: len(raw) // 3])
    report = validate(root)
    assert not report.ok
    text = errors(report)
    assert f"{DATA}: unreadable parquet" in text and f"{VIDEO}: unreadable or truncated MP4" in text


def test_partial_tail_is_reported_and_fixed(small_dataset):
    root, written = small_dataset
    table = pq.read_table(root / DATA)
    pq.write_table(pa.concat_tables([table, table.slice(0, 4)]), root / DATA)  # 4 frames of no episode
    report = validate(root)
    assert not report.ok and "partial tail: 4 frames" in errors(report)
    fixed = validate(root, fix=True)
    assert fixed.ok, errors(fixed)
    assert any("cut" in line for line in fixed.fixed)
    ds = DatasetReader(root)
    assert len(ds) == 28
    np.testing.assert_array_equal(ds.episode_frames(2)["action"], written["action"][2])


def test_fix_drops_trailing_episode_with_missing_video_and_rewrites_meta(tmp_path):
    root = tmp_path / "ds"
    with DatasetWriter.create(root, 10, FEATURES, video_files_size_in_mb=1e-4) as w:  # one file per episode
        write_episodes(w, [5, 6, 7])
    (root / "videos/observation.images.front/chunk-000/file-002.mp4").unlink()
    report = validate(root)
    assert "file-002.mp4: video of observation.images.front is missing" in errors(report)
    fixed = validate(root, fix=True)
    assert fixed.ok, errors(fixed)
    info = json.loads((root / "meta/info.json").read_text())
    assert info["total_episodes"] == 2 and info["total_frames"] == 11
    stats = json.loads((root / "meta/stats.json").read_text())
    assert stats["index"]["max"] == [10] and stats["observation.images.front"]["count"] == [11]
    assert len(DatasetReader(root)) == 11
    with DatasetWriter.open(root) as w:  # and it appends again
        write_episodes(w, [3], first_ep=2)
    assert validate(root).ok


def test_mismatched_features_and_totals_are_named(small_dataset):
    root, _ = small_dataset
    info = json.loads((root / "meta/info.json").read_text())
    info["features"]["action"]["shape"] = [4]
    info["features"]["observation.images.front"]["shape"] = [64, 48, 3]
    info["total_frames"] = 99
    (root / "meta/info.json").write_text(json.dumps(info))
    text = errors(validate(root))
    assert "feature 'action' has shape [3] per frame, info.json says [4]" in text
    assert "feature 'observation.images.front': frames are [32, 48, 3]" in text
    assert "total_frames is 99, but meta says 28" in text


def test_missing_episode_rows_are_reported(small_dataset):
    root, _ = small_dataset
    path = root / "meta/episodes/chunk-000/file-000.parquet"
    table = pq.read_table(path)
    pq.write_table(pa.concat_tables([table.slice(0, 1), table.slice(2, 1)]), path)  # episode 1 gone
    text = errors(validate(root))
    assert "episode indices are not 0..1" in text


def test_unreferenced_files_are_deleted_by_fix(small_dataset):
    root, _ = small_dataset
    shutil.copy(root / DATA, root / "data/chunk-000/file-007.parquet")
    assert "file-007.parquet: data file that no episode references" in errors(validate(root))
    assert validate(root, fix=True).ok
    assert not (root / "data/chunk-000/file-007.parquet").exists()
