"""policies/base.py: chunk validation and the ActionChunkExecutor (whole chunks, re-planning, ensembling)."""

from __future__ import annotations

import numpy as np
import pytest

from policies.base import ActionChunkExecutor, Policy, check_chunk


class CountingPolicy:
    """Returns chunk (H, 2) whose row j is [call index, j]: which call and which step of it produced an action."""

    def __init__(self, horizon: int = 4):
        self.horizon, self.calls, self.instructions = horizon, 0, []

    def reset(self, instruction: str) -> None:
        self.instructions.append(instruction)

    def predict_action_chunk(self, obs):
        chunk = np.stack([np.full(self.horizon, self.calls), np.arange(self.horizon)], axis=1).astype(np.float32)
        self.calls += 1
        return chunk  # (H, 2)


def test_check_chunk_shapes_and_values():
    assert check_chunk([1.0, 2.0]).shape == (1, 2)
    assert check_chunk(np.zeros((3, 4)), action_dim=4).dtype == np.float32
    with pytest.raises(ValueError, match="expected A=7"):
        check_chunk(np.zeros((3, 4)), action_dim=7)
    with pytest.raises(ValueError, match="shape"):
        check_chunk(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="shape"):
        check_chunk(np.zeros((0, 4)))
    with pytest.raises(ValueError, match=r"\[\[1, 2\]\]"):
        check_chunk(np.array([[0, 0, 0], [0, 0, np.nan]]))
    assert isinstance(CountingPolicy(), Policy)


def test_whole_chunks_play_out_before_the_next_query():
    policy = CountingPolicy(horizon=3)
    ex = ActionChunkExecutor(policy)
    ex.reset("go")
    got = [tuple(ex({})) for _ in range(7)]
    assert got == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0)]
    assert policy.calls == 3 and policy.instructions == ["go"]


def test_replan_every_k_uses_the_first_k_actions():
    policy = CountingPolicy(horizon=4)
    ex = ActionChunkExecutor(policy, replan_every=2)
    ex.reset("go")
    got = [tuple(ex({})) for _ in range(6)]
    assert got == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    closed = ActionChunkExecutor(CountingPolicy(horizon=4), replan_every=1)
    closed.reset("go")
    assert [tuple(closed({})) for _ in range(3)] == [(0, 0), (1, 0), (2, 0)]


def test_reset_drops_the_queued_chunk():
    policy = CountingPolicy(horizon=5)
    ex = ActionChunkExecutor(policy)
    ex.reset("a")
    ex({})
    ex.reset("b")
    assert tuple(ex({})) == (1, 0)  # a fresh query, not step 1 of the old chunk
    assert policy.instructions == ["a", "b"]


def test_ensemble_averages_overlapping_chunks_with_exponential_weights():
    policy = CountingPolicy(horizon=3)
    decay = 0.5
    ex = ActionChunkExecutor(policy, ensemble=True, ensemble_decay=decay)
    ex.reset("go")
    a0, a1, a2, a3 = (ex({}) for _ in range(4))
    assert policy.calls == 4  # one query per step
    np.testing.assert_allclose(a0, [0, 0])
    # step 1: chunk 0 (age 1, its row 1) and chunk 1 (age 0, its row 0)
    w = np.exp(decay * np.array([1.0, 0.0]))
    np.testing.assert_allclose(a1, (w[0] * np.array([0, 1]) + w[1] * np.array([1, 0])) / w.sum(), rtol=1e-6)
    # step 3: chunk 0 has run out (H = 3); chunks 1, 2, 3 with ages 2, 1, 0
    w = np.exp(decay * np.array([2.0, 1.0, 0.0]))
    rows = np.array([[1, 2], [2, 1], [3, 0]], dtype=np.float64)
    np.testing.assert_allclose(a3, (w[:, None] * rows).sum(0) / w.sum(), rtol=1e-6)
    assert a2.dtype == np.float32


def test_executor_rejects_bad_settings_and_chunks():
    with pytest.raises(ValueError, match="replan_every"):
        ActionChunkExecutor(CountingPolicy(), replan_every=0)

    class NaNPolicy(CountingPolicy):
        def predict_action_chunk(self, obs):
            return np.full((2, 2), np.nan, np.float32)

    ex = ActionChunkExecutor(NaNPolicy(), action_dim=2)
    ex.reset("x")
    with pytest.raises(ValueError, match="non-finite"):
        ex({})
    wrong = ActionChunkExecutor(CountingPolicy(), action_dim=3)
    wrong.reset("x")
    with pytest.raises(ValueError, match="expected A=3"):
        wrong({})
