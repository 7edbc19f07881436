"""SayCan planning-step latency with SmolLM2-135M on CPU: KV-cache reuse vs none, in the same run.

    python -m benchmarks.planner_speed                  # 6 blocks + 6 bowls (19 skills), 5 warm steps, 2 without reuse
    python -m benchmarks.planner_speed --steps 3 --full-steps 1 --threads 2

One planning step scores every skill of the scene (`Planner.plan_step`): with reuse, the few-shot prompt's
KV cache is kept across steps and expanded over the candidates, so a step runs only the new history line and
the candidates' tokens; without reuse, every candidate runs the whole prompt. The first (cold) step with
reuse runs the whole few-shot prompt once and is reported apart. Each step appends a real Inner Monologue
line (skill, success, scene and goal feedback) as an episode does. Prints a table and writes
`benchmarks/results/planner_speed.json`. Target: a warm step <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from vla.io import atomic_write_json

RESULT = Path(__file__).resolve().parent / "results" / "planner_speed.json"
COLORS = ("red", "green", "blue", "yellow", "purple", "orange")
TARGET_S = 1.0


def _episode(steps: int):
    """The scene, command and a plausible history of `steps` Inner Monologue lines (put-all in a bowl)."""
    from policies.saycan.goals import all_in_bowl
    from policies.saycan.prompt import StepOutcome, feedback_text
    from policies.saycan.scene import SceneState
    from policies.saycan.skills import Skill, apply_skill

    scene = SceneState(tuple(f"{c} block" for c in COLORS), tuple(f"{c} bowl" for c in COLORS))
    goal = all_in_bowl("green bowl")
    start = feedback_text(scene, goal(scene))
    history, s = [], scene
    for i in range(steps):
        block = scene.blocks[(i // 2) % len(scene.blocks)]
        skill = Skill("pick", obj=block) if i % 2 == 0 else Skill("place_in", target="green bowl")
        s = apply_skill(skill, s)
        history.append(StepOutcome(skill.text, True, feedback_text(s, goal(s))))
    return scene, start, history


def _time_steps(planner, scene, start: str, history: list, steps: int) -> list[float]:
    """Seconds per planning step for steps 0..steps-1 (each with one more history line)."""
    from policies.saycan.affordances import GeometricAffordance
    from policies.saycan.skills import enumerate_skills

    skills = enumerate_skills(scene)
    aff = GeometricAffordance()(skills, scene)
    times = []
    for k in range(steps):
        t0 = time.perf_counter()
        planner.plan_step("put all the blocks in the green bowl", history[:k], skills, aff, scene=start)
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="planning steps timed per mode")
    parser.add_argument("--full-steps", type=int, default=2, help="planning steps timed without reuse (slow)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    import torch

    from policies.saycan.planner import Planner
    from policies.saycan.skills import enumerate_skills

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    planner = Planner.from_pretrained()
    load_s = time.perf_counter() - t0
    scene, start, history = _episode(args.steps)
    n_skills = len(enumerate_skills(scene))
    warm = _time_steps(planner, scene, start, history, args.steps + 1)  # step 0 is the cold one
    prompt_tokens = len(planner.scorer.encode(planner.prompt("put all the blocks in the green bowl", history, start)))
    planner.scorer.reuse_cache = False
    full = _time_steps(planner, scene, start, history, args.full_steps)
    result = {
        "threads": args.threads, "load_average_1min": os.getloadavg()[0], "skills": n_skills,
        "prompt_tokens_last_step": prompt_tokens, "lm_load_s": load_s,
        "cold_step_s": warm[0], "warm_step_s_median": statistics.median(warm[1:]), "warm_steps_s": warm[1:],
        "no_reuse_step_s_median": statistics.median(full), "no_reuse_steps_s": full,
    }
    result["speedup"] = result["no_reuse_step_s_median"] / result["warm_step_s_median"]
    result["summary"] = [
        {"metric": "planning step, KV reuse (warm)", "value": result["warm_step_s_median"], "unit": "s",
         "target": f"<= {TARGET_S}", "ok": result["warm_step_s_median"] <= TARGET_S},
        {"metric": "planning step, no reuse", "value": result["no_reuse_step_s_median"], "unit": "s",
         "target": "", "ok": None},
        {"metric": "first step (whole few-shot prompt)", "value": result["cold_step_s"], "unit": "s",
         "target": "", "ok": None},
    ]
    print(f"SmolLM2-135M, {n_skills} skills, {args.threads} thread(s), load avg {result['load_average_1min']:.1f}, "
          f"prompt {prompt_tokens} tokens at the last step, LM load {load_s:.1f} s")
    print(f"{'mode':<34}{'median s/step':>14}")
    print(f"{'KV reuse, warm':<34}{result['warm_step_s_median']:>14.3f}")
    print(f"{'KV reuse, first step (cold)':<34}{result['cold_step_s']:>14.3f}")
    print(f"{'no reuse':<34}{result['no_reuse_step_s_median']:>14.3f}")
    print(f"speedup from reuse: {result['speedup']:.1f}x")
    atomic_write_json(RESULT, result)
    return result


if __name__ == "__main__":
    main()
