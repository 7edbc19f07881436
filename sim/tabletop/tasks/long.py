"""Long-horizon language tasks: put_all_in_bowl, stack_all, sort_by_color.

Each has one subgoal per block (what SayCan's success detector reports back into its prompt), succeeds
when all subgoals hold at once, and plans as a chain of Pick / Place primitives.
"""

from __future__ import annotations

import numpy as np

from sim.tabletop import predicates
from sim.tabletop.experts import Pick, Place
from sim.tabletop.scene import SceneSpec
from sim.tabletop.tasks.base import Episode, Task, pick_colors, sample_layout

# Drop points inside one bowl for up to three blocks (m, from its center). The fingers close along world y,
# so blocks side by side in x need 4 cm between centers, and in y 6 cm (the fingers stick out 1.2 cm and
# open to 5.2 cm on release).
BOWL_SLOTS = ((-0.027, -0.027), (0.027, -0.027), (0.0, 0.035))


class LongTask(Task):
    """Shared parts: success is all subgoals; the dense reach term targets the first unmet subgoal's block."""

    long_horizon = True

    def success(self, env):
        return all(done for _, done in self.subgoals(env))

    def focus(self, env):
        held = env.held_object()
        if held is not None:
            return self.destination(env, held)
        for block, (_, done) in zip(env.episode.goal["blocks"], self.subgoals(env)):
            if not done:
                return block
        return None

    def destination(self, env, block: str) -> str:
        """Where `block` has to go."""
        raise NotImplementedError

    @staticmethod
    def _blocks_and_bowls(rng, n_blocks: int, bowl_colors: list[str]):
        kinds = ["block"] * n_blocks + ["bowl"] * len(bowl_colors)
        return kinds, pick_colors(rng, n_blocks) + bowl_colors


class PutAllInBowlTask(LongTask):
    """"put all the blocks in the green bowl": 2-3 blocks, the target bowl and one distractor bowl."""

    name = "put_all_in_bowl"
    spec = SceneSpec(n_blocks=3, n_bowls=2)
    max_steps = 300
    templates = ("put all the blocks in the {bowl}", "place every block into the {bowl}",
                 "move all of the blocks to the {bowl}", "gather all the blocks in the {bowl}")

    def sample(self, rng):
        n = int(rng.integers(2, 4))
        bowls = pick_colors(rng, 2)
        kinds, colors = self._blocks_and_bowls(rng, n, bowls)
        objects = sample_layout(rng, kinds, colors)
        bowl = f"{bowls[0]} bowl"
        blocks = [o.name for o in objects if o.kind == "block"]
        return Episode(self.instruction(rng, bowl=bowl), objects, {"bowl": bowl, "blocks": blocks})

    def destination(self, env, block):
        return env.episode.goal["bowl"]

    def subgoals(self, env):
        bowl = env.episode.goal["bowl"]
        return [(f"{b} in {bowl}", predicates.is_in(env, b, bowl)) for b in env.episode.goal["blocks"]]

    def plan(self, env):
        bowl = env.episode.goal["bowl"]
        steps = []
        for block, slot in zip(env.episode.goal["blocks"], BOWL_SLOTS):
            steps += [Pick(block), Place(bowl, offset=slot)]
        return steps


class StackAllTask(LongTask):
    """"stack all the blocks": 3 blocks in one tower (in any order), plus 0-1 distractor bowl."""

    name = "stack_all"
    spec = SceneSpec(n_blocks=3, n_bowls=1)
    max_steps = 250
    templates = ("stack all the blocks", "stack all of the blocks into one tower",
                 "build a tower out of all the blocks", "put every block in a single stack")

    def sample(self, rng):
        n_bowls = int(rng.integers(0, 2))
        kinds, colors = self._blocks_and_bowls(rng, 3, pick_colors(rng, n_bowls))
        objects = sample_layout(rng, kinds, colors)
        blocks = [o.name for o in objects if o.kind == "block"]
        return Episode(self.instruction(rng), objects, {"blocks": blocks})

    def tower(self, env) -> list[str]:
        """The tallest chain of blocks resting on each other, bottom first."""
        blocks = sorted(env.episode.goal["blocks"], key=lambda b: env.object_position(b)[2])
        best: list[str] = []
        for base in blocks:
            chain = [base]
            for other in blocks:
                if other not in chain and predicates.is_on(env, other, chain[-1]):
                    chain.append(other)
            best = max(best, chain, key=len)
        return best

    def subgoals(self, env):
        height = len(self.tower(env))
        n = len(env.episode.goal["blocks"])
        return [(f"a tower of {k} blocks", height >= k) for k in range(2, n + 1)]

    def focus(self, env):
        held = env.held_object()
        tower = self.tower(env)
        if held is not None:
            return tower[-1] if tower else env.episode.goal["blocks"][0]
        rest = [b for b in env.episode.goal["blocks"] if b not in tower and b != env.episode.goal["blocks"][0]]
        return rest[0] if rest else None

    def plan(self, env):
        blocks = env.episode.goal["blocks"]
        steps = []
        for below, above in zip(blocks, blocks[1:]):
            steps += [Pick(above), Place(below)]
        return steps


class SortByColorTask(LongTask):
    """"sort the blocks into the bowls of their color": 2-3 blocks, a bowl of each block's color and,
    with 2 blocks, one distractor bowl of another color."""

    name = "sort_by_color"
    spec = SceneSpec(n_blocks=3, n_bowls=3)
    max_steps = 300
    templates = ("sort the blocks into the bowls of their color", "put each block in the bowl of the same color",
                 "match every block with the bowl of its color", "sort the blocks by color into the bowls")

    def sample(self, rng):
        n = int(rng.integers(2, 4))
        colors = pick_colors(rng, n)
        extra = pick_colors(rng, 3 - n, exclude=tuple(colors))
        kinds = ["block"] * n + ["bowl"] * 3
        objects = sample_layout(rng, kinds, colors + colors + extra)
        blocks = [o.name for o in objects if o.kind == "block"]
        return Episode(self.instruction(rng), objects, {"blocks": blocks})

    def destination(self, env, block):
        return block.replace(" block", " bowl")

    def subgoals(self, env):
        return [(f"{b} in {self.destination(env, b)}", predicates.is_in(env, b, self.destination(env, b)))
                for b in env.episode.goal["blocks"]]

    def plan(self, env):
        steps = []
        for block in env.episode.goal["blocks"]:
            steps += [Pick(block), Place(self.destination(env, block))]
        return steps
