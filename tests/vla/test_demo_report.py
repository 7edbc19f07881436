"""vla-demo's report pieces on synthetic inputs: TensorBoard loss reading, figures, success table, seed check."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from vla.demo.config import DemoConfig
from vla.demo.figures import plot_contact_sheet, plot_loss, plot_success, read_scalars, video_strip
from vla.demo.plan import build_plan
from vla.demo.report import success_markdown, success_table
from vla.media import write_mp4

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _write_events(log_dir: Path, stamp: int, losses: dict[int, float]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(log_dir), filename_suffix=f".{stamp}")
    for step, value in losses.items():
        writer.add_scalar("train/loss", value, step)
    writer.close()
    newest = max(log_dir.glob("events.out.tfevents.*"), key=os.path.getmtime)
    parts = newest.name.split(".")
    parts[3] = str(stamp)  # the file's time stamp orders the runs
    newest.rename(newest.with_name(".".join(parts)))


def test_loss_from_tensorboard_logs_a_resumed_run_overrides_the_steps_it_redid(tmp_path):
    logs = tmp_path / "tensorboard" / "run"
    _write_events(logs, 1000, {10: 3.0, 20: 2.5, 30: 2.4})  # killed after step 30, checkpoint at 20
    _write_events(logs, 2000, {30: 2.2, 40: 2.0})
    scalars = read_scalars(tmp_path / "tensorboard")
    assert scalars["train/loss"] == [(10, 3.0), (20, 2.5), (30, pytest.approx(2.2)), (40, 2.0)]
    plot_loss(scalars, tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes()[:8] == PNG_MAGIC


def test_plot_loss_without_a_loss_series_names_what_it_found(tmp_path):
    with pytest.raises(ValueError, match="train/lr"):
        plot_loss({"train/lr": [(1, 0.1)]}, tmp_path / "loss.png")


def test_success_bars_and_contact_sheet_are_pngs(tmp_path):
    tasks = ["tabletop/touch", "tabletop/pick"]
    plot_success({"vla": {"tabletop/touch": 0.9, "tabletop/pick": 0.4}, "noop": {}}, tasks,
                 tmp_path / "success.png", targets={"tabletop/touch": 0.8})
    assert (tmp_path / "success.png").read_bytes()[:8] == PNG_MAGIC
    ramp = [np.full((24, 32, 3), 10 * i, np.uint8) for i in range(7)]
    write_mp4(tmp_path / "a.mp4", ramp, fps=10)
    write_mp4(tmp_path / "b.mp4", ramp[:2], fps=10)
    strip = video_strip(tmp_path / "a.mp4", frames=4)
    assert len(strip) == 4 and strip[0].mean() < strip[-1].mean()  # first ... last, in order
    assert len(video_strip(tmp_path / "b.mp4", frames=4)) == 4  # short clips are padded
    plot_contact_sheet({"vla / touch": tmp_path / "a.mp4", "noop / touch": tmp_path / "b.mp4"},
                       tmp_path / "sheet.png")
    assert (tmp_path / "sheet.png").read_bytes()[:8] == PNG_MAGIC


def _fake_results(stage, tasks, wins, seeds):
    stage.out.mkdir(parents=True, exist_ok=True)
    rows = {t: {"episodes": 4, "successes": w, "success_rate": w / 4} for t, w in zip(tasks, wins)}
    (stage.out / "results.json").write_text(json.dumps({"tasks": rows, "episode_seeds": seeds}))


def test_success_table_rows_per_policy_and_markdown(tmp_path):
    cfg = DemoConfig(out_dir=str(tmp_path), tasks=["tabletop/touch", "tabletop/pick"])
    evals = [s for s in build_plan(cfg) if s.kind == "eval"]
    for stage, wins in zip(evals, ([4, 2], [4, 4], [0, 1], [0, 0])):
        _fake_results(stage, cfg.tasks, wins, {})
    table = success_table(evals, cfg.tasks)
    assert list(table) == ["vla", "scripted", "random", "noop"]
    assert table["vla"]["tasks"]["tabletop/pick"] == {"successes": 2, "episodes": 4, "rate": 0.5}
    assert table["vla"]["mean_rate"] == 0.75
    md = success_markdown(table, cfg.tasks, cfg.targets)
    assert "| vla | 4/4 (100%) | 2/4 (50%) | 75% |" in md and ">= 80%" in md
    with pytest.raises(ValueError, match="tabletop/push"):
        success_table(evals, ["tabletop/push"])


def test_unseen_check_refuses_an_evaluation_seed_that_was_recorded(tmp_path, monkeypatch):
    from vla.demo import seeds

    cfg = DemoConfig(out_dir=str(tmp_path), tasks=["tabletop/touch"])
    records = [s for s in build_plan(cfg) if s.kind == "record"]
    monkeypatch.setattr(seeds, "recorded_seeds", lambda root: [0, 1, 2])
    ok = seeds.unseen_check(records, [{"episode_seeds": {"tabletop/touch": [7, 123456]}}])
    assert ok["disjoint"] and ok["counts"]["tabletop/touch"] == {"recorded": 3, "evaluated": 2}
    with pytest.raises(ValueError, match=r"tabletop/touch.*\[2\]"):
        seeds.unseen_check(records, [{"episode_seeds": {"tabletop/touch": [2, 99]}}])


def test_model_summary_counts_a_conv_readout_not_its_grid(tmp_path):
    from omegaconf import OmegaConf

    from vla.config import to_dataclass, to_dict
    from vla.demo.report import model_summary
    from vla.model import VLAConfig

    conf = Path(__file__).resolve().parents[2] / "conf" / "model" / "demo.yaml"
    cfg = to_dict(to_dataclass(OmegaConf.load(conf), VLAConfig))
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    summary = model_summary(tmp_path)
    vision = cfg["vision"]["config"]
    assert summary["tokens_per_image"] == vision["readout_tokens"]
    assert summary["vision"] == f"conv {vision['channels']} -> 128, FiLM, {vision['keypoints']} keypoints"
