"""Run one command in a tabletop env with a SayCanPolicy: the loop `vla-run`, the tests and the
long-horizon evaluation share. Frames are collected by a callback, not inside the loop's logic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from policies.saycan.policy import SayCanPolicy


@dataclass
class EpisodeResult:
    """What one episode left: the command, the planner's trace and metrics, and the env steps used."""

    command: str
    trace: list[dict[str, Any]]
    metrics: dict[str, Any]
    env_steps: int
    frames: list[np.ndarray] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "metrics": self.metrics, "env_steps": self.env_steps, "trace": self.trace}


def run_command(env: Any, policy: SayCanPolicy, obs: dict, command: str, max_env_steps: int,
                on_frame: Callable[[dict], None] | None = None) -> EpisodeResult:
    """Plan and execute `command` from `obs` (the env just reset) until the planner stops, the env
    terminates, or `max_env_steps`; returns the trace and the policy's episode metrics."""
    if max_env_steps < 1:
        raise ValueError(f"max_env_steps must be >= 1, got {max_env_steps}")
    policy.reset(command)
    if on_frame is not None:
        on_frame(obs)
    steps = 0
    while steps < max_env_steps:
        action = policy.predict_action_chunk(obs)[0]  # (A,)
        if policy.finished:
            break
        obs, _, terminated, truncated, info = env.step(action)
        steps += 1
        if on_frame is not None:
            on_frame(obs)
        if terminated or truncated:
            break
    return EpisodeResult(command, policy.trace, policy.episode_metrics(), steps)


def trace_table(trace: list[dict[str, Any]], top: int = 4) -> str:
    """The trace as text: per step the chosen skill, the LM's own choice, the outcome, and the top rows."""
    lines = []
    for row in trace:
        outcome = {True: "success", False: "FAILED", None: "-"}[row["outcome"]]
        note = "" if row["lm_choice"] == row["chosen"] else f"   (LM alone: {row['lm_choice']})"
        lines.append(f"step {row['step']}: {row['chosen']} -> {outcome}{note}")
        ranked = sorted(row["scores"], key=lambda r: -r["combined"])[:top]
        for r in ranked:
            lines.append(f"    {r['skill']:<32} lm={r['lm']:.3f} aff={r['affordance']:.2f} comb={r['combined']:.3f}")
    return "\n".join(lines)
