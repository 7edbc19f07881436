"""The demo from start to end: plan, estimate, run the unfinished stages, write the report.

`run_demo(cfg, overrides)` is what `vla-demo` calls; tests call it too.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from vla.demo.config import DemoConfig
from vla.demo.estimate import estimate
from vla.demo.plan import EVAL, RECORD, TRAIN, Stage, build_plan
from vla.demo.report import demo_command, write_report
from vla.demo.runner import fmt_seconds, is_finished, run_plan


def describe_estimate(stages: Sequence[Stage], todo: Sequence[Stage], estimates: dict[str, float],
                      budget_s: float) -> str:
    """The start-up line: how many stages are left and how long they should take, by kind, against the budget."""
    by_kind = {kind: sum(estimates[s.name] for s in todo if s.kind == kind) for kind in (RECORD, TRAIN, EVAL)}
    total = sum(by_kind.values())
    done = len(stages) - len(todo)
    text = (f"{len(stages)} stages, {done} finished before; estimated time for the rest: {fmt_seconds(total)} "
            f"(record {fmt_seconds(by_kind[RECORD])}, train {fmt_seconds(by_kind[TRAIN])}, "
            f"evaluate {fmt_seconds(by_kind[EVAL])}); budget {fmt_seconds(budget_s)}")
    if total > budget_s:
        text += "\n  warning: the estimate is over the budget (fewer train.steps or episodes would fit)"
    return text


def run_demo(cfg: DemoConfig, overrides: Sequence[str] = (), python: str = sys.executable,
             say: Callable[[str], None] = print) -> Path | None:
    """Run the demo described by `cfg`; returns the report directory (None for a dry run).

    `overrides` are the command-line overrides the demo was started with (they make the report's
    reproduce command). Raises RuntimeError naming the stage, its command and its log when a stage fails.
    """
    stages = build_plan(cfg)
    todo = [s for s in stages if not is_finished(cfg.out_dir, s)]
    estimates = estimate(todo, cfg.out_dir)
    say(f"vla-demo -> {Path(cfg.out_dir).resolve()}\n  " + describe_estimate(stages, todo, estimates, cfg.budget_s))
    if cfg.dry_run:
        for stage in stages:
            state = "to run" if stage in todo else "finished"
            say(f"  [{state}] {stage.name}\n    $ {stage.command()}")
        return None
    t0 = time.perf_counter()
    runs = run_plan(stages, cfg.out_dir, python=python, threads=cfg.threads, echo=cfg.progress, say=say,
                    estimates=estimates)
    say("report: reading results and training logs, drawing figures ...")
    report = write_report(cfg, runs, demo_command(overrides), estimates)
    say((report / "success.md").read_text().rstrip())
    say(f"vla-demo finished in {fmt_seconds(time.perf_counter() - t0)} this run; report: {report / 'README.md'}")
    return report
