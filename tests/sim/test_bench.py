"""vla-bench end to end on a tiny Meta-World suite: result files, determinism, failures, bad names."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("metaworld")

from policies import registry as policy_registry  # noqa: E402
from policies.baselines import make_noop  # noqa: E402
from sim.bench.config import BenchConfig  # noqa: E402
from sim.bench.report import format_table  # noqa: E402
from sim.bench.runner import run  # noqa: E402
from sim.bench.store import RunDir, episode_seed  # noqa: E402
from vla.media import read_mp4  # noqa: E402

TASKS = ["metaworld/reach-v3", "metaworld/drawer-open-v3"]


def small(tmp_path, name: str, **kw) -> BenchConfig:
    settings = dict(policy="scripted", tasks=TASKS, episodes=2, image_size=24, max_episode_steps=120, workers=0,
                    videos_per_task=1, progress=False, out_dir=str(tmp_path / name))
    settings.update(kw)
    return BenchConfig(**settings)


def test_end_to_end_writes_results_videos_and_contact_sheet(tmp_path):
    cfg = small(tmp_path, "run")
    results = run(cfg, echo=None)
    root = tmp_path / "run"
    assert results["overall"] == {"episodes": 4, "successes": 4, "mean_success_rate": 1.0, "errors": 0}
    on_disk = json.loads((root / "results.json").read_text())
    assert on_disk["tasks"]["metaworld/reach-v3"]["successes"] == 2
    assert on_disk["versions"]["metaworld"] == "3.1.1" and on_disk["render_backend"] == "egl"
    assert on_disk["episode_seeds"]["metaworld/reach-v3"] == [episode_seed(0, "metaworld/reach-v3", i) for i in (0, 1)]
    assert on_disk["wall_s"] > 0 and on_disk["episodes_run"] == 4
    md = (root / "results.md").read_text()
    assert "| metaworld/drawer-open-v3 | 2/2 | 1.00 |" in md and "contact_sheet.png" in md

    run_dir = RunDir(root)
    for task in TASKS:
        rec0 = run_dir.load_record(task, 0)
        assert rec0["status"] == "ok" and rec0["video"].endswith("ep_0000.mp4")
        video = read_mp4(root / rec0["video"])
        assert video.shape == (rec0["steps"] + 1, 24, 24, 3)  # the reset frame and one per step
        assert not run_dir.video_path(task, 1).exists()  # videos_per_task=1
    import imageio.v3 as iio

    sheet = iio.imread(root / "contact_sheet.png")
    assert sheet.shape == (2 * 26 + 2, 2 * 26 + 2, 3)  # 2 tasks x (first, last), 2 px gaps


def test_same_command_same_table_inline_or_in_worker_processes(tmp_path):
    a = run(small(tmp_path, "a", policy="random", max_episode_steps=15, videos_per_task=0), echo=None)
    b = run(small(tmp_path, "b", policy="random", max_episode_steps=15, videos_per_task=0, workers=2), echo=None)
    assert format_table(a) == format_table(b)
    for task in TASKS:
        for i in range(2):
            ra, rb = RunDir(tmp_path / "a").load_record(task, i), RunDir(tmp_path / "b").load_record(task, i)
            ra.pop("wall_s"), rb.pop("wall_s")
            assert ra == rb
    c = run(small(tmp_path, "c", policy="random", max_episode_steps=15, videos_per_task=0, seed=1), echo=None)
    assert c["episode_seeds"] != a["episode_seeds"]


def test_rerun_skips_finished_episodes_and_refuses_other_settings(tmp_path):
    cfg = small(tmp_path, "r", policy="noop", max_episode_steps=10, videos_per_task=0)
    run(cfg, echo=None)
    again = run(cfg, echo=None)
    assert again["episodes_run"] == 0 and again["episodes_resumed"] == 4
    with pytest.raises(ValueError, match="other settings"):
        run(small(tmp_path, "r", policy="noop", max_episode_steps=11, videos_per_task=0), echo=None)
    default_dir = BenchConfig(policy="noop", tasks=TASKS).resolved_out_dir()
    assert default_dir == BenchConfig(policy="noop", tasks=TASKS, workers=7).resolved_out_dir()
    assert default_dir != BenchConfig(policy="noop", tasks=TASKS, seed=3).resolved_out_dir()


class FlakyPolicy:
    """Holds still, but raises at step 3 of the first episode it plays and reports metrics."""

    def __init__(self, inner):
        self.inner, self.episodes, self.steps = inner, 0, 0

    def reset(self, instruction):
        self.episodes += 1
        self.steps = 0

    def predict_action_chunk(self, obs):
        self.steps += 1
        if self.episodes == 1 and self.steps == 3:
            raise RuntimeError("flaky policy broke")
        return self.inner.predict_action_chunk(obs)

    def episode_metrics(self):
        return {"plan_success": self.episodes % 2 == 0, "steps_seen": np.int64(self.steps), "note": "x"}


def make_flaky(env, task_id):
    return FlakyPolicy(make_noop(env, task_id))


def test_policy_error_is_recorded_and_metrics_summarized(tmp_path, monkeypatch):
    monkeypatch.setitem(policy_registry.ALL_POLICIES, "flaky", f"{__name__}:make_flaky")
    results = run(small(tmp_path, "f", policy="flaky", tasks=TASKS[:1], episodes=3, max_episode_steps=8,
                        videos_per_task=0), echo=None)
    recs = [RunDir(tmp_path / "f").load_record(TASKS[0], i) for i in range(3)]
    assert recs[0]["status"] == "policy_error" and "flaky policy broke" in recs[0]["error"]
    assert recs[0]["steps"] == 2 and recs[1]["status"] == recs[2]["status"] == "ok"
    assert [r["metrics"]["plan_success"] for r in recs] == [False, True, False]
    task = results["tasks"][TASKS[0]]
    assert task["errors"] == 1 and task["metrics"] == {"plan_success": 0.3333, "steps_seen": 6.3333}  # (3 + 8 + 8) / 3
    assert results["failures"][0]["episode"] == 0
    assert "plan_success" in format_table(results)


def test_bad_names_list_the_valid_ones(tmp_path):
    with pytest.raises(KeyError, match="valid policies"):
        run(small(tmp_path, "x", policy="nope"), echo=None)
    with pytest.raises(KeyError, match="reach-v3"):
        run(small(tmp_path, "x", tasks=["metaworld/reach-v99"]), echo=None)
    with pytest.raises(KeyError, match="suites"):
        run(small(tmp_path, "x", tasks=["nowhere"]), echo=None)
    with pytest.raises(ValueError, match="corner2"):
        run(small(tmp_path, "y", cameras=["front-ish"], episodes=1, tasks=TASKS[:1]), echo=None)
    with pytest.raises(ValueError, match="bench.episodes"):
        BenchConfig(episodes=0)


def test_tabletop_and_metaworld_in_one_run(tmp_path):
    pytest.importorskip("sim.tabletop.family")
    tasks = ["tabletop/touch", "tabletop/pick", "metaworld/reach-v3"]
    results = run(small(tmp_path, "mixed", tasks=tasks, episodes=2, videos_per_task=1), echo=None)
    assert list(results["tasks"]) == tasks
    assert all(t["successes"] == 2 and t["errors"] == 0 for t in results["tasks"].values())
    rec = RunDir(tmp_path / "mixed").load_record("tabletop/pick", 0)
    video = read_mp4(tmp_path / "mixed" / rec["video"])
    assert video.shape[1:] == (24, 48, 3)  # the tabletop's two cameras side by side
    with pytest.raises(KeyError, match="put_all_in_bowl"):
        run(small(tmp_path, "z", tasks=["tabletop/nope"]), echo=None)
