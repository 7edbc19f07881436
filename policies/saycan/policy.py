"""`SayCanPolicy`: the planner loop behind the Policy protocol, for the tabletop sim.

Each `predict_action_chunk(obs)` either continues the running skill or, when it has ended (its executor
says done, or it used its step budget), judges it with the success detector, appends the outcome to the
prompt (Inner Monologue) and plans the next skill: p_LM x affordance over every skill of the scene. It
stops at "done", at the planning-step budget, when no skill is feasible, or at once for a command it cannot
plan (`planner.check_command`); a stopped policy holds the arm still. A skill that failed `retry_limit`
times in a row is masked, so a failure never loops forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from policies.base import Observation
from policies.saycan.affordances import Affordance
from policies.saycan.goals import goal_for_task
from policies.saycan.planner import Planner, check_command
from policies.saycan.prompt import StepOutcome, feedback_text
from policies.saycan.scene import SceneState, scene_from_env
from policies.saycan.skills import Skill, SkillExecutor, apply_skill, enumerate_skills, parse_skill, skill_succeeded

MIN_SCORE = 1e-9  # a best p_LM x affordance below this means no feasible skill


@dataclass
class LoopConfig:
    """Budgets of the planner loop; validated on construction."""

    max_plan_steps: int = 16  # planning steps ("done" included) per episode
    skill_step_budget: int = 150  # control steps one skill may use
    retry_limit: int = 2  # consecutive failures of one skill before it is masked
    # the env task's success detector: subgoals left ("Left to do: ...") in the prompt and the goal check in
    # the "done" affordance; off when the command is not the env task's instruction
    goal_feedback: bool = True

    def __post_init__(self):
        for name in ("max_plan_steps", "skill_step_budget", "retry_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"LoopConfig.{name} must be >= 1, got {getattr(self, name)}")


class SayCanPolicy:
    """SayCan with Inner Monologue in a tabletop env: plans skills and runs them through `executor`."""

    def __init__(self, env: Any, planner: Planner, executor: SkillExecutor, affordance: Affordance,
                 config: LoopConfig | None = None):
        self.env = env
        self.planner = planner
        self.executor = executor
        self.affordance = affordance
        self.config = config or LoopConfig()
        self.reset("")

    # ---- Policy protocol ----------------------------------------------------------------------------
    def reset(self, instruction: str) -> None:
        """Start a new command; planning happens lazily on the first observation (the env is reset by then)."""
        self.command = instruction.strip()
        self.history: list[StepOutcome] = []
        self.trace: list[dict[str, Any]] = []
        self.stop_reason: str | None = None
        self._start: SceneState | None = None
        self._start_text = ""
        self._skill: Skill | None = None
        self._before: SceneState | None = None
        self._skill_steps = 0
        self._fails: dict[str, int] = {}
        self._gripper = 1.0

    def predict_action_chunk(self, obs: Observation) -> np.ndarray:
        """The next action as a (1, A) chunk: one control step of the current skill, or a hold when stopped."""
        # a skill can end before its first step (an executor that gives up at once): judge it and re-plan;
        # every pass adds a trace row, so max_plan_steps bounds this loop
        while self.stop_reason is None and (self._skill is None or self._skill_over()):
            if self._skill is not None:
                self._finish_skill()
            self._plan_next(obs)
        if self.stop_reason is not None:
            return self._hold()
        self._skill_steps += 1
        chunk = np.asarray(self.executor.predict_action_chunk(obs), dtype=np.float32)[:1]  # (1, A) closed loop
        self._gripper = float(chunk[0, -1])
        return chunk

    @property
    def finished(self) -> bool:
        return self.stop_reason is not None

    # ---- the loop -----------------------------------------------------------------------------------
    def _subgoals(self) -> list[tuple[str, bool]] | None:
        base = getattr(self.env, "unwrapped", self.env)
        return base.task.subgoals(base) if self.config.goal_feedback else None

    def _plan_next(self, obs: Observation) -> None:
        scene = scene_from_env(self.env, self.config.goal_feedback)
        if self._start is None:
            self._start = scene
            self._start_text = feedback_text(scene, self._subgoals())
            reason = check_command(self.command, scene.objects)
            if reason is not None:
                self.stop_reason = f"refused: {reason}"
                return
        if len(self.trace) >= self.config.max_plan_steps:
            self.stop_reason = f"step budget: {self.config.max_plan_steps} planning steps used"
            return
        skills = enumerate_skills(scene)
        aff = np.asarray(self.affordance(skills, scene, obs), dtype=np.float64)
        for i, s in enumerate(skills):
            if self._fails.get(s.text, 0) >= self.config.retry_limit:
                aff[i] = 0.0  # failed retry_limit times in a row: masked
        step = self.planner.plan_step(self.command, self.history, skills, aff, scene=self._start_text)
        self.trace.append({"step": len(self.trace), **step.to_dict(), "outcome": None})
        if step.combined[step.chosen] < MIN_SCORE:
            self.stop_reason = "no feasible skill"
            return
        skill = skills[step.chosen]
        if skill.is_done:
            self.trace[-1]["outcome"] = True
            self.stop_reason = "done"
            return
        self._skill, self._before, self._skill_steps = skill, scene, 0
        self.executor.start(skill)

    def _skill_over(self) -> bool:
        """The executor says done, the step budget is used, or (for an executor that cannot tell, like the
        VLA) the success detector already sees the skill's effect."""
        if self.executor.done or self._skill_steps >= self.config.skill_step_budget:
            return True
        if getattr(self.executor, "self_terminating", True) or self._skill_steps == 0:
            return False
        return skill_succeeded(self._skill, self._before, scene_from_env(self.env, self.config.goal_feedback))

    def _finish_skill(self) -> None:
        """Judge the skill that just ended and append its outcome and the new feedback to the prompt."""
        after = scene_from_env(self.env, self.config.goal_feedback)
        ok = skill_succeeded(self._skill, self._before, after)
        self.history.append(StepOutcome(self._skill.text, ok, feedback_text(after, self._subgoals())))
        self.trace[-1]["outcome"] = ok
        self._fails[self._skill.text] = 0 if ok else self._fails.get(self._skill.text, 0) + 1
        self._skill = None

    def _hold(self) -> np.ndarray:
        """Stay still with the gripper as it is: (1, A) zeros but the last gripper command."""
        dim = int(np.prod(getattr(self.env, "action_space").shape))
        action = np.zeros((1, dim), dtype=np.float32)
        action[0, -1] = self._gripper
        return action

    # ---- metrics ------------------------------------------------------------------------------------
    def plan_success(self) -> bool:
        """SayCan's plan success: the chosen skills that succeeded, replayed symbolically from the starting
        scene, are all feasible and meet every subgoal of the task (execution quality aside)."""
        base = getattr(self.env, "unwrapped", self.env)
        if self._start is None:
            return False
        try:
            goal = goal_for_task(base.task.name, base.episode.goal)
        except KeyError:
            return False
        scene = self._start
        for row in self.trace:
            if row["outcome"] and row["chosen"] != "done":
                try:
                    scene = apply_skill(parse_skill(row["chosen"]), scene)
                except ValueError:
                    return False
        return all(done for _, done in goal(scene))

    def episode_metrics(self) -> dict[str, Any]:
        """Per-episode numbers the benchmark runner merges: plan and execution success, step counts.

        A skill still running when the episode ended (the env stops at task success) is judged first."""
        base = getattr(self.env, "unwrapped", self.env)
        if self._skill is not None:
            self._finish_skill()
        executed = [r for r in self.trace if r["chosen"] != "done" and r["outcome"] is not None]
        return {
            "plan_success": bool(self.plan_success()),
            "execution_success": bool(base.task.success(base)),
            "num_steps": len(self.trace),
            "num_skills": len(executed),
            "num_failed_skills": sum(1 for r in executed if not r["outcome"]),
            "affordance_corrections": sum(1 for r in self.trace if r["chosen"] != r["lm_choice"]),
            "stop_reason": self.stop_reason or "running",
        }
