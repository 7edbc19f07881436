"""One long-horizon command executed step by step with the SayCan planner (no ROS here; planner_node glues it).

The planner (`policies.saycan.planner.Planner`) picks the next skill from p_LM x affordance; the skill's text
becomes the low-level policy's instruction; a success verdict for the step (from a success detector or an
operator) goes back into the prompt as Inner Monologue feedback. The scene the planner reasons over starts
from the given `SceneState` (a robot's perception, or parameters) and follows each successful skill's
symbolic effect (`apply_skill`); a failed step leaves it unchanged so the planner can retry or recover.
"""

from __future__ import annotations

from typing import Any

from policies.saycan.planner import StepScores, check_command
from policies.saycan.prompt import StepOutcome, describe_scene, feedback_text
from policies.saycan.scene import SceneState
from policies.saycan.skills import Skill, apply_skill, enumerate_skills, parse_skill


class PlanSession:
    """State of one command: steps taken, the scene, and the skill in progress."""

    def __init__(self, planner: Any, affordance: Any, scene: SceneState, command: str, max_steps: int):
        why = check_command(command, scene.objects)
        if why is not None:
            raise ValueError(why)
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.planner, self.affordance = planner, affordance
        self.command, self.max_steps = command, max_steps
        self.start_scene = self.scene = scene
        self.history: list[StepOutcome] = []
        self.current: Skill | None = None
        self.finished = False
        self.reason = ""

    def next_step(self) -> StepScores | None:
        """Plan the next skill (now `current`); None when the plan is over (done or out of steps)."""
        if self.finished:
            return None
        if len(self.history) >= self.max_steps:
            self._finish(f"stopped after {self.max_steps} steps")
            return None
        skills = enumerate_skills(self.scene)
        scores = self.planner.plan_step(self.command, self.history, skills, self.affordance(skills, self.scene),
                                        scene=describe_scene(self.start_scene))
        self.current = parse_skill(scores.chosen_skill)
        if self.current.is_done:
            self._finish("done")
        return scores

    def report(self, success: bool) -> None:
        """The verdict for `current`: update the scene on success and add the Inner Monologue feedback."""
        if self.current is None or self.finished:
            raise RuntimeError("no step in progress to report on")
        if success:
            try:
                self.scene = apply_skill(self.current, self.scene)
            except ValueError:  # reported success for an infeasible skill: keep the scene we can justify
                success = False
        self.history.append(StepOutcome(self.current.text, success, feedback_text(self.scene)))
        self.current = None

    def _finish(self, reason: str) -> None:
        self.finished, self.reason = True, reason
