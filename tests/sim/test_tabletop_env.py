"""TabletopEnv: every task makes, resets, steps and renders; determinism; action checks; IK; joint mode."""

import gymnasium
import numpy as np
import pytest

from sim.tabletop import family, register
from sim.tabletop.env import STATE_NAMES, TabletopEnv
from sim.tabletop.tasks import ALL_TASKS


@pytest.fixture
def pick_env():
    env = TabletopEnv("pick", seed=0, cameras=("front",), image_size=48)
    yield env
    env.close()


def test_family_matches_registry():
    assert family.TASKS == tuple(ALL_TASKS)
    assert set(family.SUITES["all"]) == set(ALL_TASKS)
    for tasks in family.SUITES.values():
        assert set(tasks) <= set(ALL_TASKS)


@pytest.mark.parametrize("task", sorted(ALL_TASKS))
def test_task_makes_resets_steps_renders(task):
    env = family.make(task, seed=1, image_size=40, render_mode="rgb_array")
    try:
        obs, info = env.reset()
        assert set(obs) == {"images", "state", "instruction"}
        assert set(obs["images"]) == {"front", "wrist"}
        assert isinstance(obs["instruction"], str) and obs["instruction"]
        assert isinstance(info["success"], bool)
        for _ in range(3):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert np.isfinite(reward) and "error" not in info
        for img in obs["images"].values():
            assert img.dtype == np.uint8 and img.shape == (40, 40, 3)
            assert img.mean() > 10 and img.std() > 5  # not black, not flat
        assert obs["state"].dtype == np.float32 and obs["state"].shape == (len(STATE_NAMES),)
        assert np.all(np.isfinite(obs["state"]))
        assert env.render().shape == (40, 40, 3)
        assert obs in env.observation_space
        names = [o.name for o in env.unwrapped.scene_objects()]
        assert len(names) == len(set(names)) and all(n.endswith(("block", "bowl")) for n in names)
    finally:
        env.close()


def test_same_seed_same_episode():
    runs = []
    for _ in range(2):
        env = TabletopEnv("place", seed=7, image_size=32)
        obs, _ = env.reset()
        frames = [obs]
        for _ in range(3):
            frames.append(env.step(np.array([0.01, -0.01, 0.0, 0.0, 0.0, 0.05, -1.0]))[0])
        env.close()
        runs.append(frames)
    for a, b in zip(*runs):
        assert a["instruction"] == b["instruction"]
        np.testing.assert_array_equal(a["state"], b["state"])
        for cam in a["images"]:
            np.testing.assert_array_equal(a["images"][cam], b["images"][cam])


def test_different_seeds_differ(pick_env):
    s0 = [o.position for o in (pick_env.reset(seed=0), pick_env.scene_objects())[1]]
    s1 = [o.position for o in (pick_env.reset(seed=1), pick_env.scene_objects())[1]]
    assert not np.allclose(s0[0], s1[0])


@pytest.mark.parametrize("bad", [np.zeros(6), np.zeros((1, 7)), [np.nan] * 7, [0, 0, np.inf, 0, 0, 0, 1]])
def test_bad_actions_raise(pick_env, bad):
    pick_env.reset()
    with pytest.raises(ValueError, match="shape|non-finite"):
        pick_env.step(bad)


def test_out_of_range_actions_clipped_and_counted(pick_env):
    pick_env.reset()
    _, _, _, _, info = pick_env.step(np.array([0.5, 0.0, -0.5, 0.0, 0.0, 0.0, 3.0]))
    assert info["clipped"] == 3 and info["clipped_total"] == 3
    _, _, _, _, info = pick_env.step(np.zeros(7))
    assert info["clipped"] == 0 and info["clipped_total"] == 3


def test_ik_tracks_commanded_delta(pick_env):
    pick_env.reset()
    start = pick_env.ee_position()
    for _ in range(5):
        pick_env.step(np.array([0.02, -0.01, 0.01, 0.0, 0.0, 0.0, 1.0]))
    pick_env.step(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]))
    moved = pick_env.ee_position() - start
    np.testing.assert_allclose(moved, [0.10, -0.05, 0.05], atol=0.01)
    yaw0 = pick_env.physics.state()[5]
    for _ in range(3):
        pick_env.step(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 1.0]))
    pick_env.step(np.zeros(7))
    assert abs(pick_env.physics.state()[5] - yaw0 - 0.3) < 0.03


def test_joint_mode_reaches_targets():
    env = TabletopEnv("pick", seed=0, cameras=("wrist",), image_size=32, control_mode="joint")
    try:
        obs, _ = env.reset()
        assert env.action_names[0] == "joint1" and env.action_space.shape == (8,)
        q = obs["state"][7:14].astype(np.float64)
        target = q + np.array([0.2, -0.1, 0.0, 0.1, 0.0, 0.0, 0.2])
        for _ in range(5):
            obs, *_ = env.step(np.append(target, -1.0))
        np.testing.assert_allclose(obs["state"][7:14], target, atol=0.01)
        assert obs["state"][6] < 0.01  # gripper closed
    finally:
        env.close()


def test_time_limit_truncates():
    env = TabletopEnv("touch", seed=0, cameras=("front",), image_size=32, max_episode_steps=2)
    try:
        env.reset()
        assert not env.step(np.zeros(7))[3]
        assert env.step(np.zeros(7))[3]
    finally:
        env.close()


def test_physics_blowup_ends_episode(pick_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MuJoCo logs the warning to MUJOCO_LOG.TXT in the working directory
    pick_env.reset()
    pick_env.physics.data.qvel[:] = 1e12
    _, _, terminated, _, info = pick_env.step(np.zeros(7))
    assert terminated and ("unstable" in info["error"] or "NaN" in info["error"])


def test_gymnasium_registration_is_idempotent():
    register()
    register()
    env = gymnasium.make("vla/Tabletop-v0", task="touch", cameras=("front",), image_size=32)
    try:
        obs, _ = env.reset(seed=0)
        assert isinstance(obs["instruction"], str) and obs["instruction"]
    finally:
        env.close()


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="cameras"):
        TabletopEnv("pick", cameras=("side",))
    with pytest.raises(ValueError, match="task"):
        TabletopEnv("fly")
    with pytest.raises(ValueError, match="control_mode"):
        TabletopEnv("pick", control_mode="torque")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_passes_gymnasium_env_checker():
    from gymnasium.utils.env_checker import check_env

    env = TabletopEnv("place", seed=0, cameras=("front",), image_size=32, render_mode="rgb_array")
    try:
        check_env(env, skip_render_check=False)
    finally:
        env.close()


def test_noop_action_holds_the_arm_and_gripper():
    from sim.registry import make_env

    env = make_env("tabletop/touch", seed=3, cameras=())
    try:
        obs, _ = env.reset(seed=3)
        assert env.unwrapped.noop_action()[-1] == 1.0  # open after reset
        env.step(np.array([0, 0, 0, 0, 0, 0, -1], np.float32))  # close
        before = env.unwrapped.ee_position()
        noop = env.unwrapped.noop_action()
        assert noop[-1] == -1.0 and not noop[:6].any()
        for _ in range(5):
            env.step(noop)
        assert np.linalg.norm(env.unwrapped.ee_position() - before) < 5e-3
    finally:
        env.close()
