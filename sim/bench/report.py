"""Turn episode records into the run's report: per-task table, results.json, results.md, contact sheet.

The table holds only what the episodes decide (success counts, lengths, policy metrics), never wall
time, so the same command prints the same table on every run and after any resume.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from typing import Any, Sequence

import numpy as np

from sim.bench.store import RunDir
from vla.io import atomic_write_json, atomic_write_text
from vla.media import contact_sheet, save_png

VERSIONED = ("vla-stack", "numpy", "mujoco", "metaworld", "gymnasium", "torch", "transformers")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape results (None when absent), without importing them."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _numeric_means(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Mean of each numeric (or bool) policy metric over the episodes that report it."""
    values: dict[str, list[float]] = {}
    for rec in records:
        for key, value in rec.get("metrics", {}).items():
            if isinstance(value, (bool, int, float)) and value is not None:
                values.setdefault(key, []).append(float(value))
    return {key: round(float(np.mean(v)), 4) for key, v in sorted(values.items())}


def summarize(records_by_task: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per-task summaries and the overall row: successes/episodes, rate, mean length, errors, metrics."""
    tasks = {}
    for task_id, recs in records_by_task.items():
        n = len(recs)
        wins = sum(bool(r["success"]) for r in recs)
        tasks[task_id] = {"episodes": n, "successes": wins, "success_rate": round(wins / n, 4) if n else 0.0,
                          "mean_length": round(float(np.mean([r["steps"] for r in recs])), 2) if n else 0.0,
                          "errors": sum(r["status"] != "ok" for r in recs), "metrics": _numeric_means(recs)}
    rates = [t["success_rate"] for t in tasks.values()]
    overall = {"episodes": sum(t["episodes"] for t in tasks.values()),
               "successes": sum(t["successes"] for t in tasks.values()),
               "mean_success_rate": round(float(np.mean(rates)), 4) if rates else 0.0,
               "errors": sum(t["errors"] for t in tasks.values())}
    return {"tasks": tasks, "overall": overall}


def format_table(summary: dict[str, Any], markdown: bool = False) -> str:
    """The per-task table as aligned text (or a Markdown table), metric columns after the fixed ones."""
    metric_keys = sorted({k for t in summary["tasks"].values() for k in t["metrics"]})
    head = ["task", "success", "rate", "mean len", "errors", *metric_keys]
    rows = [[task, f"{t['successes']}/{t['episodes']}", f"{t['success_rate']:.2f}", f"{t['mean_length']:.1f}",
             str(t["errors"]), *(f"{t['metrics'][k]:.3f}" if k in t["metrics"] else "-" for k in metric_keys)]
            for task, t in summary["tasks"].items()]
    o = summary["overall"]
    rows.append(["overall (mean rate)", f"{o['successes']}/{o['episodes']}", f"{o['mean_success_rate']:.2f}",
                 "", str(o["errors"]), *([""] * len(metric_keys))])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*head), fmt.format(*("-" * w for w in widths)), *(fmt.format(*r) for r in rows)])


def write_contact_sheet(run_dir: RunDir, records_by_task: dict[str, list[dict[str, Any]]]) -> str | None:
    """One row per task: first and last frame of each recorded episode; returns the PNG's name or None."""
    import imageio.v3 as iio

    rows: list[list[np.ndarray]] = []
    for task_id, recs in records_by_task.items():
        row = []
        for rec in recs:
            paths = [run_dir.frame_path(task_id, rec["episode"], w) for w in ("first", "last")]
            if all(p.exists() for p in paths):
                row += [iio.imread(p) for p in paths]
        if row:
            rows.append(row)
    if not rows:
        return None
    cols = max(len(r) for r in rows)
    shape = rows[0][0].shape
    blank = np.full(shape, 255, np.uint8)
    tiles = [im if im.shape == shape else blank for r in rows for im in r + [blank] * (cols - len(r))]
    save_png(run_dir.root / "contact_sheet.png", contact_sheet(tiles, cols=cols))
    return "contact_sheet.png"


def write_results(run_dir: RunDir, header: dict[str, Any], records_by_task: dict[str, list[dict[str, Any]]]) -> dict:
    """Write results.json, results.md and contact_sheet.png; returns the results dict."""
    summary = summarize(records_by_task)
    results = {**header, "versions": package_versions(), "render_backend": os.environ.get("MUJOCO_GL"),
               "episode_seeds": {t: [r["seed"] for r in recs] for t, recs in records_by_task.items()},
               "episode_wall_s": round(sum(r.get("wall_s", 0.0) for rs in records_by_task.values() for r in rs), 2),
               **summary,
               "failures": [{k: r[k] for k in ("task", "episode", "status", "error")}
                            for rs in records_by_task.values() for r in rs if r["status"] != "ok"]}
    results["contact_sheet"] = write_contact_sheet(run_dir, records_by_task)
    atomic_write_json(run_dir.root / "results.json", results)
    md = [f"# Benchmark: policy `{header['config']['policy']}`", "",
          f"- tasks: {', '.join(records_by_task)}", f"- episodes per task: {header['config']['episodes']}, "
          f"base seed {header['config']['seed']}, fingerprint `{header['fingerprint']}`",
          f"- wall time: {header['wall_s']:.1f} s this run ({header['episodes_run']} episodes run, "
          f"{header['episodes_resumed']} resumed from disk)",
          f"- render backend: {results['render_backend']}; versions: "
          + ", ".join(f"{k} {v}" for k, v in results["versions"].items() if v), "",
          "success: the env reported `info[\"success\"]` at some step; mean len: steps per episode; "
          "errors: episodes ended by a policy exception or an env error (see results.json `failures`).", "",
          format_table(summary, markdown=True), ""]
    if results["contact_sheet"]:
        md += ["![first and last frames](contact_sheet.png)", ""]
    atomic_write_text(run_dir.root / "results.md", "\n".join(md))
    return results
