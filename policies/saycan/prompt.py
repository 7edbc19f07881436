"""The planner's prompt, in one place: the few-shot examples, the live prompt and the Inner Monologue lines.

Layout: one block per planning step, the few-shot examples' steps first, the live step last (every block
is rendered by the same function, so examples and the live episode cannot drift):

    Human: put all the blocks in the pink bowl
    Last step: succeeded.
    Scene: on the table: black block, brown block. in the gripper: white block.
    Next goal: white block in pink bowl.
    Robot: place it in the pink bowl.

A block holds the command, the success detector's verdict on the last step (Inner Monologue, Huang et al.
2022), the feedback after it (the scene description and the next subgoal left) and the step taken.
The LM scores each candidate skill as the text after the live block's open "Robot:" (`candidate_text`).

Why steps and not whole episodes: SmolLM2-135M copies. Shown the episode so far (or just its last skill
line) it repeats its own earlier lines (re-picks a block it already stacked, places into the bowl it used
last); shown the feedback that summarises the episode (the scene, the goal left, the last verdict) it
copies the block and bowl the feedback names. `Planner(history_window=k)` shows the last k skill lines
instead (measured worse). Examples use colors the tabletop never samples (pink, white, black, brown, gray,
cyan), so the examples' own color words cannot pull the LM toward an object of the live scene.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from policies.saycan.goals import GoalFn, Subgoals, all_in_bowl, goals_left_text, one_tower, same_color_bowls
from policies.saycan.scene import TABLE, SceneState
from policies.saycan.skills import DONE, Skill, apply_skill, parse_skill

ROBOT = "Robot:"


def _chain(scene: SceneState, base: str) -> list[str]:
    """`base` and the blocks resting on it, bottom first (the held block is not resting anywhere)."""
    chain = [base]
    while True:
        above = [b for b in scene.blocks if b != scene.held and scene.support.get(b) == chain[-1]]
        if not above or above[0] in chain:
            return chain
        chain.append(above[0])


def describe_scene(scene: SceneState) -> str:
    """Inner Monologue's passive scene description, task-agnostic, of the blocks still loose and the gripper:
    "Scene: on the table: blue block. tower: yellow block, red block. in the gripper: nothing."

    "on the table" lists the blocks lying free on the table; a block with others on it is listed with them
    as a "tower", bottom to top, so the block a stack grows on is the last one named. Blocks in a bowl are
    put away and not listed: naming "in the green bowl: green block" made SmolLM2 place the next block in
    that bowl too, whatever the goal said (measured); the success detector's "Next goal" names what is left.
    """
    base = [b for b in scene.blocks if b != scene.held and scene.where(b) == TABLE]
    free = [b for b in base if len(_chain(scene, b)) == 1]
    parts = [f"on the table: {', '.join(free) or 'nothing'}."]
    parts += [f"tower: {', '.join(_chain(scene, b))}." for b in base if b not in free]
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
        """The Inner Monologue line for this step: the skill with its verdict."""
        return f"{ROBOT} {self.skill}. Success: {'yes' if self.success else 'no'}."


def feedback_text(scene: SceneState, subgoals: Subgoals | None = None) -> str:
    """The feedback lines after a step (and before the first): the scene, then the next subgoal when the
    success detector knows the task's subgoals."""
    text = describe_scene(scene)
    return text if subgoals is None else f"{text}\n{goals_left_text(subgoals)}"


def step_text(command: str, start: str, history: Sequence[StepOutcome], window: int | None = 0) -> str:
    """One planning step's block, without the step taken: the command, the last step's verdict, and the
    current feedback.

    `window` steps before this one are shown with their text and verdict (all when None); with 0 (the
    default) only the last verdict is, as "Last step: succeeded." / "Last step: failed.": a 135M LM shown
    its own last step copies it (re-picks the block it just stacked), while the scene and goal feedback
    already say what the step did. The current feedback is the last step's (`start`, the feedback before
    the first step, when there is no step yet or the last one carries none)."""
    current = history[-1].feedback if history and history[-1].feedback is not None else start
    if window == 0:
        shown = [f"Last step: {'succeeded' if history[-1].success else 'failed'}."] if history else []
    else:
        shown = [s.line() for s in (history if window is None else history[max(0, len(history) - window):])]
    return "\n".join([f"Human: {command}"] + shown + [current])


@dataclass(frozen=True)
class Example:
    """A few-shot example: a command, the starting scene, and the (skill text, success) steps taken."""

    command: str
    scene: SceneState
    goal: GoalFn
    steps: tuple[tuple[str, bool], ...]

    def blocks(self, window: int | None = 0) -> list[str]:
        """One block per step, "done" last, the feedback replayed symbolically (a failed step changes nothing)."""
        scene, history, out = self.scene, [], []
        start = feedback_text(scene, self.goal(scene))
        for skill, ok in self.steps:
            out.append(f"{step_text(self.command, start, history, window)}\n{ROBOT} {skill}.")
            if ok:
                scene = apply_skill(parse_skill(skill), scene)
            history.append(StepOutcome(skill, ok, feedback_text(scene, self.goal(scene))))
        return out + [f"{step_text(self.command, start, history, window)}\n{ROBOT} {DONE.text}."]


def _scene(blocks: str, bowls: str) -> SceneState:
    return SceneState(tuple(blocks.split(", ")), tuple(bowls.split(", ")))


# Colors the tabletop never samples; every example picks the block its next goal names (the first free one
# on the table), a tower is built on the last block named.
EXAMPLES: tuple[Example, ...] = (
    Example("put all the blocks in the pink bowl",
            _scene("white block, black block, brown block", "pink bowl, gray bowl"), all_in_bowl("pink bowl"),
            (("pick up the white block", True), ("place it in the pink bowl", True),
             ("pick up the black block", True), ("place it in the pink bowl", True),
             ("pick up the brown block", True), ("place it in the pink bowl", True))),
    Example("stack all the blocks", _scene("gray block, pink block, white block", "black bowl"), one_tower,
            (("pick up the gray block", True), ("place it on the white block", True),
             ("pick up the pink block", True), ("place it on the gray block", True))),
    Example("put each block in the bowl of the same color",
            _scene("black block, cyan block", "cyan bowl, black bowl, white bowl"), same_color_bowls,
            (("pick up the black block", True), ("place it in the black bowl", True),
             ("pick up the cyan block", False), ("pick up the cyan block", True),
             ("place it in the cyan bowl", True))),
    Example("sort the blocks into the bowls of their color",
            _scene("brown block, pink block, white block", "white bowl, pink bowl, brown bowl"), same_color_bowls,
            (("pick up the brown block", True), ("place it in the brown bowl", True),
             ("pick up the pink block", True), ("place it in the pink bowl", True),
             ("pick up the white block", True), ("place it in the white bowl", True))),
    Example("build a tower out of all the blocks", _scene("cyan block, brown block, black block", "white bowl"),
            one_tower,
            (("pick up the cyan block", True), ("place it on the black block", True),
             ("pick up the brown block", True), ("place it on the cyan block", True))),
)

PREAMBLE = ("A robot arm follows a human's command on a table with blocks and bowls. It picks up one block "
            "at a time and places it in a bowl or on another block. It says done when the command is "
            "complete.")


def few_shot_text(examples: Sequence[Example] = EXAMPLES, window: int | None = 0) -> str:
    """The preamble and every example's step blocks (the last of each is "Robot: done."), blank-line separated."""
    return "\n\n".join([PREAMBLE] + [block for ex in examples for block in ex.blocks(window)])


def build_prompt(command: str, start: str, history: Sequence[StepOutcome],
                 examples: Sequence[Example] = EXAMPLES, window: int | None = 0) -> str:
    """The full prompt for the next step: the few-shot blocks, this step's block and an open "Robot:".

    `start` is the feedback before the first step (`feedback_text` of the starting scene). The few-shot part
    never changes, so the scorer's KV cache keeps it and each step runs only the live block's tokens.
    """
    return f"{few_shot_text(examples, window)}\n\n{step_text(command, start, history, window)}\n{ROBOT}"


def candidate_text(skill: str) -> str:
    """What the LM scores for a skill: the continuation after "Robot:" (space, text, full stop).

    The full stop makes a skill's text end where the prompt's lines end, so a text that is a prefix of a
    longer one is not favoured."""
    return f" {skill}."
