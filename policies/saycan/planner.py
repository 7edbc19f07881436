"""One SayCan planning step: p_LM(skill | prompt) x affordance(skill | state), and the chosen skill.

`Planner.plan_step` needs no simulator: give it the command, the steps so far (`StepOutcome`s), the
candidate skills and their affordance values, and it returns every score (`StepScores`). The sim policy
(`policies.saycan.policy`) and the ROS planner node both call it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from policies.saycan.lm_scoring import LMScorer
from policies.saycan.prompt import EXAMPLES, Example, StepOutcome, build_prompt, candidate_text
from policies.saycan.skills import Skill

# Words that tie a command to the tabletop: a command with none of them is unrelated to this robot.
TASK_WORDS = frozenset({"block", "blocks", "bowl", "bowls", "cube", "cubes", "stack", "sort", "tower", "pile"})
COLOR_WORDS = frozenset({"red", "green", "blue", "yellow", "purple", "orange", "white", "black", "pink",
                         "brown", "gray", "grey", "cyan", "magenta"})


@dataclass(frozen=True)
class StepScores:
    """All scores of one planning step, aligned with `skills`; `chosen` indexes the winner."""

    skills: tuple[str, ...]
    lm_logprob: np.ndarray  # (N,) normalized LM score (see lm_scoring: "sum" or "mean" log-prob)
    lm: np.ndarray  # (N,) p_LM: softmax of lm_logprob over the candidates
    affordance: np.ndarray  # (N,)
    combined: np.ndarray  # (N,) lm * affordance
    chosen: int

    @property
    def chosen_skill(self) -> str:
        return self.skills[self.chosen]

    @property
    def lm_choice(self) -> str:
        """What the LM alone would have chosen (to show where the affordance corrected it)."""
        return self.skills[int(np.argmax(self.lm))]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: one row per skill, plus the chosen and the LM-only choice."""
        rows = [{"skill": s, "lm_logprob": float(lp), "lm": float(p), "affordance": float(a), "combined": float(c)}
                for s, lp, p, a, c in zip(self.skills, self.lm_logprob, self.lm, self.affordance, self.combined)]
        return {"chosen": self.chosen_skill, "lm_choice": self.lm_choice, "scores": rows}

    def table(self, top: int | None = None) -> str:
        """A text table of the candidates, best combined first (`top` rows, all when None)."""
        order = np.argsort(-self.combined, kind="stable")[: top or len(self.skills)]
        width = max(len(s) for s in self.skills)
        lines = [f"  {'skill':<{width}}  {'lm':>6}  {'aff':>5}  {'comb':>6}"]
        for i in order:
            mark = "*" if i == self.chosen else " "
            lines.append(f"{mark} {self.skills[i]:<{width}}  {self.lm[i]:6.3f}  {self.affordance[i]:5.2f}  "
                         f"{self.combined[i]:6.3f}")
        return "\n".join(lines)


def check_command(command: str, objects: Sequence[str]) -> str | None:
    """Why `command` cannot be planned in a scene with `objects`, or None when it can.

    Empty; unrelated (no tabletop word and no object color); or naming a color no object in the scene has
    (no skill can satisfy it). A cheap guard before any LM call: the LM would otherwise happily score
    skills for "make me a sandwich".
    """
    words = set(re.findall(r"[a-z]+", command.lower()))
    if not words:
        return "the command is empty"
    scene_colors = {w for name in objects for w in name.split()} & COLOR_WORDS
    if not words & (TASK_WORDS | scene_colors):
        return f"the command {command!r} mentions no block, bowl or object of this scene ({', '.join(objects)})"
    missing = sorted((words & COLOR_WORDS) - scene_colors)
    if missing:
        return f"the command {command!r} names {', '.join(missing)}, but no such object is in the scene " \
               f"({', '.join(objects)})"
    return None


class Planner:
    """Scores skills with an LM and affordances; stateless between calls apart from the LM's prompt cache."""

    def __init__(self, scorer: LMScorer, examples: Sequence[Example] = EXAMPLES, history_window: int | None = 0):
        if history_window is not None and history_window < 0:
            raise ValueError(f"history_window must be >= 0 or None (all steps), got {history_window}")
        self.scorer = scorer
        self.examples = tuple(examples)
        self.history_window = history_window

    @classmethod
    def from_pretrained(cls, lm_path: str | None = None, gguf_file: str | None = None,
                        normalize: str = "mean", history_window: int | None = 0) -> "Planner":
        """A planner over a local LM (default: the offline SmolLM2-135M-Instruct)."""
        return cls(LMScorer.from_pretrained(lm_path, gguf_file, normalize=normalize), history_window=history_window)

    def prompt(self, command: str, history: Sequence[StepOutcome], scene: str) -> str:
        """The prompt for the next step: the last verdict and the latest feedback (`prompt.build_prompt`);
        with `history_window` k > 0 the last k skill lines too (examples alike; None: all)."""
        return build_prompt(command, scene, history, self.examples, self.history_window)

    def plan_step(self, command: str, history: Sequence[StepOutcome], skills: Sequence[Skill],
                  affordances: Sequence[float] | np.ndarray, scene: str | None = None) -> StepScores:
        """Score every skill and pick argmax of p_LM x affordance.

        `scene` is the starting scene's description (`prompt.describe_scene`); by default a line naming
        the objects the skills mention.
        Raises ValueError when skills and affordances differ in length or an affordance is outside [0, 1].
        """
        aff = np.asarray(affordances, dtype=np.float64)
        if aff.shape != (len(skills),):
            raise ValueError(f"affordances must have shape ({len(skills)},) like skills, got {aff.shape}")
        if not np.all((aff >= 0) & (aff <= 1)):
            raise ValueError(f"affordances must lie in [0, 1], got {aff.tolist()}")
        if scene is None:
            objects = dict.fromkeys(n for s in skills for n in (s.obj, s.target) if n)
            scene = f"Scene: objects: {', '.join(objects)}."
        prompt = self.prompt(command, history, scene)
        scores = self.scorer.score(prompt, [candidate_text(s.text) for s in skills])
        p_lm = scores.probabilities()
        combined = p_lm * aff
        return StepScores(skills=tuple(s.text for s in skills), lm_logprob=scores.score, lm=p_lm,
                          affordance=aff, combined=combined, chosen=int(np.argmax(combined)))
