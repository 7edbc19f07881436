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


def test_action_noise_perturbs_the_execution_not_the_labels(tmp_path):
    """DART: the env runs perturbed actions (other states than the clean run), the labels stay the expert's
    own (a scripted step never exceeds its 3.5 cm / 0.25 rad limits, a noisy one would), and the noise is
    seeded by the job, so a second recording is identical."""
    from sim.tabletop.experts import FAST

    clean = run(cfg(tmp_path / "clean", tasks=["tabletop/touch"], episodes_per_task=1), echo=None)
    noisy = run(cfg(tmp_path / "noisy", tasks=["tabletop/touch"], episodes_per_task=1, action_noise=0.2), echo=None)
    again = run(cfg(tmp_path / "again", tasks=["tabletop/touch"], episodes_per_task=1, action_noise=0.2), echo=None)
    assert clean["kept"] == noisy["kept"] == again["kept"] == 1
    a, b, c = (DatasetReader(tmp_path / n) for n in ("clean", "noisy", "again"))
    assert b.meta.episodes[0]["record/action_noise"] == "0.2"
    n = min(len(a.columns["action"]), len(b.columns["action"]))
    assert np.abs(a.columns["observation.state"][1:n, :3] - b.columns["observation.state"][1:n, :3]).max() > 1e-3
    labels = b.columns["action"]
    assert np.linalg.norm(labels[:, :3], axis=1).max() <= FAST + 1e-6
    assert np.abs(labels[:, 3:6]).max() <= 0.25 + 1e-6
    np.testing.assert_array_equal(b.columns["observation.state"], c.columns["observation.state"])
    with pytest.raises(ValueError, match=r"action_noise must be a std in \[0, 1\).*got 1.5"):
        RecordConfig(action_noise=1.5)


def test_perturbed_stays_in_the_action_space():
    import gymnasium as gym

    from sim.record.worker import perturbed

    space = gym.spaces.Box(low=np.float32([-0.05, -1.0]), high=np.float32([0.05, 1.0]), dtype=np.float32)
    rng = np.random.default_rng(0)
    out = np.stack([perturbed(np.array([0.05, -1.0]), space, 0.5, rng) for _ in range(200)])
    assert (out >= space.low).all() and (out <= space.high).all() and out.std(0)[0] > 0.005
    np.testing.assert_array_equal(perturbed(np.array([0.01, 0.5]), space, 0.0, rng), np.float32([0.01, 0.5]))
    per_dim = np.stack([perturbed(np.array([0.0, 0.5]), space, [0.2, 0.0], rng) for _ in range(50)])
    assert per_dim[:, 0].std() > 0.002 and (per_dim[:, 1] == 0.5).all()
    with pytest.raises(ValueError, match="lists 3 stds, the action space has 2"):
        perturbed(np.zeros(2), space, [0.1, 0.1, 0.1], rng)
    with pytest.raises(ValueError, match=r"action_noise must be .*got \[0.1, -0.1\]"):
        RecordConfig(action_noise=[0.1, -0.1])


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
