"""The demo's report directory: success table (Markdown + JSON), loss curve, success bars, rollout videos,
contact sheet, the command of every step, wall times, and the check that evaluation seeds were unseen.

Layout of `<out_dir>/report/`:
    README.md            the report: table, figures, timings, commands, settings, where everything is
    report.json          the same facts, machine-readable
    success.md, success.json   the policy x task success table
    loss.png, success.png, contact_sheet.png
    videos/<policy>/<task>_ep_XXXX.mp4
    commands.sh          the exact commands of every step, in order
"""

from __future__ import annotations

import json
import shlex
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

from vla.config import to_dict
from vla.demo.config import DemoConfig
from vla.demo.figures import plot_contact_sheet, plot_loss, plot_success, read_scalars
from vla.demo.plan import EVAL, RECORD, TRAIN, Stage, checkpoint_of, slug
from vla.demo.runner import StageRun, fmt_seconds
from vla.demo.seeds import unseen_check
from vla.io import atomic_write_json, atomic_write_text

REPORT_FILES = ("README.md", "report.json", "success.md", "success.json", "loss.png", "success.png",
                "contact_sheet.png", "commands.sh")


def load_results(stage: Stage) -> dict[str, Any]:
    """A benchmark stage's results.json (written by `vla-bench`)."""
    return json.loads((stage.out / "results.json").read_text())


def success_table(evals: Sequence[Stage], tasks: Sequence[str]) -> dict[str, Any]:
    """policy -> task -> {successes, episodes, rate}, plus each policy's mean rate over the tasks."""
    table: dict[str, Any] = {}
    for stage in evals:
        per_task = load_results(stage)["tasks"]
        missing = [t for t in tasks if t not in per_task]
        if missing:
            raise ValueError(f"{stage.out}/results.json has no rows for tasks {missing}; it has {sorted(per_task)}")
        rows = {t: {"successes": int(per_task[t]["successes"]), "episodes": int(per_task[t]["episodes"]),
                    "rate": float(per_task[t]["success_rate"])} for t in tasks}
        table[stage.policy] = {"tasks": rows, "mean_rate": round(sum(r["rate"] for r in rows.values()) / len(rows), 4)}
    return table


def success_markdown(table: dict[str, Any], tasks: Sequence[str], targets: dict[str, float]) -> str:
    """The success table as Markdown: one row per policy, `successes/episodes (rate)` per task."""
    head = ["policy", *[t.split("/")[-1] for t in tasks], "mean"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for policy, row in table.items():
        cells = [f"{row['tasks'][t]['successes']}/{row['tasks'][t]['episodes']} ({row['tasks'][t]['rate']:.0%})"
                 for t in tasks]
        lines.append("| " + " | ".join([policy, *cells, f"{row['mean_rate']:.0%}"]) + " |")
    if any(t in targets for t in tasks):
        cells = [f">= {targets[t]:.0%}" if t in targets else "" for t in tasks]
        lines.append("| " + " | ".join(["*target (vla)*", *cells, ""]) + " |")
    return "\n".join(lines)


def copy_videos(evals: Sequence[Stage], dest: Path) -> dict[str, Path]:
    """Copy every benchmark video into `dest/<policy>/<task>_ep_XXXX.mp4`; returns the first video of each
    (policy, task) under the label 'policy / task' (the contact sheet's rows)."""
    firsts: dict[str, Path] = {}
    for stage in evals:
        for video in sorted((stage.out / "videos").glob("*/*.mp4")):
            target = dest / stage.policy / f"{video.parent.name}_{video.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(video, target)
            firsts.setdefault(f"{stage.policy} / {video.parent.name.split('__')[-1]}", target)
    return firsts


def model_summary(checkpoint: Path) -> dict[str, Any]:
    """The settings that shape what the VLA sees and emits, from the checkpoint's config.json."""
    cfg = json.loads((checkpoint / "config.json").read_text())
    vision, proj, lm = cfg["vision"].get("config", {}), cfg["projector"], cfg["lm"].get("config", {})
    patches = (cfg["image_size"] // vision["patch_size"]) ** 2 if "patch_size" in vision else None
    patches = vision.get("readout_tokens") or patches  # a conv tower's readout replaces its grid tokens
    per_image = proj["num_queries"] if proj["type"] == "resampler" else patches
    if cfg["vision"]["type"] == "conv":
        tower = (f"conv {vision.get('channels')} -> {vision.get('hidden_size')}"
                 + (", FiLM" if vision.get("film_dim") else "")
                 + (f", {vision['keypoints']} keypoints" if vision.get("keypoints") else ""))
    else:
        tower = f"{cfg['vision']['type']} {vision.get('num_hidden_layers')}x{vision.get('hidden_size')}"
    return {"cameras": cfg["cameras"], "image_size": cfg["image_size"], "tokens_per_image": per_image,
            "vision": tower,
            "projector": proj["type"], "state_tokens": cfg["num_state_tokens"],
            "lm": f"{lm.get('model_type')} {lm.get('num_hidden_layers')}x{lm.get('hidden_size')}",
            "action_tokenizer": cfg["action_tokenizer"], "chunk_length": cfg["horizon"], "decoding": cfg["decoding"]}


def commands_script(demo_command: str, stages: Sequence[Stage]) -> str:
    """A bash script with the exact command of every step, in order (the demo itself first, as a comment)."""
    lines = ["#!/usr/bin/env bash", "# The steps of this demo, in order. Each one resumes where it stopped if rerun.",
             f"# All at once: {demo_command}", "set -euo pipefail", ""]
    for stage in stages:
        lines += [f"# {stage.name} -> {stage.out}", stage.command(), ""]
    return "\n".join(lines)


def _timings(runs: Sequence[StageRun], estimates: dict[str, float]) -> list[dict[str, Any]]:
    return [{"stage": r.stage.name, "wall_s": round(r.wall_s, 2), "skipped_this_run": r.skipped,
             "estimate_s": round(estimates[r.stage.name], 1) if r.stage.name in estimates else None}
            for r in runs]


def _stage_totals(runs: Sequence[StageRun]) -> dict[str, float]:
    totals = {RECORD: 0.0, TRAIN: 0.0, EVAL: 0.0}
    for r in runs:
        totals[r.stage.kind] += r.wall_s
    return {k: round(v, 2) for k, v in totals.items()}


def write_report(cfg: DemoConfig, runs: Sequence[StageRun], demo_command: str,
                 estimates: dict[str, float]) -> Path:
    """Write the report directory (see the module docstring) from finished stages; returns its path.

    Its own wall time (`report_s`) covers everything but writing the two final text files.
    """
    t0 = time.perf_counter()
    stages = [r.stage for r in runs]
    root = Path(cfg.out_dir) / "report"
    root.mkdir(parents=True, exist_ok=True)
    evals = [s for s in stages if s.kind == EVAL]
    train = next(s for s in stages if s.kind == TRAIN)
    table = success_table(evals, cfg.tasks)
    atomic_write_json(root / "success.json", {"tasks": cfg.tasks, "episodes_per_task": cfg.eval.episodes,
                                              "eval_seed": cfg.eval.seed, "targets": cfg.targets, "policies": table})
    table_md = success_markdown(table, cfg.tasks, cfg.targets)
    atomic_write_text(root / "success.md", table_md + "\n")
    scalars = read_scalars(train.out / "tensorboard")
    plot_loss(scalars, root / "loss.png")
    plot_success({p: {t: r["rate"] for t, r in row["tasks"].items()} for p, row in table.items()},
                 cfg.tasks, root / "success.png", cfg.targets)
    firsts = copy_videos(evals, root / "videos")
    if firsts:
        plot_contact_sheet(firsts, root / "contact_sheet.png")
    atomic_write_text(root / "commands.sh", commands_script(demo_command, stages))
    seeds = unseen_check([s for s in stages if s.kind == RECORD], [load_results(s) for s in evals])
    facts = {"config": to_dict(cfg), "demo_command": demo_command, "success": table,
             "stage_wall_s": _stage_totals(runs), "report_s": round(time.perf_counter() - t0, 2), "timings": _timings(runs, estimates),
             "seeds": seeds, "checkpoint": str(checkpoint_of(train).resolve()),
             "model": model_summary(checkpoint_of(train)),
             "final_train_loss": scalars["train/loss"][-1][1],
             "outputs": {s.name: str(s.out) for s in stages}, "videos": sorted(str(p) for p in firsts.values())}
    atomic_write_json(root / "report.json", facts)
    atomic_write_text(root / "README.md", readme(cfg, facts, table_md, stages, bool(firsts)))
    return root


def readme(cfg: DemoConfig, facts: dict[str, Any], table_md: str, stages: Sequence[Stage], sheet: bool) -> str:
    """The report as Markdown (README.md of the report directory)."""
    t = facts["stage_wall_s"]
    total = sum(t.values()) + facts["report_s"]
    timing_rows = [f"| {r['stage']} | {fmt_seconds(r['wall_s'])} | {'yes' if r['skipped_this_run'] else 'no'} |"
                   for r in facts["timings"]]
    seeds = facts["seeds"]
    lines = [
        "# vla-demo report", "",
        f"Record {cfg.record.episodes} expert episodes per task, train the VLA for {cfg.train.steps} steps "
        f"(batch {cfg.train.batch_size}, model `{cfg.train.model}`), evaluate every policy on "
        f"{cfg.eval.episodes} unseen episodes per task.", "",
        "## Success rate on unseen seeds", "", table_md, "",
        "![success rate](success.png)", "", "## Training", "",
        f"Final training loss {facts['final_train_loss']:.4f}; checkpoint `{facts['checkpoint']}`.", "",
        "| model setting | value |", "|---|---|", *[f"| {k} | {v} |" for k, v in facts["model"].items()], "",
        "![loss curve](loss.png)", "",
        "## Rollouts", "", "Videos: `videos/<policy>/<task>_ep_XXXX.mp4`.", "",
        *(["![contact sheet](contact_sheet.png)", ""] if sheet else []),
        "## Unseen seeds", "", seeds["summary"], "",
        "## Wall time", "",
        f"record {fmt_seconds(t[RECORD])}, train {fmt_seconds(t[TRAIN])}, evaluate {fmt_seconds(t[EVAL])}, "
        f"report {fmt_seconds(facts['report_s'])}; total {fmt_seconds(total)} (a stage skipped this run shows "
        "the time of the run that finished it).", "",
        "| stage | wall time | skipped this run |", "|---|---|---|", *timing_rows, "",
        "## Reproduce", "", "Everything at once (resumes; finished stages are skipped):", "",
        "```bash", facts["demo_command"], "```", "", "Step by step (`commands.sh`):", "", "```bash",
        *[f"{s.command()}" for s in stages], "```", "",
        "## Where the outputs are", "", *[f"- `{s.name}`: `{s.out}`" for s in stages], "",
    ]
    return "\n".join(lines)


def demo_command(overrides: Sequence[str]) -> str:
    """`vla-demo` with the overrides it was started with, quoted for a shell."""
    return shlex.join(["vla-demo", *overrides])


__all__ = ["REPORT_FILES", "demo_command", "success_markdown", "success_table", "write_report", "slug"]
