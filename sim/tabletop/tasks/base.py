"""What a tabletop language task is: a scene size, instruction templates, a layout sampler, a success
predicate, reward terms and a scripted plan made of primitives.

Tasks are stateless classes: `sample(rng)` returns an `Episode` (the layout, the instruction and the goal),
which the env stores as `env.episode`; `success(env)`, `reward_terms(env)`, `subgoals(env)` and
`plan(env)` read the goal from there. So one task object can serve many envs and episodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sim.tabletop.scene import BOWL_RADIUS, COLORS, SceneSpec

if TYPE_CHECKING:
    from sim.tabletop.env import TabletopEnv

# The region objects are placed in (base frame, m): in front of the robot, inside the arm's easy reach.
WORKSPACE_X = (0.33, 0.62)
WORKSPACE_Y = (-0.27, 0.27)
# Minimum center distances between sampled objects (m).
# Block gaps leave room for the open fingers (they reach 6.3 cm from the grasp center).
MIN_GAP = {("block", "block"): 0.09, ("block", "bowl"): BOWL_RADIUS + 0.065, ("bowl", "bowl"): 2 * BOWL_RADIUS + 0.03}


@dataclass(frozen=True)
class Placement:
    """One object of an episode's layout: `kind` "block" or "bowl", its color, xy (m) and yaw (rad)."""

    kind: str
    color: str
    xy: tuple[float, float]
    yaw: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.color} {self.kind}"


@dataclass(frozen=True)
class Episode:
    """A sampled episode: the instruction, the objects in the scene and the task's goal parameters."""

    instruction: str
    objects: tuple[Placement, ...]
    goal: dict[str, Any] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[Placement]:
        return [o for o in self.objects if o.kind == kind]


class Task:
    """Base class of the language task families (see the subclasses for each family's goal)."""

    name: ClassVar[str]
    spec: ClassVar[SceneSpec]  # object slots the scene needs
    max_steps: ClassVar[int]  # default episode length at 10 Hz
    templates: ClassVar[tuple[str, ...]]  # str.format templates over the goal's names
    long_horizon: ClassVar[bool] = False

    def sample(self, rng: np.random.Generator) -> Episode:
        """A random episode: colors, positions, yaws, distractors and the instruction."""
        raise NotImplementedError

    def success(self, env: TabletopEnv) -> bool:
        """Whether the goal holds in the env's current state."""
        raise NotImplementedError

    def plan(self, env: TabletopEnv) -> list:
        """The scripted expert's primitives for the env's current episode (see `sim.tabletop.experts`)."""
        raise NotImplementedError

    def subgoals(self, env: TabletopEnv) -> list[tuple[str, bool]]:
        """(description, done) pairs; single-step tasks have one subgoal: the instruction itself."""
        return [(env.episode.instruction, self.success(env))]

    def focus(self, env: TabletopEnv) -> str | None:
        """The object the gripper should go to next (for the dense reach term), or None."""
        return None

    def reward_terms(self, env: TabletopEnv) -> dict[str, float]:
        """Named reward terms: `success` (1 when the goal holds), `subgoals` (fraction done) and `reach`
        (-distance of the gripper to the next object of interest, scaled by 0.1)."""
        goals = self.subgoals(env)
        terms = {"success": float(self.success(env)), "subgoals": sum(done for _, done in goals) / len(goals)}
        focus = self.focus(env)
        if focus is not None:
            terms["reach"] = -0.1 * float(np.linalg.norm(env.ee_position() - env.object_position(focus)))
        return terms

    def instruction(self, rng: np.random.Generator, **names: str) -> str:
        return self.templates[int(rng.integers(len(self.templates)))].format(**names)


def pick_colors(rng: np.random.Generator, n: int, exclude: tuple[str, ...] = ()) -> list[str]:
    """`n` distinct colors, none of `exclude`, in random order."""
    pool = [c for c in COLORS if c not in exclude]
    if n > len(pool):
        raise ValueError(f"need {n} colors but only {len(pool)} are left after excluding {exclude}")
    return [pool[i] for i in rng.permutation(len(pool))[:n]]


def sample_layout(rng: np.random.Generator, kinds: list[str], colors: list[str],
                  x_range: tuple[float, float] = WORKSPACE_X,
                  y_range: tuple[float, float] = WORKSPACE_Y) -> tuple[Placement, ...]:
    """Non-overlapping placements for objects of `kinds`/`colors` (bowls first, as they need more room).

    Rejection sampling with restarts; raises RuntimeError if no layout is found, which means the task asks
    for more objects than the workspace holds."""
    if len(kinds) != len(colors):
        raise ValueError(f"kinds and colors differ in length: {len(kinds)} vs {len(colors)}")
    order = sorted(range(len(kinds)), key=lambda i: kinds[i] != "bowl")
    for _ in range(200):
        placed: dict[int, Placement] = {}
        for i in order:
            for _ in range(100):
                xy = (float(rng.uniform(*x_range)), float(rng.uniform(*y_range)))
                if all(np.hypot(xy[0] - p.xy[0], xy[1] - p.xy[1]) >= MIN_GAP[tuple(sorted((kinds[i], p.kind)))]
                       for p in placed.values()):
                    yaw = float(rng.uniform(-np.pi / 4, np.pi / 4)) if kinds[i] == "block" else 0.0
                    placed[i] = Placement(kinds[i], colors[i], xy, yaw)
                    break
            else:
                break
        if len(placed) == len(kinds):
            return tuple(placed[i] for i in range(len(kinds)))
    raise RuntimeError(f"could not place {kinds} in x={x_range}, y={y_range}")
