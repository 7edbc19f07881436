"""Affordances: a value in [0, 1] per skill saying whether it can succeed from the current state.

SayCan multiplies the LM's p(skill | command, history) by this value, so an infeasible skill the LM likes
(placing with an empty gripper, picking a covered block) is never chosen. Selectable by name (`AFFORDANCES`):

- `geometric`: rules over the privileged symbolic scene (`SceneState`):
  pick X       needs an empty gripper and nothing resting on X;
  place in B   needs a held block;
  place on Y   needs a held block, Y not the held block, nothing resting on Y, and Y not in a bowl (a
               block sitting in a bowl is no flat base: the drop would slide off it);
  done         needs an empty gripper (a plan never ends with a block in the hand) and, when the scene
               carries the command's success detector (`SceneState.goal_met`), the goal met.
- `none`: 1 for every skill: the LM-only ablation.
- `learned`: a value network over image + state + skill trained on scripted rollouts, as SayCan's value
  functions are (`policies.saycan.value_model.LearnedAffordance`; train with `policies.saycan.train_value`).
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from policies.base import Observation
from policies.saycan.scene import SceneState
from policies.saycan.skills import Skill


class Affordance(Protocol):
    """Maps skills and the current scene (and observation) to values (N,) in [0, 1]."""

    def __call__(self, skills: Sequence[Skill], scene: SceneState,
                 obs: Observation | None = None) -> np.ndarray: ...


def geometric_feasible(skill: Skill, scene: SceneState) -> bool:
    """Whether `skill` can succeed in `scene` by the rules in the module docstring."""
    empty = scene.held is None
    if skill.verb == "pick":
        return empty and skill.obj in scene.blocks and not scene.is_covered(skill.obj)
    if skill.verb == "place_in":
        return not empty and skill.target in scene.bowls
    if skill.verb == "place_on":
        return (not empty and skill.target in scene.blocks and skill.target != scene.held
                and not scene.is_covered(skill.target) and scene.where(skill.target) not in scene.bowls)
    return empty and scene.goal_met is not False  # done


class GeometricAffordance:
    """Rule-based affordance over privileged state: 1 for a feasible skill, `infeasible` otherwise."""

    def __init__(self, infeasible: float = 0.0):
        if not 0.0 <= infeasible < 1.0:
            raise ValueError(f"infeasible must be in [0, 1), got {infeasible}")
        self.infeasible = float(infeasible)

    def __call__(self, skills: Sequence[Skill], scene: SceneState,
                 obs: Observation | None = None) -> np.ndarray:
        return np.array([1.0 if geometric_feasible(s, scene) else self.infeasible for s in skills])


class NoAffordance:
    """Every skill gets 1: the planner follows the LM alone (the ablation SayCan reports as 'no VF')."""

    def __call__(self, skills: Sequence[Skill], scene: SceneState,
                 obs: Observation | None = None) -> np.ndarray:
        return np.ones(len(skills))


AFFORDANCES = ("geometric", "none", "learned")


def make_affordance(name: str, checkpoint: str | None = None) -> Affordance:
    """The affordance called `name` (see `AFFORDANCES`); `learned` loads its value model from `checkpoint`."""
    if name == "geometric":
        return GeometricAffordance()
    if name == "none":
        return NoAffordance()
    if name == "learned":
        if not checkpoint:
            raise ValueError("affordance 'learned' needs checkpoint= (a directory written by "
                             "policies.saycan.train_value), got None")
        from policies.saycan.value_model import LearnedAffordance

        return LearnedAffordance.from_pretrained(checkpoint)
    raise ValueError(f"unknown affordance {name!r}; valid: {AFFORDANCES}")
