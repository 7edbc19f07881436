"""vla-dataset subcommands: info, validate, visualize, merge, split (episodes copied without re-encoding)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.data.conftest import FEATURES, frame_image, write_episodes
from vla.data import DatasetReader, DatasetWriter
from vla.data.cli import main
from vla.data.validate import validate


def test_info_and_validate_cli(small_dataset, capsys):
    root, _ = small_dataset
    assert main(["info", str(root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["episodes"] == 3 and info["frames"] == 28 and info["episode_lengths"] == [12, 7, 9]
    assert info["features"]["observation.images.front"]["codec"] == "h264"
    assert main(["info", str(root)]) == 0 and "pick the cube" in capsys.readouterr().out
    assert main(["validate", str(root)]) == 0 and "OK" in capsys.readouterr().out
    (root / "data/chunk-000/file-000.parquet").write_bytes(b"garbage")
    assert main(["validate", str(root)]) == 1 and "unreadable parquet" in capsys.readouterr().out


def test_merge_copies_values_and_frames(small_dataset, tmp_path, capsys):
    root, written = small_dataset
    other = tmp_path / "other"
    with DatasetWriter.create(other, 10, FEATURES) as w:
        more = write_episodes(w, [5, 4], seed=3, first_ep=3, tasks=("wipe the table",))
    assert main(["merge", str(root), str(other), "--out", str(tmp_path / "merged")]) == 0
    ds = DatasetReader(tmp_path / "merged")
    assert [e["length"] for e in ds.meta.episodes] == [12, 7, 9, 5, 4]
    assert ds.meta.tasks == ["pick the cube", "open the drawer", "wipe the table"]
    np.testing.assert_array_equal(ds.episode_frames(4)["action"], more["action"][1])
    np.testing.assert_array_equal(ds.episode_frames(1)["observation.state"], written["observation.state"][1])
    src = DatasetReader(other).episode_frames(1)["observation.images.front"]
    np.testing.assert_array_equal(ds.episode_frames(4)["observation.images.front"], src)  # remuxed, not re-encoded
    assert validate(tmp_path / "merged").ok
    bad = tmp_path / "bad"
    with DatasetWriter.create(bad, 10, FEATURES | {"action": {"dtype": "float32", "shape": [2]}}) as w:
        w.add_frame({"observation.images.front": frame_image(0, 0), "observation.state": np.zeros(4, np.float32),
                     "action": np.zeros(2, np.float32)})
        w.save_episode("x")
    with pytest.raises(SystemExit) as exc:
        main(["merge", str(root), str(bad), "--out", str(tmp_path / "m2")])
    assert exc.value.code == 2 and "feature 'action' differs" in capsys.readouterr().err


def test_split_by_fraction_and_by_episodes(small_dataset, tmp_path):
    root, written = small_dataset
    assert main(["split", str(root), "--fraction", "0.67", "--out", str(tmp_path / "parts")]) == 0
    train, val = DatasetReader(tmp_path / "parts/train"), DatasetReader(tmp_path / "parts/val")
    assert [e["length"] for e in train.meta.episodes] == [12, 7] and [e["length"] for e in val.meta.episodes] == [9]
    np.testing.assert_array_equal(val.episode_frames(0)["action"], written["action"][2])
    assert val.frame(0)["task"] == "pick the cube" and val.frame(0)["index"] == 0
    assert main(["split", str(root), "--episodes", "2", "0", "--out", str(tmp_path / "pick")]) == 0
    pick = DatasetReader(tmp_path / "pick")
    assert [e["length"] for e in pick.meta.episodes] == [9, 12]
    assert validate(tmp_path / "pick").ok and validate(tmp_path / "parts/train").ok


def test_visualize_writes_pngs(small_dataset, tmp_path):
    import imageio.v3 as iio

    root, _ = small_dataset
    assert main(["visualize", str(root), "--out", str(tmp_path / "viz"), "--episodes", "1", "--frames", "4"]) == 0
    sheet = iio.imread(tmp_path / "viz/episode_000001_frames.png")
    assert sheet.shape == (32 + 4, 4 * (48 + 2) + 2, 3)
    assert iio.imread(tmp_path / "viz/episode_000001_signals.png").shape[0] > 100
