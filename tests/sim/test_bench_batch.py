"""The lockstep rollout (sim.bench.rollout.run_group): batched inference equals per-env inference,
and env failures end only their own episode."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from sim.bench.rollout import run_group

EXEC = {"replan_every": 2, "ensemble": False, "ensemble_decay": 0.01}


class PointEnv(gym.Env):
    """A 2-D point that moves by the action; success within 0.05 of the goal; `blow_up_at` fakes a
    physics blow-up (info["error"]) and `raise_at` an exception from step()."""

    def __init__(self, blow_up_at: int | None = None, raise_at: int | None = None, max_steps: int = 40):
        self.action_space = gym.spaces.Box(-0.1, 0.1, (2,), np.float32)
        self.blow_up_at, self.raise_at, self.max_steps = blow_up_at, raise_at, max_steps

    def _obs(self):
        return {"images": {"cam": np.zeros((4, 4, 3), np.uint8)}, "state": self.pos.astype(np.float32),
                "instruction": "go to the goal"}

    def reset(self, *, seed=None, options=None):
        rng = np.random.default_rng(seed)
        self.pos, self.goal, self.t = rng.uniform(-1, 1, 2), rng.uniform(-1, 1, 2), 0
        return self._obs(), {"success": False}

    def step(self, action):
        self.t += 1
        if self.t == self.raise_at:
            raise RuntimeError("env exploded")
        self.pos = self.pos + np.clip(action, -0.1, 0.1)
        info = {"success": bool(np.linalg.norm(self.pos - self.goal) < 0.05), "clipped": 0}
        if self.t == self.blow_up_at:
            info["error"] = "physics became unstable"
        reward = -float(np.linalg.norm(self.pos - self.goal))
        return self._obs(), reward, info["success"], self.t >= self.max_steps, info


class GoalSeeker:
    """Chunks of 3 steps toward a goal it reads from the env (privileged), H = 3."""

    def __init__(self, env):
        self.env, self.calls = env, 0

    def reset(self, instruction):
        pass

    def _chunk(self, env, obs):
        step = np.clip(env.goal - obs["state"], -0.1, 0.1)
        return np.repeat(step[None], 3, axis=0).astype(np.float32)  # (3, 2)

    def predict_action_chunk(self, obs):
        self.calls += 1
        return self._chunk(self.env, obs)


class BatchedGoalSeeker(GoalSeeker):
    """The same controller for many envs at once; records each batch size."""

    def __init__(self, envs):
        super().__init__(envs[0])
        self.envs, self.batches = envs, []

    def predict_action_chunk_batch(self, obs_list):
        self.batches.append(len(obs_list))
        # the obs carry no env id here; match by state (positions are distinct)
        by_state = {tuple(e.pos.astype(np.float32)): e for e in self.envs}
        return [self._chunk(by_state[tuple(o["state"])], o) for o in obs_list]


def _strip(records):
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in records]


def test_batched_equals_per_env_and_batches_calls():
    seeds = (11, 12, 13)
    envs = [PointEnv() for _ in seeds]
    per_env = run_group(envs, [GoalSeeker(e) for e in envs], None, "point/go", (0, 1, 2), seeds, EXEC,
                        [None] * 3)
    envs = [PointEnv() for _ in seeds]
    shared = BatchedGoalSeeker(envs)
    batched = run_group(envs, None, shared, "point/go", (0, 1, 2), seeds, EXEC, [None] * 3)
    assert _strip(batched) == _strip(per_env)
    assert all(r["success"] and r["status"] == "ok" for r in batched)
    steps = [r["steps"] for r in batched]
    assert max(shared.batches) == 3 and sum(shared.batches) == sum((s + 1) // 2 for s in steps)


def test_env_failures_end_only_their_episode():
    envs = [PointEnv(blow_up_at=3), PointEnv(raise_at=2), PointEnv()]
    recs = run_group(envs, [GoalSeeker(e) for e in envs], None, "point/go", (0, 1, 2), (1, 2, 3), EXEC, [None] * 3)
    assert recs[0]["status"] == "env_error" and recs[0]["error"] == "physics became unstable"
    assert recs[0]["steps"] == 3
    assert recs[1]["status"] == "env_error" and "env exploded" in recs[1]["error"]
    assert recs[2]["status"] == "ok" and recs[2]["success"]


def test_failing_batched_call_fails_its_envs():
    class Broken(BatchedGoalSeeker):
        def predict_action_chunk_batch(self, obs_list):
            raise RuntimeError("batch broke")

    envs = [PointEnv(), PointEnv()]
    recs = run_group(envs, None, Broken(envs), "point/go", (0, 1), (1, 2), EXEC, [None] * 2)
    assert [r["status"] for r in recs] == ["policy_error"] * 2 and "batch broke" in recs[0]["error"]


class Homing:
    """Moves the Meta-World hand toward a fixed point from the state alone; chunks of H = 3."""

    target = np.array([0.05, 0.7, 0.2])

    def reset(self, instruction):
        pass

    def predict_action_chunk(self, obs):
        delta = np.clip(10 * (self.target - obs["state"][:3]), -1, 1)
        return np.repeat(np.append(delta, -1.0)[None], 3, axis=0).astype(np.float32)  # (3, 4)


class BatchedHoming(Homing):
    def __init__(self):
        self.batches = []

    def predict_action_chunk(self, obs):
        raise AssertionError("with a batched policy the runner must use predict_action_chunk_batch")

    def predict_action_chunk_batch(self, obs_list):
        self.batches.append(len(obs_list))
        return [Homing.predict_action_chunk(self, o) for o in obs_list]


@pytest.mark.parametrize("settings", [{"replan_every": 2, "ensemble": False, "ensemble_decay": 0.0},
                                      {"replan_every": None, "ensemble": True, "ensemble_decay": 0.1}])
def test_metaworld_lockstep_batch_equals_per_env(settings):
    pytest.importorskip("metaworld")
    from sim.registry import make_env

    envs = [make_env("metaworld/push-v3", image_size=16, max_episode_steps=12) for _ in range(2)]
    try:
        shared = BatchedHoming()
        batched = run_group(envs, None, shared, "metaworld/push-v3", (0, 1), (5, 6), settings, [None] * 2)
        per_env = run_group(envs, [Homing() for _ in envs], None, "metaworld/push-v3", (0, 1), (5, 6),
                            settings, [None] * 2)
    finally:
        for env in envs:
            env.close()
    assert _strip(batched) == _strip(per_env)
    assert all(r["steps"] == 12 and r["status"] == "ok" for r in batched)
    assert shared.batches == [2] * (12 if settings["ensemble"] else 6)
