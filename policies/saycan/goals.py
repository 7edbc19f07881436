"""Symbolic subgoals of the long-horizon tabletop tasks over a `SceneState`, worded exactly as the sim's
tasks word theirs (`sim.tabletop.tasks.long`: "red block in green bowl", "a tower of 2 blocks").

Two uses: the few-shot examples' success-detector feedback ("Left to do: ..."), and plan success: a chosen
skill sequence is replayed symbolically from the starting scene and is a valid plan when every subgoal
holds at its end, whether or not the robot then executed it well (SayCan's plan vs execution success).
"""

from __future__ import annotations

from typing import Callable

from policies.saycan.scene import SceneState

Subgoals = list[tuple[str, bool]]
GoalFn = Callable[[SceneState], Subgoals]


def all_in_bowl(bowl: str) -> GoalFn:
    """put_all_in_bowl: every block in `bowl`."""
    return lambda s: [(f"{b} in {bowl}", s.where(b) == bowl) for b in s.blocks]


def same_color_bowls(s: SceneState) -> Subgoals:
    """sort_by_color: every block in the bowl of its color."""
    return [(f"{b} in {b.replace(' block', ' bowl')}", s.where(b) == b.replace(" block", " bowl")) for b in s.blocks]


def tower_height(s: SceneState) -> int:
    """Blocks in the tallest chain resting on each other."""
    best = 0
    for base in s.blocks:
        if s.where(base) in s.blocks:
            continue
        height, top = 1, base
        while True:
            above = [b for b in s.blocks if s.where(b) == top]
            if not above:
                break
            height, top = height + 1, above[0]
        best = max(best, height)
    return best


def one_tower(s: SceneState) -> Subgoals:
    """stack_all: towers of 2..n blocks."""
    h = tower_height(s)
    return [(f"a tower of {k} blocks", h >= k) for k in range(2, len(s.blocks) + 1)]


def goal_for_task(task: str, goal: dict) -> GoalFn:
    """The symbolic subgoals of a long-horizon task from its episode's `goal` dict; KeyError if unknown."""
    if task == "put_all_in_bowl":
        return all_in_bowl(goal["bowl"])
    if task == "sort_by_color":
        return same_color_bowls
    if task == "stack_all":
        return one_tower
    raise KeyError(f"no symbolic goal for task {task!r}; known: put_all_in_bowl, sort_by_color, stack_all")


def goals_left_text(subgoals: Subgoals) -> str:
    """The success detector's feedback line: the first subgoal not met yet ("Next goal: red block in green
    bowl.", or "Next goal: none."). One goal rather than the list: shorter (every step appends it) and
    one name to copy for a small LM."""
    left = [d for d, done in subgoals if not done]
    return f"Next goal: {left[0] if left else 'none'}."
