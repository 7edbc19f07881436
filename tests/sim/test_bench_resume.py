"""vla-bench survives SIGKILL: a rerun skips the finished episodes and ends with the clean run's table."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("metaworld")

from sim.bench.config import BenchConfig  # noqa: E402
from sim.bench.report import format_table  # noqa: E402
from sim.bench.runner import run  # noqa: E402

TASKS = ["metaworld/reach-v3", "metaworld/drawer-open-v3"]
ARGS = dict(policy="scripted", episodes=3, image_size=16, max_episode_steps=100, videos_per_task=0)


def _cli(out_dir, workers: int) -> list[str]:
    overrides = [f"{k}={v}" for k, v in ARGS.items()]
    return [sys.executable, "-m", "sim.bench.cli", f"tasks=[{','.join(TASKS)}]", *overrides,
            f"workers={workers}", "progress=false", f"out_dir={out_dir}"]


def _finished(out_dir) -> dict:
    eps = out_dir / "episodes"
    return {p.relative_to(eps): p.stat().st_mtime_ns for p in eps.rglob("ep_*.json")} if eps.exists() else {}


@pytest.mark.parametrize("workers", [0, pytest.param(2, marks=pytest.mark.slow)])
def test_sigkill_then_rerun_resumes(tmp_path, workers):
    out = tmp_path / "killed"
    env = {**os.environ, "MUJOCO_GL": "egl"}
    proc = subprocess.Popen(_cli(out, workers), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own process group: the kill takes the workers too
    deadline = time.monotonic() + 120
    while len(_finished(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _finished(out)
    assert 2 <= len(before) < 6, f"expected a partial run, got {len(before)} episodes"
    assert not (out / "results.json").exists()
    (out / "episodes" / "metaworld__reach-v3" / ".ep_0002.json.killed.tmp").write_text("{")  # a torn write

    done = subprocess.run(_cli(out, workers), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    after = _finished(out)
    assert len(after) == 6
    assert not list(out.rglob("*.tmp"))
    assert all(after[k] == v for k, v in before.items()), "finished episodes were run again"
    resumed = json.loads((out / "results.json").read_text())
    assert resumed["episodes_resumed"] == len(before) and resumed["episodes_run"] == 6 - len(before)

    clean = run(BenchConfig(tasks=TASKS, workers=0, progress=False, out_dir=str(tmp_path / "clean"), **ARGS),
                echo=None)
    assert format_table(resumed) == format_table(clean)
    assert format_table(resumed) in done.stdout
