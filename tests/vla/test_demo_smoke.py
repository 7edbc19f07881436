"""The whole demo at a tiny budget (conf/demo/smoke.yaml) through its console entry point: every stage runs
as its own process, every report file appears, and a second run is a no-op that reuses everything.

About a minute on a quiet core (one task, 2 recorded episodes, 4 training steps, 1 episode per policy).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from vla.demo.report import REPORT_FILES

POLICIES = ["vla", "scripted", "random", "noop"]


def _run_demo(out_dir) -> subprocess.CompletedProcess:
    env = dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "vla.demo.cli", "demo=smoke", f"out_dir={out_dir}", "progress=false"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, f"vla-demo failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def test_smoke_demo_writes_the_whole_report_then_resumes_as_a_no_op(tmp_path):
    out = tmp_path / "demo"
    first = _run_demo(out)
    report = out / "report"
    for name in REPORT_FILES:
        assert (report / name).is_file() and (report / name).stat().st_size > 0, name
    assert "estimated time for the rest" in first.stdout
    assert str(report / "README.md") in first.stdout

    success = json.loads((report / "success.json").read_text())
    assert list(success["policies"]) == POLICIES
    touch = {p: success["policies"][p]["tasks"]["tabletop/touch"] for p in POLICIES}
    assert all(row["episodes"] == 1 for row in touch.values())
    assert touch["noop"]["successes"] == 0  # standing still never touches the block
    facts = json.loads((report / "report.json").read_text())
    assert facts["seeds"]["disjoint"] is True
    assert [t["stage"] for t in facts["timings"]] == ["record/tabletop__touch", "train",
                                                      *[f"eval/{p}" for p in POLICIES]]
    assert not any(t["skipped_this_run"] for t in facts["timings"])
    videos = sorted(p.relative_to(report / "videos").parts[0] for p in (report / "videos").rglob("*.mp4"))
    assert videos == sorted(POLICIES)  # one video per policy (one task)
    commands = (report / "commands.sh").read_text()
    for script in ("vla-record ", "vla-train ", "vla-bench policy=vla "):
        assert script in commands
    logs = {p: p.stat().st_mtime_ns for p in (out / "logs").iterdir()}

    second = _run_demo(out)
    assert second.stdout.count("skipped") == len(POLICIES) + 2
    assert "0 s" in second.stdout.split("estimated time for the rest:")[1].split("(")[0]
    assert {p: p.stat().st_mtime_ns for p in (out / "logs").iterdir()} == logs  # no stage process ran
    again = json.loads((report / "report.json").read_text())
    assert all(t["skipped_this_run"] for t in again["timings"])
    assert again["success"] == facts["success"]
