"""The planner loop in the MuJoCo tabletop: refusals without moving, re-planning after an injected skill
failure, the retry limit, and (slow) a long-horizon task end to end with SmolLM2 and scripted skills."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
pytest.importorskip("mujoco")

from policies.saycan.affordances import GeometricAffordance  # noqa: E402
from saycan_helpers import tiny_random_planner  # noqa: E402
from policies.saycan.policy import LoopConfig, SayCanPolicy  # noqa: E402
from policies.saycan.rollout import run_command, trace_table  # noqa: E402
from policies.saycan.skills import ScriptedSkillExecutor  # noqa: E402
from sim.registry import make_env  # noqa: E402


@pytest.fixture(scope="module")
def tiny_planner():
    return tiny_random_planner(max_positions=8192)


@pytest.fixture
def env():
    e = make_env("tabletop/put_all_in_bowl", seed=0, cameras=("front",), image_size=32, terminate_on_success=False)
    yield e
    e.close()


class FailingExecutor:
    """Injects failures: the first `fail_first` skills end at once without moving (then scripted)."""

    def __init__(self, env, fail_first: int):
        self.inner = ScriptedSkillExecutor(env)
        self.fail_left = fail_first
        self.failing = False
        self.starts = []

    def start(self, skill):
        self.starts.append(skill.text)
        self.failing = self.fail_left > 0
        self.fail_left -= 1
        if not self.failing:
            self.inner.start(skill)

    def predict_action_chunk(self, obs):
        if self.failing:
            raise AssertionError("a failed skill must not be stepped")
        return self.inner.predict_action_chunk(obs)

    @property
    def done(self):
        return self.failing or self.inner.done


def test_refuses_bad_commands_without_moving(env, tiny_planner):
    obs, _ = env.reset(seed=0)
    policy = SayCanPolicy(env, tiny_planner, ScriptedSkillExecutor(env), GeometricAffordance())
    for command in ("", "make me a sandwich", "put the cyan block in the bowl"):
        start = env.unwrapped.ee_position().copy()
        result = run_command(env, policy, obs, command, max_env_steps=50)
        assert result.env_steps == 0 and policy.stop_reason.startswith("refused")
        assert result.trace == [] and np.allclose(env.unwrapped.ee_position(), start)
        action = policy.predict_action_chunk(obs)
        assert action.shape == (1, 7) and np.all(action[0, :6] == 0)  # holds still


def test_replans_after_an_injected_failure(env, tiny_planner):
    obs, _ = env.reset(seed=0)
    executor = FailingExecutor(env, fail_first=1)
    policy = SayCanPolicy(env, tiny_planner, executor, GeometricAffordance(), LoopConfig(max_plan_steps=3))
    result = run_command(env, policy, obs, obs["instruction"], max_env_steps=400)
    assert result.trace[0]["outcome"] is False
    assert len(result.trace) >= 2  # it planned again after the failure
    assert policy.history[0].success is False
    assert "Success: no." in policy.history[0].line()
    prompt = tiny_planner.prompt(policy.command, policy.history[:1], policy._start_text)
    # Inner Monologue: the failure and the feedback after it are in the next step's prompt
    assert prompt.endswith(f"Last step: failed.\n{policy.history[0].feedback}\nRobot:")
    assert "step 0" in trace_table(result.trace)


def test_retry_limit_stops_a_skill_that_keeps_failing(env, tiny_planner):
    obs, _ = env.reset(seed=0)
    executor = FailingExecutor(env, fail_first=10**6)
    policy = SayCanPolicy(env, tiny_planner, executor, GeometricAffordance(),
                          LoopConfig(max_plan_steps=40, retry_limit=2))
    result = run_command(env, policy, obs, obs["instruction"], max_env_steps=100)
    counts = {s: executor.starts.count(s) for s in executor.starts}
    assert max(counts.values()) <= 2  # no skill is tried more than retry_limit times in a row
    assert policy.finished and result.env_steps == 0  # every skill failed at once: the arm never moved
    assert policy.stop_reason in ("no feasible skill", "step budget: 40 planning steps used")
    assert policy.episode_metrics()["execution_success"] is False


@pytest.mark.slow
def test_stack_all_end_to_end_with_smollm2_and_scripted_skills():
    from policies.saycan import make

    env = make_env("tabletop/stack_all", seed=0, cameras=("front",), image_size=32, terminate_on_success=False)
    try:
        obs, _ = env.reset(seed=0)
        policy = make(env, "tabletop/stack_all")
        result = run_command(env, policy, obs, obs["instruction"], max_env_steps=1200)
        print(trace_table(result.trace))
        assert result.metrics["execution_success"], result.metrics
        assert result.metrics["plan_success"], result.metrics
        assert result.trace[-1]["chosen"] == "done"
    finally:
        env.close()
