"""The planner's typed config: what `make(env, task_id, **kw)` and `vla-run`'s `planner:` group accept."""

from __future__ import annotations

from dataclasses import dataclass

from policies.saycan.affordances import AFFORDANCES
from policies.saycan.lm_scoring import NORMALIZATIONS
from policies.saycan.policy import LoopConfig

EXECUTORS = ("scripted", "vla")


@dataclass
class SayCanConfig:
    """LM, affordance, executor and loop budgets of the SayCan planner; validated on construction."""

    lm_path: str | None = None  # a local HF model folder; None: the offline SmolLM2-135M-Instruct GGUF
    gguf_file: str | None = None  # GGUF file inside lm_path, when the folder holds one
    normalize: str = "sum"  # LM score: "sum" (log p(text), SayCan's) or "mean" token log-prob
    affordance: str = "geometric"  # geometric | none (the LM-only ablation) | learned
    affordance_checkpoint: str | None = None  # value model directory, for affordance=learned
    executor: str = "scripted"  # scripted primitives, or the VLA given each skill's text
    vla_checkpoint: str | None = None  # for executor=vla
    max_plan_steps: int = 16
    skill_step_budget: int = 150
    retry_limit: int = 2
    goal_feedback: bool = True

    def __post_init__(self):
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"SayCanConfig.normalize must be one of {NORMALIZATIONS}, got {self.normalize!r}")
        if self.affordance not in AFFORDANCES:
            raise ValueError(f"SayCanConfig.affordance must be one of {AFFORDANCES}, got {self.affordance!r}")
        if self.affordance == "learned" and not self.affordance_checkpoint:
            raise ValueError("SayCanConfig.affordance_checkpoint is required for affordance='learned', got None")
        if self.executor not in EXECUTORS:
            raise ValueError(f"SayCanConfig.executor must be one of {EXECUTORS}, got {self.executor!r}")
        if self.executor == "vla" and not self.vla_checkpoint:
            raise ValueError("SayCanConfig.vla_checkpoint is required for executor='vla', got None")
        if self.gguf_file and not self.lm_path:
            raise ValueError(f"SayCanConfig.gguf_file={self.gguf_file!r} needs lm_path (the folder holding it)")
        self.loop()  # validates the budgets

    def loop(self) -> LoopConfig:
        return LoopConfig(max_plan_steps=self.max_plan_steps, skill_step_budget=self.skill_step_budget,
                          retry_limit=self.retry_limit, goal_feedback=self.goal_feedback)
