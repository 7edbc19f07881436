"""Simulation throughput behind `vla-bench`: Meta-World env steps/s and runner episodes/s.

    python -m benchmarks.bench_speed                 # default sizes, ~1 min on 2 cores
    python -m benchmarks.bench_speed --steps 200     # fewer steps per env measurement

1. One Meta-World env (push-v3, random actions): physics alone (the raw Meta-World step, no images) and
   our full step (physics + upright images) at several image sizes and camera sets. Target: the full step
   at 128 px, one camera, runs at least in real time (Meta-World controls at 80 Hz).
2. The runner end to end (`sim.bench.runner.run`, noop policy, 4 MT10 tasks x 2 episodes x 100 steps,
   64 px, no videos): episodes/s in-process and with 2 spawned worker processes (start-up included).
Prints a table and writes `benchmarks/results/bench_speed.json`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from vla.io import atomic_write_json

RESULT = Path(__file__).resolve().parent / "results" / "bench_speed.json"
CONTROL_HZ = 80  # Meta-World: 2.5 ms timestep x frame_skip 5


def env_rate(steps: int, image_size: int, cameras: tuple[str, ...], physics_only: bool) -> float:
    """Steps per second of one env under random actions (episodes restart when they end)."""
    from sim.registry import make_env

    env = make_env("metaworld/push-v3", image_size=image_size, cameras=cameras, terminate_on_success=False)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (steps, 4)).astype(np.float32)  # (steps, 4)
    env.reset(seed=0)
    step = env.unwrapped._env.step if physics_only else env.step
    try:
        start = time.perf_counter()
        for i, action in enumerate(actions):
            if (i + 1) % 500 == 0:
                env.reset(seed=i)
            step(action)
        return steps / (time.perf_counter() - start)
    finally:
        env.close()


def runner_rate(workers: int) -> float:
    """Episodes per second of a whole `vla-bench` run, start-up and report included."""
    from sim.bench.config import BenchConfig
    from sim.bench.runner import run

    tasks = ["metaworld/reach-v3", "metaworld/push-v3", "metaworld/drawer-open-v3", "metaworld/window-open-v3"]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = BenchConfig(policy="noop", tasks=tasks, episodes=2, image_size=64, max_episode_steps=100,
                          workers=workers, videos_per_task=0, progress=False, out_dir=tmp)
        start = time.perf_counter()
        results = run(cfg, echo=None)
        return results["overall"]["episodes"] / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args(argv)
    os.environ.setdefault("MUJOCO_GL", "egl")
    cases = [("physics only", 128, ("corner2",), True), ("64 px, corner2", 64, ("corner2",), False),
             ("128 px, corner2", 128, ("corner2",), False), ("224 px, corner2", 224, ("corner2",), False),
             ("128 px, corner2 + gripperPOV", 128, ("corner2", "gripperPOV"), False)]
    rows = [{"case": name, "steps_per_s": round(env_rate(args.steps, size, cams, phys), 1)}
            for name, size, cams, phys in cases]
    runner = [{"workers": w, "episodes_per_s": round(runner_rate(w), 3)} for w in (0, 2)]
    print("| Meta-World push-v3 | steps/s | x real time (80 Hz) |\n|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['steps_per_s']:.0f} | {r['steps_per_s'] / CONTROL_HZ:.1f} |")
    print("\n| vla-bench run (noop, 8 episodes x 100 steps, 64 px) | episodes/s |\n|---|---|")
    for r in runner:
        print(f"| workers={r['workers']} | {r['episodes_per_s']:.2f} |")
    full128 = rows[2]["steps_per_s"]
    summary = [
        {"metric": "Meta-World step + 128 px image", "value": full128, "unit": "steps/s",
         "target": f">= {CONTROL_HZ} (real time)", "ok": full128 >= CONTROL_HZ},
        {"metric": "vla-bench episodes/s, 2 workers", "value": runner[1]["episodes_per_s"], "unit": "episodes/s",
         "target": "", "ok": ""},
    ]
    result = {"steps": args.steps, "mujoco_gl": os.environ.get("MUJOCO_GL"), "env": rows, "runner": runner,
              "summary": summary}
    atomic_write_json(RESULT, result)
    return result


if __name__ == "__main__":
    main()
