"""Scripted experts and primitives: a few seeds per task here; the 50-seed sweep is marked slow."""

import numpy as np
import pytest

from sim.tabletop import family, predicates
from sim.tabletop.env import TabletopEnv
from sim.tabletop.experts import Pick, Place, PrimitivePolicy, Push, Touch, make_expert
from sim.tabletop.tasks import ALL_TASKS


def run_episode(env, policy, seed):
    """Roll `policy` out for one episode; returns the final info dict."""
    obs, info = env.reset(seed=seed)
    policy.reset(obs["instruction"])
    while True:
        obs, _, terminated, truncated, info = env.step(policy.predict_action_chunk(obs)[0])
        if terminated or truncated:
            return info


def success_rate(task, seeds):
    env = family.make(task, cameras=("front",), image_size=16)
    try:
        expert = family.make_expert(env)
        return np.mean([run_episode(env, expert, s)["success"] for s in seeds])
    finally:
        env.close()


@pytest.mark.parametrize("task", sorted(ALL_TASKS))
def test_expert_succeeds_on_a_few_seeds(task):
    assert success_rate(task, range(100, 103)) == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(ALL_TASKS))
def test_expert_succeeds_95_percent_over_50_seeds(task):
    assert success_rate(task, range(50)) >= 0.95


@pytest.fixture
def place_env():
    env = TabletopEnv("place", seed=3, cameras=("front",), image_size=16)
    yield env
    env.close()


def drive(env, policy, max_steps=200):
    obs = env._last_obs
    for _ in range(max_steps):
        if policy.done:
            return
        env.step(policy.predict_action_chunk(obs)[0])
    raise AssertionError("primitives did not finish")


def test_pick_then_place_from_fresh_reset(place_env):
    place_env.config.terminate_on_success = False
    place_env.reset()
    goal = place_env.episode.goal
    pick = PrimitivePolicy(place_env, [Pick(goal["block"])])
    pick.reset("")
    assert not pick.done
    drive(place_env, pick)
    assert place_env.held_object() == goal["block"] and predicates.is_held(place_env, goal["block"])
    place = PrimitivePolicy(place_env, [Place(goal["bowl"])])
    place.reset("")
    drive(place_env, place)
    assert place_env.held_object() is None
    assert predicates.is_in(place_env, goal["block"], goal["bowl"])
    assert place_env.task.success(place_env)


def test_primitives_work_from_where_the_last_left_off(place_env):
    """Touch one block, push another, then pick the first: each starts wherever the arm was left."""
    place_env.config.terminate_on_success = False
    place_env.reset()
    blocks = [o.name for o in place_env.scene_objects() if o.kind == "block"]
    policy = PrimitivePolicy(place_env, [Touch(blocks[0]), Pick(blocks[0])])
    policy.reset("")
    drive(place_env, policy)
    assert blocks[0] in place_env.touched_objects()
    assert place_env.held_object() == blocks[0]


def test_push_moves_block_along_direction(place_env):
    place_env.config.terminate_on_success = False
    place_env.reset()
    block = place_env.episode.goal["block"]
    start = place_env.object_position(block)
    name = "right" if start[1] < 0 else "left"  # the viewer's right is the world's +y
    direction = (0.0, 1.0) if start[1] < 0 else (0.0, -1.0)
    policy = PrimitivePolicy(place_env, [Push(block, name, 0.08)])
    policy.reset("")
    drive(place_env, policy)
    moved = place_env.object_position(block) - start
    assert moved[:2] @ np.array(direction) > 0.05


def test_expert_needs_ee_delta_mode():
    env = TabletopEnv("pick", cameras=("front",), image_size=16, control_mode="joint")
    try:
        with pytest.raises(ValueError, match="ee_delta"):
            make_expert(env)
    finally:
        env.close()


def test_push_rejects_bad_directions():
    with pytest.raises(ValueError, match="direction"):
        Push("red block", (0.0, 0.0))
    with pytest.raises(ValueError, match="upward"):
        Push("red block", "upward")


def test_place_on_a_block_after_wandering_while_holding():
    """Place works from wherever the arm was left, with a block in hand: here onto another block."""
    env = TabletopEnv("stack", seed=5, cameras=("front",), image_size=16, terminate_on_success=False)
    try:
        env.reset()
        top, bottom = env.episode.goal["top"], env.episode.goal["bottom"]
        pick = PrimitivePolicy(env, [Pick(top)])
        pick.reset("")
        drive(env, pick)
        for _ in range(4):  # carry it off somewhere else, lower
            env.step(np.array([-0.02, 0.03, -0.015, 0.0, 0.0, 0.1, -1.0]))
        assert env.held_object() == top
        place = PrimitivePolicy(env, [Place(bottom)])
        place.reset("")
        drive(env, place)
        assert predicates.is_on(env, top, bottom)
    finally:
        env.close()


def test_grasp_yaw_turns_the_palm_away_from_a_tower():
    """With a two-block tower beside the target along the finger axis, the grasp turns a quarter turn."""
    import mujoco

    from sim.tabletop.experts import clear_yaw

    env = TabletopEnv("stack_all", seed=0, cameras=(), terminate_on_success=False)
    try:
        env.reset()
        phys = env.physics
        a, b, c = env.episode.goal["blocks"]
        # (seed 0 has a bowl near (0.54, 0.02): keep clear of it)
        for name, xyz in ((a, (0.35, -0.2, 0.02)), (b, (0.35, -0.08, 0.02)), (c, (0.35, -0.08, 0.06))):
            adr = phys.block_qadr[phys._lookup(name)[1]]
            phys.data.qpos[adr:adr + 7] = [*xyz, 1, 0, 0, 0]
        mujoco.mj_forward(phys.model, phys.data)
        assert abs(abs(clear_yaw(env, a)) - np.pi / 2) < 1e-6
        for name, xyz in ((b, (0.6, 0.2, 0.02)), (c, (0.6, -0.2, 0.02))):  # nothing near: no reason to turn
            adr = phys.block_qadr[phys._lookup(name)[1]]
            phys.data.qpos[adr:adr + 3] = xyz
        mujoco.mj_forward(phys.model, phys.data)
        assert abs(clear_yaw(env, a)) < 1e-6
    finally:
        env.close()
