"""Parametrized tabletop skills: their language descriptions, their enumeration from a scene, and the two
executors behind one interface (scripted primitives, or the VLA given the skill text as its instruction).

Skills are atomic, as in SayCan's kitchen (pick X / place it ...): one block at a time, which gives the
Inner Monologue a success check after every grasp and every placement. `done` is a skill too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np

from policies.base import Observation
from policies.saycan.scene import SceneState

# verb -> text template; the one place skill texts are written.
TEMPLATES: dict[str, str] = {
    "pick": "pick up the {obj}",
    "place_in": "place it in the {target}",
    "place_on": "place it on the {target}",
    "done": "done",
}
VERBS = tuple(TEMPLATES)


@dataclass(frozen=True)
class Skill:
    """One skill: a verb, the block it picks (`obj`) or the object it places onto/into (`target`)."""

    verb: str
    obj: str | None = None
    target: str | None = None

    def __post_init__(self):
        if self.verb not in TEMPLATES:
            raise ValueError(f"Skill.verb must be one of {VERBS}, got {self.verb!r}")
        if (self.verb == "pick") != (self.obj is not None):
            raise ValueError(f"Skill.obj must be set exactly for 'pick', got verb={self.verb!r} obj={self.obj!r}")
        if self.verb.startswith("place") != (self.target is not None):
            raise ValueError(f"Skill.target must be set exactly for place skills, got verb={self.verb!r} "
                             f"target={self.target!r}")

    @property
    def text(self) -> str:
        """The skill's language description ("pick up the red block")."""
        return TEMPLATES[self.verb].format(obj=self.obj, target=self.target)

    @property
    def is_done(self) -> bool:
        return self.verb == "done"


DONE = Skill("done")


def enumerate_skills(scene: SceneState) -> list[Skill]:
    """Every skill for the scene: pick each block, place in each bowl, place on each block, and done.

    Feasibility is not checked here; that is the affordance's job (SayCan scores all skills, always).
    """
    skills = [Skill("pick", obj=b) for b in scene.blocks]
    skills += [Skill("place_in", target=w) for w in scene.bowls]
    skills += [Skill("place_on", target=b) for b in scene.blocks]
    return skills + [DONE]


_PATTERNS = [(verb, re.compile("^" + re.escape(t).replace(r"\{obj\}", "(?P<obj>.+)")
                               .replace(r"\{target\}", "(?P<target>.+)") + "$"))
             for verb, t in TEMPLATES.items()]


def parse_skill(text: str) -> Skill:
    """The Skill whose text is `text` (inverse of `Skill.text`); raises ValueError listing the forms."""
    clean = text.strip().rstrip(".").strip()
    for verb, pattern in _PATTERNS:
        m = pattern.match(clean)
        if m:
            return Skill(verb, **m.groupdict())
    raise ValueError(f"{text!r} is not a skill text; expected one of {list(TEMPLATES.values())}")


class SkillExecutor(Protocol):
    """Runs one skill at a time as a low-level policy: `start(skill)`, then chunks until `done`.

    `self_terminating` False tells the planner loop to end the skill when its success detector fires."""

    self_terminating: bool

    def start(self, skill: Skill) -> None: ...

    def predict_action_chunk(self, obs: Observation) -> np.ndarray: ...

    @property
    def done(self) -> bool: ...


class ScriptedSkillExecutor:
    """Executes skills with the tabletop's scripted primitives (`sim.tabletop.experts`): privileged, exact."""

    self_terminating = True  # `done` turns True when the primitive has finished

    def __init__(self, env: Any):
        self.env = env
        self._policy = None

    def start(self, skill: Skill) -> None:
        """Build the primitive policy for `skill` (Pick(block), or Place(target)); "done" has no executor."""
        from sim.tabletop import experts
        from sim.tabletop.tasks.long import BOWL_SLOTS

        if skill.verb == "pick":
            primitives = [experts.Pick(skill.obj)]
        elif skill.verb == "place_in":  # drop beside the blocks already there, as the task experts do
            from policies.saycan.scene import scene_from_env

            scene = scene_from_env(self.env)
            k = sum(1 for b in scene.blocks if scene.where(b) == skill.target)
            primitives = [experts.Place(skill.target, offset=BOWL_SLOTS[k % len(BOWL_SLOTS)])]
        elif skill.verb == "place_on":
            primitives = [experts.Place(skill.target)]
        else:
            raise ValueError(f"skill {skill.text!r} has nothing to execute")
        self._policy = experts.PrimitivePolicy(self.env, primitives)
        self._policy.reset(skill.text)

    def predict_action_chunk(self, obs: Observation) -> np.ndarray:
        if self._policy is None:
            raise RuntimeError("start(skill) before predict_action_chunk")
        return self._policy.predict_action_chunk(obs)

    @property
    def done(self) -> bool:
        return self._policy is not None and bool(self._policy.done)


class VLASkillExecutor:
    """Executes skills with a language-conditioned policy (the VLA): reset with the skill's text.

    A learned policy does not know when it is finished, so `done` stays False; the planner's per-skill
    step budget and success detector end the skill.
    """

    self_terminating = False

    def __init__(self, policy: Any):
        self.policy = policy
        self._text: str | None = None

    @classmethod
    def from_pretrained(cls, checkpoint: str, **kwargs: Any) -> "VLASkillExecutor":
        """Load the VLA checkpoint directory (`policies.vla.VLAPolicy.from_pretrained`)."""
        from policies.vla import VLAPolicy

        return cls(VLAPolicy.from_pretrained(checkpoint, **kwargs))

    def start(self, skill: Skill) -> None:
        if skill.is_done:
            raise ValueError(f"skill {skill.text!r} has nothing to execute")
        self.policy.reset(skill.text)
        self._text = skill.text

    def predict_action_chunk(self, obs: Observation) -> np.ndarray:
        if self._text is None:
            raise RuntimeError("start(skill) before predict_action_chunk")
        return self.policy.predict_action_chunk({**obs, "instruction": self._text})  # the skill, not the command

    @property
    def done(self) -> bool:
        return False


def skill_succeeded(skill: Skill, before: SceneState, after: SceneState) -> bool:
    """The success detector: did `skill` do what its text says, judged from the scene before and after?

    pick X: X is held. place in/on T: the block held before now rests on T and the gripper is empty.
    """
    if skill.verb == "pick":
        return after.held == skill.obj
    if skill.verb in ("place_in", "place_on"):
        moved = before.held
        return moved is not None and after.held is None and after.support.get(moved) == skill.target
    return True



def apply_skill(skill: Skill, scene: SceneState) -> SceneState:
    """The scene after `skill` succeeds (symbolic effect): used to replay a plan and check it.

    Raises ValueError when the skill is infeasible in `scene` (picking with a full gripper, placing with
    an empty one, onto the held block or a covered one).
    """
    from policies.saycan.affordances import geometric_feasible

    if not geometric_feasible(skill, scene):
        raise ValueError(f"skill {skill.text!r} is not feasible with held={scene.held!r}, "
                         f"support={dict(scene.support)}")
    support = dict(scene.support)
    if skill.verb == "pick":
        support.pop(skill.obj, None)
        return SceneState(scene.blocks, scene.bowls, held=skill.obj, support=support)
    if skill.verb in ("place_in", "place_on"):
        support[scene.held] = skill.target
        return SceneState(scene.blocks, scene.bowls, held=None, support=support)
    return scene
