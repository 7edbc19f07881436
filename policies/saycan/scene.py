"""The symbolic scene the planner reasons over: which blocks and bowls exist, what the gripper holds, and
what each block rests on.

The planner, the geometric affordance and the success detector read only this, so they work the same from
the simulator (`scene_from_env`, built with the sim's own predicates, the ones its tasks' success checks
use) and from a robot's perception (build a `SceneState` from detections and call the same planner).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

TABLE = "table"


@dataclass(frozen=True)
class SceneState:
    """Blocks and bowls by name ("red block", "green bowl"), the held block, and each block's support.

    `support[block]` is the bowl or block it rests in/on; a block missing from `support` is on the table
    (or in the gripper when it is `held`). `goal_met` lets the "done" affordance wait for the command's
    success detector; None when there is none (a robot without task predicates).
    """

    blocks: tuple[str, ...]
    bowls: tuple[str, ...]
    held: str | None = None
    support: Mapping[str, str] = field(default_factory=dict)
    goal_met: bool | None = None  # the command's success detector, when one is known (sim: task.success)

    def __post_init__(self):
        names = self.blocks + self.bowls
        if len(set(names)) != len(names):
            raise ValueError(f"SceneState object names must be unique, got {names}")
        if self.held is not None and self.held not in self.blocks:
            raise ValueError(f"SceneState.held must be one of the blocks {self.blocks} or None, got {self.held!r}")
        for block, under in self.support.items():
            if block not in self.blocks or under not in names or under == block:
                raise ValueError(f"SceneState.support entry {block!r} -> {under!r} must map a block to another "
                                 f"object of {names}")

    @property
    def objects(self) -> tuple[str, ...]:
        """All object names, blocks first (the order the prompt lists them in)."""
        return self.blocks + self.bowls

    def is_covered(self, name: str) -> bool:
        """True when some block (not the held one) rests on `name`."""
        return any(under == name and block != self.held for block, under in self.support.items())

    def where(self, block: str) -> str:
        """What `block` rests on: a bowl, a block, "table", or "gripper" when held."""
        if block == self.held:
            return "gripper"
        return self.support.get(block, TABLE)


def scene_from_env(env: Any, with_goal: bool = True) -> SceneState:
    """The SceneState of a tabletop env now, from its privileged state and `sim.tabletop.predicates`.

    A block in a bowl counts as in the bowl even when it rests on another block there (as the sim's
    `is_in` does); `goal_met` is the env task's success predicate (None when `with_goal` is False: the
    command being planned is not the env task's)."""
    from sim.tabletop import predicates

    base = getattr(env, "unwrapped", env)
    objs = base.scene_objects()
    blocks = tuple(o.name for o in objs if o.kind == "block")
    bowls = tuple(o.name for o in objs if o.kind == "bowl")
    held = base.held_object()
    support: dict[str, str] = {}
    for block in blocks:
        if block == held:
            continue
        under = next((w for w in bowls if predicates.is_in(base, block, w)), None)
        under = under or next((b for b in blocks if b != block and predicates.is_on(base, block, b)), None)
        if under is not None:
            support[block] = under
    return SceneState(blocks=blocks, bowls=bowls, held=held, support=support,
                      goal_met=bool(base.task.success(base)) if with_goal else None)


def blocks_on_table(scene: SceneState) -> tuple[str, ...]:
    """The blocks resting on the table (not held, not in a bowl or on a block), in scene order."""
    return tuple(b for b in scene.blocks if scene.where(b) == TABLE)
