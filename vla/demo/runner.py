"""Run the plan's stages as subprocesses, skipping the finished ones, and keep their timings.

A stage is *finished* when its marker (`<out_dir>/stages/<name>.json`, written atomically after the
subprocess exited 0) carries the stage's current fingerprint and its outputs are on disk. Anything else is
run again with the same command: the stage's own resume (the recorder skips recorded seeds, training
continues from its last checkpoint, the benchmark skips finished episodes) turns a partial stage into a
finished one without redoing work. Each subprocess's output is shown live and also kept in
`<out_dir>/logs/<name>.log`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable

from vla.demo.plan import EVAL, RECORD, TRAIN, Stage, checkpoint_of, slug
from vla.io import atomic_write_json


@dataclass
class StageRun:
    """What happened to one stage in this invocation: run (with its wall time) or skipped as finished."""

    stage: Stage
    skipped: bool
    wall_s: float  # this invocation's time; for a skipped stage, the time its finishing run took


def marker_path(out_dir: str | Path, stage: Stage) -> Path:
    return Path(out_dir) / "stages" / f"{slug(stage.name)}.json"


def log_path(out_dir: str | Path, stage: Stage) -> Path:
    return Path(out_dir) / "logs" / f"{slug(stage.name)}.log"


def outputs_complete(stage: Stage) -> bool:
    """True when the files a stage promises are on disk (the dataset's info, a checkpoint, results.json)."""
    if stage.kind == RECORD:
        return (stage.out / "meta" / "info.json").is_file()
    if stage.kind == TRAIN:
        return (checkpoint_of(stage) / "model.safetensors").is_file()
    if stage.kind == EVAL:
        return (stage.out / "results.json").is_file()
    raise ValueError(f"unknown stage kind {stage.kind!r} of stage {stage.name!r}")


def read_marker(out_dir: str | Path, stage: Stage) -> dict[str, Any] | None:
    """The stage's marker if it belongs to the stage's current fingerprint, else None."""
    path = marker_path(out_dir, stage)
    if not path.is_file():
        return None
    marker = json.loads(path.read_text())
    return marker if marker.get("fingerprint") == stage.fingerprint else None


def is_finished(out_dir: str | Path, stage: Stage) -> bool:
    return read_marker(out_dir, stage) is not None and outputs_complete(stage)


def stage_environ(threads: int | None) -> dict[str, str]:
    """The environment of a stage process: headless EGL rendering, offline Hugging Face, and the thread
    count when one is set (torch reads OMP_NUM_THREADS at start-up)."""
    env = dict(os.environ)
    env.setdefault("MUJOCO_GL", "egl")
    if env["MUJOCO_GL"] == "egl":
        env.setdefault("PYOPENGL_PLATFORM", "egl")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def _pump(proc: subprocess.Popen, log: BinaryIO, echo: bool) -> None:
    """Copy the child's output to the log (and the terminal) as it comes, progress-bar redraws included."""
    assert proc.stdout is not None
    out = sys.stdout.buffer
    while True:
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            return
        log.write(chunk)
        if echo:
            out.write(chunk)
            out.flush()


def run_subprocess(argv: list[str], env: dict[str, str], log_file: Path, echo: bool = True) -> int:
    """Run `argv`, teeing its stdout+stderr into `log_file`; returns the exit code.

    An interrupt (Ctrl-C) or error here terminates the child first, so no stage keeps running behind the
    demo's back; what the child already committed stays on disk for the next run to resume.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "wb") as log:
        log.write(("$ " + " ".join(argv) + "\n").encode())
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            _pump(proc, log, echo)
            return proc.wait()
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _tail(path: Path, lines: int = 25) -> str:
    text = path.read_text(errors="replace").replace("\r", "\n")
    return "\n".join([ln for ln in text.splitlines() if ln.strip()][-lines:])


def run_stage(stage: Stage, out_dir: str | Path, python: str, threads: int | None, echo: bool = True) -> float:
    """Run one stage to completion and write its marker; returns its wall time in seconds.

    Raises RuntimeError naming the stage, its command, its log and the log's last lines when the process
    fails or exits 0 without its outputs.
    """
    log = log_path(out_dir, stage)
    argv = stage.argv(python)
    t0 = time.perf_counter()
    code = run_subprocess(argv, stage_environ(threads), log, echo)
    wall = time.perf_counter() - t0
    if code != 0 or not outputs_complete(stage):
        why = f"exited with code {code}" if code != 0 else "exited 0 but its outputs are missing"
        raise RuntimeError(f"demo stage {stage.name!r} {why}.\n  command: {' '.join(argv)}\n  log: {log}\n"
                           f"  last lines:\n{_tail(log)}")
    atomic_write_json(marker_path(out_dir, stage), {
        "name": stage.name, "kind": stage.kind, "policy": stage.policy, "fingerprint": stage.fingerprint,
        "command": stage.command(), "argv": argv, "out": str(stage.out), "units": stage.units,
        "wall_s": round(wall, 2), "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    return wall


def run_plan(stages: list[Stage], out_dir: str | Path, python: str = sys.executable, threads: int | None = None,
             echo: bool = True, say: Callable[[str], None] = print,
             estimates: dict[str, float] | None = None) -> list[StageRun]:
    """Run every unfinished stage in order (see the module docstring); returns what each stage did."""
    runs: list[StageRun] = []
    start = time.perf_counter()
    for i, stage in enumerate(stages, 1):
        head = f"[{i}/{len(stages)}] {stage.name}"
        marker = read_marker(out_dir, stage)
        if marker is not None and outputs_complete(stage):
            say(f"{head}: finished before ({marker['wall_s']:.0f} s then), skipped -> {stage.out}")
            runs.append(StageRun(stage, True, float(marker["wall_s"])))
            continue
        est = (estimates or {}).get(stage.name)
        say(f"{head}: running (est. {fmt_seconds(est) if est else '?'}; {fmt_seconds(time.perf_counter() - start)} "
            f"into this run)\n  $ {stage.command()}")
        wall = run_stage(stage, out_dir, python, threads, echo)
        say(f"{head}: done in {fmt_seconds(wall)}")
        runs.append(StageRun(stage, False, wall))
    return runs


def fmt_seconds(seconds: float) -> str:
    """'42 s', '3 min 05 s': durations as people read them."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s"
