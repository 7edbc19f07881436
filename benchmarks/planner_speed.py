"""SayCan planning-step latency with SmolLM2-135M on CPU: KV-cache reuse vs none, in the same run.

    python -m benchmarks.planner_speed                  # 6 blocks + 6 bowls (19 skills), 5 warm steps, 2 without reuse
    python -m benchmarks.planner_speed --steps 3 --batched-steps 1 --full-steps 0 --threads 2

One planning step scores every skill of the scene (`Planner.plan_step`): with reuse, the few-shot prompt's
KV cache is kept across steps, so a step runs only the new history line and the candidates' tokens, packed
into one batch-1 sequence (the default) or as a batch over the expanded prompt cache (`--batched-steps`, the
path before packing); without reuse, every candidate runs the whole prompt. The first (cold) step with
reuse runs the whole few-shot prompt once and is reported apart. Each step's live block carries a real Inner
Monologue outcome (the last verdict, scene and goal feedback) as an episode does. Prints a table and writes
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


def _time_steps(planner, scene, start: str, history: list, steps: int, first: int = 0) -> list[float]:
    """Seconds per planning step for steps first..first+steps-1 (each with one more history line)."""
    from policies.saycan.affordances import GeometricAffordance
    from policies.saycan.skills import enumerate_skills

    skills = enumerate_skills(scene)
    aff = GeometricAffordance()(skills, scene)
    times = []
    for k in range(first, first + steps):
        t0 = time.perf_counter()
        planner.plan_step("put all the blocks in the green bowl", history[:k], skills, aff, scene=start)
        times.append(time.perf_counter() - t0)
    return times


def _median(times: list[float]) -> float | None:
    """Median of `times`, None when the mode was skipped (0 steps)."""
    return statistics.median(times) if times else None


def _packed_vs_batched(planner, skills: list, start: str, history: list) -> float:
    """Max |log p| difference between the packed and the batched cached paths on the last step's prompt.

    The two must agree up to float rounding; a large value would mean the packed mask or positions are wrong.
    """
    import numpy as np

    from policies.saycan.prompt import candidate_text

    prompt = planner.prompt("put all the blocks in the green bowl", history, start)
    texts = [candidate_text(s.text) for s in skills]
    scorer = planner.scorer
    packed = scorer.score(prompt, texts).logprob_sum
    scorer.packed = False
    try:
        batched = scorer.score(prompt, texts).logprob_sum
    finally:
        scorer.packed = True
    return float(np.abs(packed - batched).max())


def _print(result: dict, load_s: float) -> None:
    """The table: median seconds per planning step for each mode."""
    print(f"SmolLM2-135M, {result['skills']} skills, {result['threads']} thread(s), "
          f"load avg {result['load_average_1min']:.1f}, prompt {result['prompt_tokens_last_step']} tokens at the "
          f"last step, LM load {load_s:.1f} s")
    print(f"{'mode':<40}{'median s/step':>14}")
    rows = (("KV reuse, packed, warm", "warm_step_s_median"), ("KV reuse, first step (cold)", "cold_step_s"),
            ("KV reuse, batched (before), warm", "batched_step_s_median"), ("no reuse", "no_reuse_step_s_median"))
    for name, key in rows:
        value = result[key]
        print(f"{name:<40}{'skipped' if value is None else f'{value:.3f}':>14}")
    print(f"packed vs batched: max |log p diff| {result['packed_vs_batched_max_abs_logprob_diff']:.2e}")
    for key, label in (("speedup_vs_batched", "packing"), ("speedup", "reuse")):
        if result[key] is not None:
            print(f"speedup from {label}: {result[key]:.1f}x")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="planning steps timed per mode")
    parser.add_argument("--batched-steps", type=int, default=2,
                        help="warm steps timed with reuse but batched over the expanded cache (slow; 0 skips)")
    parser.add_argument("--full-steps", type=int, default=2, help="planning steps timed without reuse (slow; 0 skips)")
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
    agreement = _packed_vs_batched(planner, enumerate_skills(scene), start, history)
    planner.scorer.packed = False
    batched = _time_steps(planner, scene, start, history, args.batched_steps, first=1)
    planner.scorer.packed = True
    planner.scorer.reuse_cache = False
    full = _time_steps(planner, scene, start, history, args.full_steps)
    result = {
        "threads": args.threads, "load_average_1min": os.getloadavg()[0], "skills": n_skills,
        "prompt_tokens_last_step": prompt_tokens, "lm_load_s": load_s,
        "cold_step_s": warm[0], "warm_step_s_median": statistics.median(warm[1:]), "warm_steps_s": warm[1:],
        "batched_step_s_median": _median(batched), "batched_steps_s": batched,
        "no_reuse_step_s_median": _median(full), "no_reuse_steps_s": full,
        "packed_vs_batched_max_abs_logprob_diff": agreement,
    }
    for key, slow in (("speedup_vs_batched", "batched_step_s_median"), ("speedup", "no_reuse_step_s_median")):
        result[key] = None if result[slow] is None else result[slow] / result["warm_step_s_median"]
    result["summary"] = [
        {"metric": "planning step, KV reuse, packed (warm)", "value": result["warm_step_s_median"], "unit": "s",
         "target": f"<= {TARGET_S}", "ok": result["warm_step_s_median"] <= TARGET_S},
        {"metric": "planning step, KV reuse, batched (before packing)", "value": result["batched_step_s_median"],
         "unit": "s", "target": "", "ok": None},
        {"metric": "planning step, no reuse", "value": result["no_reuse_step_s_median"], "unit": "s",
         "target": "", "ok": None},
        {"metric": "first step (whole few-shot prompt)", "value": result["cold_step_s"], "unit": "s",
         "target": "", "ok": None},
    ]
    _print(result, load_s)
    atomic_write_json(RESULT, result)
    return result


if __name__ == "__main__":
    main()
