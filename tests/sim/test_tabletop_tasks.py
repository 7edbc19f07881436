"""Tabletop tasks: instructions, layouts, predicates, subgoals, rewards, and the sim.registry hookup."""

import mujoco
import numpy as np
import pytest

from sim import registry
from sim.tabletop import predicates
from sim.tabletop.env import TabletopEnv
from sim.tabletop.scene import BLOCK_HALF, COLORS
from sim.tabletop.tasks import ALL_TASKS


def make(task, **kw):
    return TabletopEnv(task, cameras=(), **kw)


def teleport(env, block, xyz):
    """Put `block` at `xyz` (upright, at rest) and recompute positions and contacts."""
    phys = env.physics
    _, slot = phys._lookup(block)
    adr = phys.block_qadr[slot]
    phys.data.qpos[adr:adr + 7] = [*xyz, 1, 0, 0, 0]
    phys.data.qvel[:] = 0
    mujoco.mj_forward(phys.model, phys.data)


@pytest.mark.parametrize("task", sorted(ALL_TASKS))
def test_layouts_and_instructions(task):
    env = make(task)
    try:
        phrasings, colors = set(), set()
        for seed in range(12):
            obs, info = env.reset(seed=seed)
            objects = env.scene_objects()
            assert all(o.kind in ("block", "bowl") and o.color in COLORS and o.name == f"{o.color} {o.kind}"
                       for o in objects)
            xy = np.array([o.position[:2] for o in objects])
            gaps = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(len(xy))
            assert gaps.min() > 0.07  # nothing overlaps
            assert env.held_object() is None and not info["success"]
            assert all(isinstance(t, str) and isinstance(d, bool) for t, d in info["subgoals"])
            assert info["reward_terms"]["success"] == 0.0
            phrasings.add(obs["instruction"].split(" the ")[0])
            colors |= {o.color for o in objects}
        assert len(phrasings) >= 2 and len(colors) >= 4
    finally:
        env.close()


def test_place_success_and_predicates():
    env = make("place", terminate_on_success=False)
    try:
        env.reset(seed=4)
        block, bowl = env.episode.goal["block"], env.episode.goal["bowl"]
        assert not predicates.is_in(env, block, bowl)
        teleport(env, block, env.object_position(bowl) + [0.0, 0.0, 0.004 + BLOCK_HALF])
        assert predicates.is_in(env, block, bowl) and env.task.success(env)
        assert env.task.reward_terms(env)["success"] == 1.0
    finally:
        env.close()


def test_stack_all_subgoals_follow_the_tower():
    env = make("stack_all")
    try:
        env.reset(seed=2)
        blocks = env.episode.goal["blocks"]
        assert [d for _, d in env.task.subgoals(env)] == [False, False]
        base = env.object_position(blocks[0])
        teleport(env, blocks[1], base + [0.0, 0.0, 2 * BLOCK_HALF])
        assert predicates.is_on(env, blocks[1], blocks[0])
        assert [d for _, d in env.task.subgoals(env)] == [True, False]
        teleport(env, blocks[2], base + [0.0, 0.0, 4 * BLOCK_HALF])
        assert env.task.success(env)
    finally:
        env.close()


def test_sort_by_color_subgoals_name_blocks_and_bowls():
    env = make("sort_by_color")
    try:
        env.reset(seed=0)
        names = {o.name for o in env.scene_objects()}
        for text, done in env.task.subgoals(env):
            block, bowl = text.split(" in ")
            assert block in names and bowl in names and block.split()[0] == bowl.split()[0] and not done
    finally:
        env.close()


def test_push_success_needs_displacement_in_the_named_direction():
    env = make("push", terminate_on_success=False)
    try:
        env.reset(seed=1)
        goal = env.episode.goal
        start = np.array(goal["start"])
        vec = np.array(goal["vector"])
        teleport(env, goal["target"], [*(start - 0.08 * vec), BLOCK_HALF])
        assert not env.task.success(env)
        teleport(env, goal["target"], [*(start + 0.08 * vec), BLOCK_HALF])
        assert env.task.success(env)
    finally:
        env.close()


def test_unknown_object_names_are_listed():
    env = make("pick")
    try:
        env.reset(seed=0)
        with pytest.raises(KeyError, match="objects"):
            env.object_position("pink elephant")
    finally:
        env.close()


def test_sim_registry_builds_tabletop_envs():
    assert "tabletop/pick" in registry.all_tasks(("tabletop",))
    assert registry.resolve_tasks("tabletop/long") == [
        "tabletop/put_all_in_bowl", "tabletop/stack_all", "tabletop/sort_by_color"]
    env = registry.make_env("tabletop/touch", seed=0, cameras=("wrist",), image_size=24)
    try:
        obs, _ = env.reset()
        assert obs["images"]["wrist"].shape == (24, 24, 3)
    finally:
        env.close()
