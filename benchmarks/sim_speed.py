"""Simulator speed on one CPU core: the tabletop against Meta-World, rendered and physics-only.

    python -m benchmarks.sim_speed                # 400 control steps per measurement, pinned to one core
    python -m benchmarks.sim_speed --steps 1000 --cpu 0

Measures (torch is never imported):
- tabletop control steps/s with one 128x128 camera rendered every step (IK + physics + render + task checks);
- Meta-World (metaworld 3.1.1, pick-place-v3) steps/s measured the same way: `env.step` plus one 128x128
  render per step with our own `mujoco.Renderer`, shadows/reflections/skybox and MSAA off;
- tabletop physics speed without rendering as a real-time factor (simulated seconds per second), for
  full env steps and for raw `mj_step`.
Each rate is reported by process CPU time (what one idle core gives: the process is pinned to one core and
Mesa's llvmpipe rasterizes on one thread) and by wall clock (which on a busy shared machine also counts time
the core spent on other processes); the load average goes into the JSON.
Prints a table and writes benchmarks/results/sim_speed.json (a `summary` list of rows with targets).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
SIZE = 128
TARGET_RENDERED = 200.0  # tabletop control steps/s, one 128x128 camera
TARGET_VS_METAWORLD = 2.0
TARGET_RTF = 40.0


def _pin(cpu: int | None) -> int | None:
    """Pin this process (and the GL threads it starts) to one core; returns the core, None if unsupported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    core = allowed[-1] if cpu is None else cpu
    if core not in allowed:
        raise SystemExit(f"--cpu {core} is not one of this process's cores {allowed}")
    os.sched_setaffinity(0, {core})
    return core


class _Clock:
    """Wall-clock and process CPU time of a block. On a shared machine the CPU time (all threads of this
    process, pinned to one core) is what one otherwise idle core would take; wall time includes waiting
    for other processes on that core."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def _rates(n: int, clock: _Clock, dt: float) -> dict:
    """Steps/s and real-time factor (simulated s per s) by wall clock and by CPU time."""
    return {"steps_per_s_wall": n / clock.wall, "steps_per_s_cpu": n / clock.cpu, "control_dt_s": dt,
            "real_time_factor_wall": n * dt / clock.wall, "real_time_factor_cpu": n * dt / clock.cpu}


def _actions(rng: np.random.Generator, n: int, high: np.ndarray) -> np.ndarray:
    """Smooth random actions (a random walk at 30% of the limits), so the arm wanders the workspace."""
    steps = rng.normal(0.0, 0.3, (n, high.shape[0])).cumsum(0)  # (n, A)
    return (np.tanh(steps) * 0.3 * high).astype(np.float32)


def tabletop_rate(steps: int, cameras: tuple[str, ...], seed: int = 0) -> dict:
    """Control steps/s and real-time factor of full TabletopEnv steps with `cameras` rendered at 128 px."""
    from sim.tabletop.env import TabletopEnv

    env = TabletopEnv("pick", seed=seed, cameras=cameras, image_size=SIZE, terminate_on_success=False,
                      max_episode_steps=10 ** 9)
    try:
        env.reset()
        acts = _actions(np.random.default_rng(seed), steps + 20, env.action_space.high)
        for a in acts[:20]:  # warm-up: GL context, caches
            env.step(a)
        with _Clock() as clock:
            for a in acts[20:]:
                env.step(a)
        control_dt = env.physics.n_substeps * env.physics.model.opt.timestep
    finally:
        env.close()
    return _rates(steps, clock, control_dt)


def raw_physics_rtf(n: int = 5000) -> dict:
    """Real-time factor of bare `mj_step` on the tabletop scene (arm holding still above the blocks)."""
    import mujoco

    from sim.tabletop.env import TabletopEnv

    env = TabletopEnv("pick", seed=0, cameras=())
    try:
        env.reset()
        m, d = env.physics.model, env.physics.data
        with _Clock() as clock:
            for _ in range(n):
                mujoco.mj_step(m, d)
    finally:
        env.close()
    return _rates(n, clock, m.opt.timestep)


def metaworld_rate(steps: int, seed: int = 0, env_name: str = "pick-place-v3") -> dict:
    """Meta-World steps/s with one 128x128 camera rendered per step by our own fast Renderer."""
    import gymnasium as gym
    import metaworld  # noqa: F401  (registers the Meta-World gymnasium ids)
    import mujoco

    env = gym.make("Meta-World/MT1", env_name=env_name, seed=seed, disable_env_checker=True)
    base = env.unwrapped
    base.model.vis.quality.offsamples = 0
    renderer = mujoco.Renderer(base.model, SIZE, SIZE)
    for flag in ("mjRND_SHADOW", "mjRND_REFLECTION", "mjRND_SKYBOX"):
        renderer.scene.flags[getattr(mujoco.mjtRndFlag, flag)] = 0
    try:
        env.reset(seed=seed)
        acts = _actions(np.random.default_rng(seed), steps + 20, np.ones(4))
        def step(action):
            if any(env.step(action)[2:4]):  # Meta-World truncates at 500 steps: start a new episode
                env.reset()
            renderer.update_scene(base.data, camera="corner2")
            renderer.render()

        for a in acts[:20]:
            step(a)
        with _Clock() as clock:
            for a in acts[20:]:
                step(a)
        dt = float(base.dt)
    finally:
        renderer.close()
        env.close()
    return _rates(steps, clock, dt)


def _row(metric: str, value: float, unit: str, target: float | None) -> dict:
    ok = "" if target is None else bool(value >= target)
    return {"metric": metric, "value": round(float(value), 2), "unit": unit,
            "target": "" if target is None else f">= {target:g}", "ok": ok}


def main(argv: list[str] | None = None) -> dict:
    """Run the measurements, print the table, write benchmarks/results/sim_speed.json; returns the result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=400, help="control steps per measurement")
    parser.add_argument("--cpu", type=int, default=None, help="core to pin to (default: the last allowed one)")
    args = parser.parse_args(argv)
    if args.steps < 10:
        raise SystemExit(f"--steps must be >= 10, got {args.steps}")
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("LP_NUM_THREADS", "1")  # Mesa llvmpipe: rasterize on this one core
    core = _pin(args.cpu)

    ours = tabletop_rate(args.steps, ("front",))
    physics = tabletop_rate(args.steps, ())
    raw = raw_physics_rtf()
    mw = metaworld_rate(args.steps)
    summary = []
    for clock in ("cpu", "wall"):
        rate, rtf = f"steps_per_s_{clock}", f"real_time_factor_{clock}"
        summary += [
            _row(f"tabletop steps/s, 1 camera 128x128 ({clock})", ours[rate], "steps/s", TARGET_RENDERED),
            _row(f"metaworld steps/s, 1 camera 128x128 ({clock})", mw[rate], "steps/s", None),
            _row(f"tabletop / metaworld steps/s ({clock})", ours[rate] / mw[rate], "x", TARGET_VS_METAWORLD),
            _row(f"tabletop / metaworld simulated s per s ({clock})", ours[rtf] / mw[rtf], "x", None),
            _row(f"tabletop real-time factor, env steps, no render ({clock})", physics[rtf], "x", TARGET_RTF),
            _row(f"tabletop real-time factor, raw mj_step ({clock})", raw[rtf], "x", None),
        ]
    result = {"summary": summary, "tabletop_rendered": ours, "tabletop_no_render": physics,
              "tabletop_raw_mj_step": raw, "metaworld_rendered": mw, "pinned_core": core,
              "load_average_1min": os.getloadavg()[0], "steps": args.steps, "image_size": SIZE,
              "note": "cpu: process CPU time on the pinned core (what an idle core gives); wall: elapsed time, "
                      "which on a shared machine includes time the core spent on other processes"}
    width = max(len(r["metric"]) for r in summary)
    print(f"{'metric':<{width}}  {'value':>9}  unit     target  ok")
    for r in summary:
        print(f"{r['metric']:<{width}}  {r['value']:>9.2f}  {r['unit']:<7}  {r['target']:<6}  {r['ok']}")
    from vla.io import atomic_write_json

    atomic_write_json(RESULTS / "sim_speed.json", result)
    return result


if __name__ == "__main__":
    main()
