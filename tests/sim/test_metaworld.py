"""The Meta-World adapter: task list, contract, reproducible episodes, upright images, experts."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("metaworld")

from sim.metaworld import family  # noqa: E402
from sim.metaworld.render import upright  # noqa: E402
from sim.metaworld.tasks import MT10, TASKS  # noqa: E402
from sim.registry import make_env  # noqa: E402


def test_task_names_match_metaworld():
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS, MT10_V3

    assert set(TASKS) == set(ALL_V3_ENVIRONMENTS) and len(TASKS) == 50
    assert MT10 == tuple(MT10_V3)
    assert len(set(family.INSTRUCTIONS.values())) == 50  # every task has its own sentence
    assert family.SUITES == {"mt10": MT10, "mt50": TASKS}


@pytest.fixture
def env():
    e = make_env("metaworld/push-v3", image_size=48, cameras=("corner2", "topview"), max_episode_steps=30)
    yield e
    e.close()


def test_contract_and_checked_actions(env):
    obs, info = env.reset(seed=1)
    assert set(obs) == {"images", "state", "instruction"}
    assert obs["instruction"] == "push the puck to the goal"
    for cam in ("corner2", "topview"):
        assert obs["images"][cam].shape == (48, 48, 3) and obs["images"][cam].dtype == np.uint8
    assert obs["state"].dtype == np.float32 and obs["state"].shape == (4,) and np.all(np.isfinite(obs["state"]))
    assert env.observation_space.contains(obs)
    _, _, _, _, info = env.step(np.array([2.0, -3.0, 0.0, 0.5], np.float32))
    assert info["clipped"] == 2 and info["success"] is False
    with pytest.raises(ValueError, match="non-finite"):
        env.step(np.array([np.nan, 0, 0, 0]))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(7))
    steps, truncated = 1, False
    while not truncated:
        _, _, terminated, truncated, _ = env.step(np.zeros(4))
        steps += 1
        assert not terminated
    assert steps == 30


def test_seed_gives_same_episode(env):
    def rollout(seed):
        obs, info = env.reset(seed=seed)
        states = [obs["state"]]
        for _ in range(5):
            obs, *_ = env.step(np.array([0.3, -0.2, 0.1, 1.0]))
            states.append(obs["state"])
        return info["rand_vec"], np.stack(states), obs["images"]["corner2"]

    a, b, c = rollout(3), rollout(4), rollout(3)
    assert a[0] == c[0] and a[0] != b[0]
    np.testing.assert_array_equal(a[1], c[1])
    np.testing.assert_array_equal(a[2], c[2])


def test_bad_names_list_valid_ones():
    with pytest.raises(KeyError, match="reach-v3"):
        make_env("metaworld/reach-v9")
    with pytest.raises(ValueError, match="corner2"):
        make_env("metaworld/reach-v3", cameras=("nope",))


def test_corner_camera_rendered_upright(env):
    """The corrected corner2 image is the raw render rotated 180 degrees, and in it a point higher in
    the world appears higher in the image (smaller row), as for a level camera."""
    obs, _ = env.reset(seed=0)
    base = env.unwrapped
    raw = base._renderer.render_raw(base._env.data, "corner2")
    np.testing.assert_array_equal(obs["images"]["corner2"], raw[::-1, ::-1])
    np.testing.assert_array_equal(upright(raw, "topview"), raw)

    model, data = base._env.model, base._env.data
    cam = model.camera("corner2").id
    rot, pos = data.cam_xmat[cam].reshape(3, 3), data.cam_xpos[cam]

    def row_upright(point):
        c = rot.T @ (np.asarray(point) - pos)  # camera frame: x right, y up, looking down -z
        row_raw = 24 - 24 / np.tan(np.deg2rad(model.cam_fovy[cam]) / 2) * c[1] / -c[2]
        return 47 - row_raw  # the 180-degree rotation maps row r to H - 1 - r

    table, above = [0.0, 0.7, 0.0], [0.0, 0.7, 0.4]
    assert row_upright(above) < row_upright(table) - 5


@pytest.mark.parametrize("task", ["reach-v3", "drawer-open-v3"])
def test_expert_succeeds(task):
    env = make_env(f"metaworld/{task}", image_size=16, max_episode_steps=200)
    expert = family.make_expert(env)
    try:
        for seed in (0, 1):
            obs, _ = env.reset(seed=seed)
            expert.reset(obs["instruction"])
            done = False
            while not done:
                chunk = expert.predict_action_chunk(obs)
                assert chunk.shape == (1, 4) and chunk.dtype == np.float32
                obs, _, terminated, truncated, info = env.step(chunk[0])
                done = terminated or truncated
            assert info["success"], f"{task} seed {seed}: expert failed"
    finally:
        env.close()


def test_listing_imports_no_mujoco():
    import subprocess
    import sys

    code = ("import sys, sim.metaworld.family as f, sim.bench.cli; assert len(f.TASKS) == 50; "
            "print(sorted(m for m in ('mujoco', 'metaworld', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_every_task_makes_resets_and_steps(task):
    env = make_env(f"metaworld/{task}", image_size=16, cameras=("corner2", "gripperPOV"))
    try:
        obs, info = env.reset(seed=0)
        rng = np.random.default_rng(0)
        for _ in range(10):
            obs, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, 4))
            assert np.all(np.isfinite(obs["state"])) and np.isfinite(reward) and "error" not in info
        assert obs["images"]["gripperPOV"].shape == (16, 16, 3) and obs["instruction"] == family.INSTRUCTIONS[task]
    finally:
        env.close()
