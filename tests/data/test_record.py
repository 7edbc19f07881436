"""vla-record: expert episodes from a sim family into a dataset; resume; same dataset with 1 or 2 workers."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")

from sim.record.config import RecordConfig  # noqa: E402
from sim.record.runner import run  # noqa: E402
from vla.data import DatasetReader  # noqa: E402
from vla.data.validate import validate  # noqa: E402


def cfg(out, **kw) -> RecordConfig:
    base = dict(tasks=["tabletop/pick"], episodes_per_task=2, out=str(out), image_size=32, cameras=["front"],
                progress=False)
    return RecordConfig(**(base | kw))


def test_record_then_resume(tmp_path):
    out = tmp_path / "rec"
    summary = run(cfg(out), echo=None)
    assert summary["planned"] == 2 and summary["kept"] + summary["not_kept"] == 2
    ds = DatasetReader(out)
    assert validate(out).ok
    assert list(ds.meta.video_keys) == ["observation.images.front"] and ds.meta.fps == 10
    rows = ds.meta.episodes
    seeds = [r["record/seed"] for r in rows]
    assert all(r["record/task_id"] == "tabletop/pick" for r in rows) and seeds == sorted(seeds) and set(seeds) <= {0, 1}
    assert all(r["record/success"] for r in rows)  # failures are dropped by default
    ep = ds.episode_frames(0)
    assert ep["task"] and ep["observation.images.front"].shape[1:] == (32, 32, 3)
    assert ep["action"].shape[1] == 7 and np.isfinite(ep["observation.state"]).all()
    again = run(cfg(out, episodes_per_task=3), echo=None)  # only seed 2 is new
    assert again["skipped"] == 2 and again["kept"] + again["not_kept"] == 1
    assert DatasetReader(out).meta.num_frames >= ds.meta.num_frames


def test_bad_config_names_the_field():
    with pytest.raises(ValueError, match="episodes_per_task must be >= 1, got 0"):
        RecordConfig(episodes_per_task=0)
    with pytest.raises(ValueError, match="start_method.*got 'fork'"):
        RecordConfig(start_method="fork")


@pytest.mark.slow
def test_two_workers_give_the_same_dataset(tmp_path):
    run(cfg(tmp_path / "one", episodes_per_task=3), echo=None)
    run(cfg(tmp_path / "two", episodes_per_task=3, workers=2), echo=None)
    a, b = DatasetReader(tmp_path / "one"), DatasetReader(tmp_path / "two")
    assert [r["record/seed"] for r in a.meta.episodes] == [r["record/seed"] for r in b.meta.episodes]
    np.testing.assert_array_equal(a.columns["action"], b.columns["action"])
    np.testing.assert_array_equal(a.columns["observation.state"], b.columns["observation.state"])


@pytest.mark.slow
def test_record_metaworld(tmp_path):
    pytest.importorskip("metaworld")
    summary = run(cfg(tmp_path / "mw", tasks=["metaworld/reach-v3"], cameras=None, keep_failed=True), echo=None)
    assert summary["kept"] == 2
    ds = DatasetReader(tmp_path / "mw")
    assert validate(tmp_path / "mw").ok and ds.meta.fps == 80
    assert ds.meta.episodes[0]["record/task_id"] == "metaworld/reach-v3"
