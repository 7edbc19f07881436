"""The planner's prompt, in one place: the few-shot examples, the live prompt and the Inner Monologue lines.

Layout (every example and the live episode are rendered by the same functions, so they cannot drift):

    Human: put all the blocks in the green bowl
    Objects: red block, blue block, yellow block, green bowl.
    Robot: pick up the red block. Success: yes.
    Robot: place it in the green bowl. Success: yes.
    ...
    Robot: done.

The LM scores each candidate skill as the text after "Robot:" (a leading space, the skill text and the
full stop: `candidate_text`). After a skill runs, its line gets the success detector's verdict (Inner
Monologue, Huang et al. 2022), so a failed step is visible to the LM on the next re-plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from policies.saycan.goals import GoalFn, Subgoals, all_in_bowl, goals_left_text, one_tower, same_color_bowls
from policies.saycan.scene import TABLE, SceneState
from policies.saycan.skills import DONE, Skill, apply_skill, parse_skill

ROBOT = "Robot:"


def describe_scene(scene: SceneState) -> str:
    """Inner Monologue's passive scene description, task-agnostic, blocks on the table first:
    "Scene: on the table: blue block, yellow block. in the green bowl: red block. in the gripper: nothing."
    """
    groups: dict[str, list[str]] = {}
    for block in scene.blocks:
        if block != scene.held:
            groups.setdefault(scene.where(block), []).append(block)
    parts = [f"on the table: {', '.join(groups.pop(TABLE, [])) or 'nothing'}."]
    for under, blocks in groups.items():
        parts.append(f"{'in' if under in scene.bowls else 'on'} the {under}: {', '.join(blocks)}.")
    parts.append(f"in the gripper: {scene.held or 'nothing'}.")
    return "Scene: " + " ".join(parts)


@dataclass(frozen=True)
class StepOutcome:
    """One executed step: the skill's text, the success detector's verdict, and the feedback after it
    (scene description and goals left, from `feedback_text`; None leaves it out)."""

    skill: str
    success: bool
    feedback: str | None = None

    def line(self) -> str:
        """The Inner Monologue lines for this step: the skill with its verdict, then the feedback."""
        text = f"{ROBOT} {self.skill}. Success: {'yes' if self.success else 'no'}."
        return text if self.feedback is None else f"{text}\n{self.feedback}"


def feedback_text(scene: SceneState, subgoals: Subgoals | None = None) -> str:
    """The feedback lines after a step (and before the first): the scene, then the subgoals left when the
    success detector knows the task's subgoals."""
    text = describe_scene(scene)
    return text if subgoals is None else f"{text}\n{goals_left_text(subgoals)}"


@dataclass(frozen=True)
class Example:
    """A few-shot example: a command, the starting scene, and the (skill text, success) steps taken."""

    command: str
    scene: SceneState
    goal: GoalFn
    steps: tuple[tuple[str, bool], ...]

    def text(self) -> str:
        """The example rendered like a live episode, feedback replayed symbolically, ending in "done"."""
        scene, out = self.scene, []
        for skill, ok in self.steps:
            if ok:  # a failed step changes nothing
                scene = apply_skill(parse_skill(skill), scene)
            out.append(StepOutcome(skill, ok, feedback_text(scene, self.goal(scene))))
        start = feedback_text(self.scene, self.goal(self.scene))
        return episode_text(self.command, start, out) + f"\n{ROBOT} {DONE.text}."


def _scene(blocks: str, bowls: str) -> SceneState:
    return SceneState(tuple(blocks.split(", ")), tuple(bowls.split(", ")))


# Every example picks the first block on the table; a tower is built on the last one.
EXAMPLES: tuple[Example, ...] = (
    Example("put all the blocks in the green bowl", _scene("red block, blue block, yellow block", "green bowl"),
            all_in_bowl("green bowl"),
            (("pick up the red block", True), ("place it in the green bowl", True),
             ("pick up the blue block", True), ("place it in the green bowl", True),
             ("pick up the yellow block", True), ("place it in the green bowl", True))),
    Example("stack all the blocks", _scene("purple block, orange block, green block", "red bowl"), one_tower,
            (("pick up the purple block", True), ("place it on the green block", True),
             ("pick up the orange block", True), ("place it on the purple block", True))),
    Example("put each block in the bowl of the same color", _scene("blue block, red block", "red bowl, blue bowl"),
            same_color_bowls,
            (("pick up the blue block", True), ("place it in the blue bowl", True),
             ("pick up the red block", False), ("pick up the red block", True),
             ("place it in the red bowl", True))),
)

PREAMBLE = ("A robot arm follows a human's command on a table with blocks and bowls. It picks up one block "
            "at a time and places it in a bowl or on another block. It says done when the command is "
            "complete.")


def episode_text(command: str, start: str, steps: Sequence[StepOutcome]) -> str:
    """One episode's lines: the command, the starting feedback, and each step with its outcome and feedback."""
    return "\n".join([f"Human: {command}", start] + [s.line() for s in steps])


def few_shot_text(examples: Sequence[Example] = EXAMPLES) -> str:
    """The preamble and the completed examples (each ending in "Robot: done."), blank-line separated."""
    parts = [PREAMBLE]
    parts += [ex.text() for ex in examples]
    return "\n\n".join(parts)


def build_prompt(command: str, start: str, history: Sequence[StepOutcome],
                 examples: Sequence[Example] = EXAMPLES) -> str:
    """The full prompt for the next step: few-shot examples, this episode so far, and an open "Robot:".

    `start` is the feedback before the first step (`feedback_text` of the starting scene). The few-shot part never changes and
    each step only appends lines, so the scorer's incremental KV cache runs just the new tokens.
    """
    return f"{few_shot_text(examples)}\n\n{episode_text(command, start, history)}\n{ROBOT}"


def candidate_text(skill: str) -> str:
    """What the LM scores for a skill: the continuation after "Robot:" (space, text, full stop).

    The full stop makes a skill's text end where the prompt's lines end, so a text that is a prefix of a
    longer one is not favoured."""
    return f" {skill}."
