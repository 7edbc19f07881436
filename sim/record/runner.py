"""Record expert demonstrations: plan (task, seed) jobs, skip the ones done, roll out the rest in worker
processes, and append finished episodes to the dataset in plan order (deterministic whatever the workers'
timing). `run(cfg)` is what `vla-record` calls; tests call it directly.

Resuming: each kept episode carries "record/task_id" and "record/seed" columns in meta/episodes, and every
attempt (kept or not) is logged to `<out>/.record/attempts.jsonl` after its commit, so a rerun skips
episodes in the dataset and seeds whose expert failed (unless keep_failed changes the answer).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Iterator

from sim.record.config import RecordConfig
from sim.record.worker import Job, Result, close_envs, init_worker, record_job
from sim.registry import resolve_tasks
from vla.data import DatasetReader, DatasetWriter
from vla.data.meta import DatasetMeta
from vla.data.tools import copy_episodes


def plan(cfg: RecordConfig) -> list[Job]:
    """Every (task, seed) job in deterministic order: tasks as resolved, seeds ascending."""
    tasks = resolve_tasks(list(cfg.tasks))
    return [Job(i * cfg.episodes_per_task + k, task, cfg.seed + k)
            for i, task in enumerate(tasks) for k in range(cfg.episodes_per_task)]


def _attempts_path(out: Path) -> Path:
    return out / ".record" / "attempts.jsonl"


def done_jobs(out: Path, keep_failed: bool) -> set[tuple[str, int]]:
    """(task_id, seed) pairs that need no new attempt: kept in the dataset, or failed when failures are dropped."""
    done: set[tuple[str, int]] = set()
    if (out / "meta/info.json").exists():
        for row in DatasetMeta.load(out).episodes:
            if row.get("record/task_id") is not None:
                done.add((row["record/task_id"], int(row["record/seed"])))
    log = _attempts_path(out)
    if log.exists() and not keep_failed:
        for line in log.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a kill
                continue
            if not rec["kept"]:
                done.add((rec["task_id"], int(rec["seed"])))
    return done


def _log_attempt(out: Path, result: Result) -> None:
    log = _attempts_path(out)
    log.parent.mkdir(parents=True, exist_ok=True)
    rec = {"task_id": result.job.task_id, "seed": result.job.seed, "success": result.success,
           "steps": result.steps, "kept": result.staged is not None}
    with open(log, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _results(jobs: list[Job], cfg: RecordConfig, staging: Path) -> Iterator[Result]:
    """Results as workers finish them (any order)."""
    if cfg.workers == 1:
        try:
            for job in jobs:
                yield record_job(job, cfg, str(staging))
        finally:
            close_envs()
        return
    gl = os.environ.get("MUJOCO_GL", "egl")
    environ = {"MUJOCO_GL": gl, "OMP_NUM_THREADS": "1", **({"PYOPENGL_PLATFORM": "egl"} if gl == "egl" else {})}
    ctx = multiprocessing.get_context(cfg.start_method)
    with ProcessPoolExecutor(max_workers=min(cfg.workers, len(jobs)), mp_context=ctx, initializer=init_worker,
                             initargs=(environ,)) as pool:
        futures = [pool.submit(record_job, job, cfg, str(staging)) for job in jobs]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


class _Appender:
    """Appends staged episodes to the dataset strictly in plan order, holding early finishers back."""

    def __init__(self, out: Path, cfg: RecordConfig, order: list[int]):
        self.out, self.cfg, self.order = out, cfg, order
        self.waiting: dict[int, Result] = {}
        self.next = 0
        self.writer: DatasetWriter | None = None
        self.kept = self.failed = 0

    def add(self, result: Result) -> None:
        self.waiting[result.job.order] = result
        while self.next < len(self.order) and self.order[self.next] in self.waiting:
            self._append(self.waiting.pop(self.order[self.next]))
            self.next += 1

    def _append(self, result: Result) -> None:
        if result.staged is not None:
            src = DatasetReader(result.staged)
            if self.writer is None:
                feats = {k: {"dtype": ft["dtype"], "shape": ft["shape"], "names": ft.get("names")}
                         for k, ft in src.meta.features.items()
                         if k not in ("timestamp", "frame_index", "episode_index", "index", "task_index")}
                self.writer = DatasetWriter.create_or_open(self.out, src.meta.fps, feats, codec=self.cfg.codec,
                                                           robot_type=result.job.task_id.split("/")[0])
            copy_episodes(src, [0], self.writer)
            src.close()
            shutil.rmtree(result.staged, ignore_errors=True)
            self.kept += 1
        else:
            self.failed += 1
        _log_attempt(self.out, result)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def run(cfg: RecordConfig, echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Record the demonstrations `cfg` asks for; returns counts (also printed through `echo`)."""
    out = Path(cfg.out)
    jobs = plan(cfg)
    done = done_jobs(out, cfg.keep_failed)
    todo = [j for j in jobs if (j.task_id, j.seed) not in done]
    staging = out / ".record" / "staging"
    shutil.rmtree(staging, ignore_errors=True)  # episodes of a killed run are recorded again
    staging.mkdir(parents=True, exist_ok=True)
    appender = _Appender(out, cfg, [j.order for j in todo])
    bar = None
    if cfg.progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="vla-record", unit="ep")
    try:
        for result in _results(todo, cfg, staging):
            appender.add(result)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(kept=appender.kept, failed=appender.failed)
    finally:
        appender.close()
        if bar is not None:
            bar.close()
    total = len(DatasetMeta.load(out).episodes) if (out / "meta/info.json").exists() else 0
    summary = {"planned": len(jobs), "skipped": len(jobs) - len(todo), "kept": appender.kept,
               "not_kept": appender.failed, "episodes_in_dataset": total, "out": str(out)}
    if echo is not None:
        echo(json.dumps(summary))
    return summary
