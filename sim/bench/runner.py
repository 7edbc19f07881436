"""Run a policy on a task list: plan episodes, skip the finished ones, fan the rest out over worker
processes, then write the report. `run(cfg)` is what `vla-bench` calls; tests call it directly.

Scale-out stops at worker processes on one machine; a Ray backend is not included (DESIGN.md allows
one when a cluster is given; nothing here depends on how jobs are executed beyond `run_job`).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from typing import Any, Callable

from policies.registry import ALL_POLICIES
from sim.bench.config import BenchConfig
from sim.bench.report import format_table, write_results
from sim.bench.store import Job, RunDir, plan_jobs
from sim.bench.worker import close_kit, init_worker, run_job
from sim.registry import resolve_tasks


def _worker_environ() -> dict[str, str]:
    """Env vars a worker needs before mujoco/torch load: the render backend, one thread per worker
    (N workers x M threads on N cores only thrash)."""
    gl = os.environ.get("MUJOCO_GL", "egl")
    env = {"MUJOCO_GL": gl, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if gl == "egl":
        env["PYOPENGL_PLATFORM"] = "egl"
    return env


def _run_inline(jobs: list[Job], cfg: BenchConfig, root: str, done: Callable[[int], None]) -> None:
    try:
        for job in jobs:
            done(len(run_job(job, cfg, root)))
    finally:
        close_kit()


def _run_pool(jobs: list[Job], cfg: BenchConfig, root: str, done: Callable[[int], None]) -> None:
    ctx = multiprocessing.get_context(cfg.start_method)
    pool = ProcessPoolExecutor(max_workers=min(cfg.workers, len(jobs)), mp_context=ctx,
                               initializer=init_worker, initargs=(_worker_environ(),))
    try:
        futures = [pool.submit(run_job, job, cfg, root) for job in jobs]
        for future in as_completed(futures):
            done(len(future.result()))  # a worker's exception (bad camera name, ...) surfaces here
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # finished episodes are on disk already
        raise
    pool.shutdown(wait=True)


def run(cfg: BenchConfig, echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Run the benchmark described by `cfg`; returns the results dict also written to results.json.

    Unknown policy/suite/task names raise KeyError listing the valid ones before anything runs.
    """
    if cfg.policy not in ALL_POLICIES:
        raise KeyError(f"unknown policy {cfg.policy!r}; valid policies: {sorted(ALL_POLICIES)}")
    task_ids = list(dict.fromkeys(resolve_tasks(cfg.tasks)))  # dedupe, keep order
    run_dir = RunDir(cfg.resolved_out_dir())
    run_dir.claim(cfg.episode_settings(), cfg.fingerprint())
    run_dir.remove_stale_temps()
    jobs = plan_jobs(task_ids, cfg.episodes, cfg.seed, cfg.batch_envs)
    todo = [j for j in jobs if any(run_dir.load_record(j.task_id, i) is None for i in j.indices)]
    total = len(task_ids) * cfg.episodes
    resumed = total - sum(1 for j in todo for i in j.indices if run_dir.load_record(j.task_id, i) is None)
    if echo:
        echo(f"vla-bench: {cfg.policy} on {len(task_ids)} task(s) x {cfg.episodes} episodes -> {run_dir.root} "
             f"({resumed} finished before, {total - resumed} to run)")
    from tqdm import tqdm

    t0 = time.perf_counter()
    with tqdm(total=total, initial=resumed, disable=not cfg.progress, unit="ep", desc="episodes") as bar:
        backend = _run_inline if cfg.workers == 0 or len(todo) <= 1 else _run_pool
        if todo:
            backend(todo, cfg, str(run_dir.root), bar.update)
    wall = time.perf_counter() - t0
    records = {t: [run_dir.load_record(t, i) for i in range(cfg.episodes)] for t in task_ids}
    missing = [(t, i) for t, recs in records.items() for i, r in enumerate(recs) if r is None]
    if missing:
        raise RuntimeError(f"episodes missing after the run (a worker died?): {missing[:8]}")
    header = {"config": asdict(cfg), "fingerprint": cfg.fingerprint(), "out_dir": str(run_dir.root),
              "tasks_resolved": task_ids, "wall_s": round(wall, 2), "episodes_run": total - resumed,
              "episodes_resumed": resumed}
    results = write_results(run_dir, header, records)
    if echo:
        echo(format_table(results))
        echo(f"results: {run_dir.root / 'results.md'}")
    return results
