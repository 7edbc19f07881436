"""policies/baselines.py and policies/scripted.py through the policy registry."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from policies.baselines import make_noop, make_random
from policies.registry import make_policy


class BoxEnv:
    """Just an action space, like the tabletop's 7-D ee-delta one."""

    def __init__(self, low=-1.0, high=1.0, dim=7):
        self.action_space = gym.spaces.Box(low, high, (dim,), np.float32)


def test_random_is_uniform_in_the_box_and_seeded():
    env = BoxEnv(low=np.array([-1, -2, 0], np.float32), high=np.array([1, 2, 0.5], np.float32), dim=3)
    a = make_random(env, "x/y", seed=3)
    chunks = np.concatenate([a.predict_action_chunk({}) for _ in range(500)])  # (500, 3)
    assert chunks.dtype == np.float32 and chunks.shape == (500, 3)
    assert np.all(chunks >= env.action_space.low) and np.all(chunks <= env.action_space.high)
    assert chunks[:, 1].min() < -1.5 and chunks[:, 1].max() > 1.5  # covers the range
    b = make_random(env, "x/y", seed=3)
    np.testing.assert_array_equal(b.predict_action_chunk({}), chunks[:1])
    assert not np.array_equal(make_random(env, "x/y", seed=4).predict_action_chunk({}), chunks[:1])


def test_random_reseeds_per_episode():
    a, b = make_random(BoxEnv(), "x/y", seed=0), make_random(BoxEnv(), "x/y", seed=0)
    a.predict_action_chunk({})  # a has used its stream, b has not
    a.seed(11)
    b.seed(11)
    np.testing.assert_array_equal(a.predict_action_chunk({}), b.predict_action_chunk({}))
    with pytest.raises(ValueError, match="horizon"):
        make_random(BoxEnv(), "x/y", horizon=0)
    assert make_random(BoxEnv(), "x/y", horizon=5).predict_action_chunk({}).shape == (5, 7)


def test_noop_holds_still():
    noop = make_noop(BoxEnv(), "x/y")
    noop.reset("anything")
    np.testing.assert_array_equal(noop.predict_action_chunk({}), np.zeros((1, 7), np.float32))
    shifted = make_noop(BoxEnv(low=0.5, high=1.0, dim=2), "x/y")  # zero is outside: clipped into the box
    np.testing.assert_array_equal(shifted.predict_action_chunk({}), [[0.5, 0.5]])
    with pytest.raises(ValueError, match="bounded"):
        make_noop(BoxEnv(low=-np.inf, high=np.inf), "x/y")


def test_registry_builds_baselines_and_metaworld_expert():
    pytest.importorskip("metaworld")
    from sim.registry import make_env

    env = make_env("metaworld/reach-v3", image_size=16, max_episode_steps=5)
    try:
        noop = make_policy("noop", env, "metaworld/reach-v3")
        np.testing.assert_array_equal(noop.predict_action_chunk({}), [[0, 0, 0, -1]])  # gripper stays open
        obs, _ = env.reset(seed=0)
        start = obs["state"]
        for _ in range(5):
            obs, *_ = env.step(noop.predict_action_chunk(obs)[0])
        assert np.abs(obs["state"][:3] - start[:3]).max() < 2e-3  # the hand did not travel
        expert = make_policy("scripted", env, "metaworld/reach-v3")
        assert expert.predict_action_chunk(obs).shape == (1, 4)
        with pytest.raises(KeyError, match="valid policies"):
            make_policy("nope", env, "metaworld/reach-v3")
    finally:
        env.close()
