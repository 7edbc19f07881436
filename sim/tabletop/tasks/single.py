"""Single-step language tasks: touch, pick, place, push, stack.

Each samples a target (and a second object where the task needs one) plus random distractors, picks one
of several phrasings, and defines its success predicate and the expert's primitives.
"""

from __future__ import annotations

import numpy as np

from sim.tabletop import predicates
from sim.tabletop.experts import PUSH_DIRECTIONS, Pick, Place, Push, Touch
from sim.tabletop.scene import BLOCK_HALF, SceneSpec
from sim.tabletop.tasks.base import WORKSPACE_X, WORKSPACE_Y, Episode, Task, pick_colors, sample_layout

PUSH_DISTANCE = 0.1  # the expert pushes this far (m)
PUSH_SUCCESS = 0.06  # displacement along the direction that counts as success (m)


def _distractor_layout(rng, n_main_blocks: int, max_blocks: int, n_main_bowls: int, max_bowls: int,
                       bowl_colors: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Kinds and colors: the task's own blocks/bowls first, then random distractors of unused colors."""
    n_blocks = int(rng.integers(n_main_blocks, max_blocks + 1))
    n_bowls = int(rng.integers(n_main_bowls, max_bowls + 1))
    block_colors = pick_colors(rng, n_blocks)
    bowl_colors = list(bowl_colors or []) + pick_colors(rng, n_bowls - len(bowl_colors or []),
                                                        exclude=tuple(bowl_colors or ()))
    return ["block"] * n_blocks + ["bowl"] * n_bowls, block_colors + bowl_colors


class _OneBlockTask(Task):
    """A task about one target block among distractor blocks and a bowl (touch, pick)."""

    spec = SceneSpec(n_blocks=3, n_bowls=1)

    def sample(self, rng):
        kinds, colors = _distractor_layout(rng, 1, 3, 0, 1)
        objects = sample_layout(rng, kinds, colors)
        target = objects[0].name
        return Episode(self.instruction(rng, obj=target), objects, {"target": target})

    def focus(self, env):
        return env.episode.goal["target"]


class TouchTask(_OneBlockTask):
    """"touch the blue block": succeeds once the hand or a finger has touched the target block."""

    name = "touch"
    max_steps = 60
    templates = ("touch the {obj}", "tap the {obj}", "reach out and touch the {obj}", "put a finger on the {obj}")

    def success(self, env):
        return env.episode.goal["target"] in env.touched_objects()

    def plan(self, env):
        return [Touch(env.episode.goal["target"])]


class PickTask(_OneBlockTask):
    """"pick up the red block": succeeds when the target is held and lifted 4 cm off the table."""

    name = "pick"
    max_steps = 80
    templates = ("pick up the {obj}", "lift the {obj}", "grab the {obj} and lift it", "pick the {obj} up")

    def success(self, env):
        target = env.episode.goal["target"]
        lifted = env.object_position(target)[2] >= BLOCK_HALF + 0.04
        return bool(lifted and predicates.is_held(env, target))

    def plan(self, env):
        return [Pick(env.episode.goal["target"])]


class PlaceTask(Task):
    """"put the red block in the blue bowl": succeeds when the block rests in the bowl, released."""

    name = "place"
    spec = SceneSpec(n_blocks=3, n_bowls=2)
    max_steps = 150
    templates = ("put the {block} in the {bowl}", "place the {block} into the {bowl}",
                 "drop the {block} in the {bowl}", "move the {block} to the {bowl}")

    def sample(self, rng):
        kinds, colors = _distractor_layout(rng, 1, 3, 1, 2)
        objects = sample_layout(rng, kinds, colors)
        block = objects[0].name
        bowl = next(o.name for o in objects if o.kind == "bowl")
        return Episode(self.instruction(rng, block=block, bowl=bowl), objects, {"block": block, "bowl": bowl})

    def success(self, env):
        return predicates.is_in(env, env.episode.goal["block"], env.episode.goal["bowl"])

    def focus(self, env):
        goal = env.episode.goal
        return goal["bowl"] if env.held_object() == goal["block"] else goal["block"]

    def plan(self, env):
        goal = env.episode.goal
        return [Pick(goal["block"]), Place(goal["bowl"])]


class PushTask(Task):
    """"push the green block to the left": succeeds when the block has moved 6 cm that way (directions as
    seen in the front camera), still on the table and not held."""

    name = "push"
    spec = SceneSpec(n_blocks=3, n_bowls=1)
    max_steps = 100
    templates = ("push the {obj} {direction}", "slide the {obj} {direction}", "nudge the {obj} {direction}")

    def sample(self, rng):
        key = list(PUSH_DIRECTIONS)[int(rng.integers(len(PUSH_DIRECTIONS)))]
        vec, phrase = np.array(PUSH_DIRECTIONS[key][0]), PUSH_DIRECTIONS[key][1]
        for _ in range(100):
            kinds, colors = _distractor_layout(rng, 1, 3, 0, 1)
            objects = sample_layout(rng, kinds, colors)
            start = np.array(objects[0].xy)
            if self._clear_path(start, vec, objects[1:]):
                break
        else:
            raise RuntimeError("could not sample a push layout with a clear path")
        target = objects[0].name
        goal = {"target": target, "direction": key, "vector": tuple(vec), "start": tuple(start)}
        return Episode(self.instruction(rng, obj=target, direction=phrase), objects, goal)

    @staticmethod
    def _clear_path(start: np.ndarray, vec: np.ndarray, others) -> bool:
        """The block's path and the pusher's approach stay in the workspace and clear of other objects."""
        pre, end = start - vec * 0.09, start + vec * (PUSH_DISTANCE + 0.04)
        for p in (pre, end):
            if not (WORKSPACE_X[0] - 0.03 <= p[0] <= WORKSPACE_X[1] + 0.03 and
                    WORKSPACE_Y[0] - 0.03 <= p[1] <= WORKSPACE_Y[1] + 0.03):
                return False
        for o in others:
            rel = np.array(o.xy) - pre
            t = np.clip(rel @ vec, 0.0, np.linalg.norm(end - pre))
            clearance = 0.13 if o.kind == "bowl" else 0.07
            if np.linalg.norm(rel - t * vec) < clearance:
                return False
        return True

    def displacement(self, env) -> float:
        goal = env.episode.goal
        moved = env.object_position(goal["target"])[:2] - np.array(goal["start"])
        return float(moved @ np.array(goal["vector"]))

    def success(self, env):
        target = env.episode.goal["target"]
        on_table = env.object_position(target)[2] < BLOCK_HALF + 0.01
        return bool(self.displacement(env) >= PUSH_SUCCESS and on_table and not predicates.is_held(env, target))

    def focus(self, env):
        return env.episode.goal["target"]

    def plan(self, env):
        goal = env.episode.goal
        return [Push(goal["target"], goal["vector"], PUSH_DISTANCE)]


class StackTask(Task):
    """"stack the yellow block on the red block": succeeds when the first block rests on the second."""

    name = "stack"
    spec = SceneSpec(n_blocks=3, n_bowls=1)
    max_steps = 150
    templates = ("stack the {top} on the {bottom}", "put the {top} on top of the {bottom}",
                 "place the {top} onto the {bottom}", "set the {top} on the {bottom}")

    def sample(self, rng):
        kinds, colors = _distractor_layout(rng, 2, 3, 0, 1)
        objects = sample_layout(rng, kinds, colors)
        top, bottom = objects[0].name, objects[1].name
        return Episode(self.instruction(rng, top=top, bottom=bottom), objects, {"top": top, "bottom": bottom})

    def success(self, env):
        return predicates.is_on(env, env.episode.goal["top"], env.episode.goal["bottom"])

    def focus(self, env):
        goal = env.episode.goal
        return goal["bottom"] if env.held_object() == goal["top"] else goal["top"]

    def plan(self, env):
        goal = env.episode.goal
        return [Pick(goal["top"]), Place(goal["bottom"])]
