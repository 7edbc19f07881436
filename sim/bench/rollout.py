"""Episodes: k envs of one task stepped in lockstep (k = 1 is the plain case), one record each.

Every env gets an `ActionChunkExecutor` (policies/base.py) that turns chunks into per-step actions.
The executors either wrap one policy per env, or, when a shared policy has
`predict_action_chunk_batch(list_of_obs) -> list of (H, A)`, a `_Slot` each: a slot has no chunk of its
own, so it raises `_ChunkRequest`; the loop gathers the envs that asked, makes one batched call, hands
each slot its chunk and calls the executor again. `ActionChunkExecutor` calls the policy before it
touches its own state, so the second call replays the step exactly (tests/sim/test_bench_batch.py).

Optional policy hooks: `seed(episode_seed)` before each episode and `episode_metrics() -> dict` after
it (merged into the record). With a shared batched policy `seed` gets the group's first episode seed and
`episode_metrics` is not called: one object plays several episodes at once, so it has no per-episode
answer.

Failures are data, not crashes: a policy that raises ends that episode with status "policy_error" and
its traceback, an env that raises or reports `info["error"]` (physics blow-up) ends it with
"env_error"; the other envs go on. Recording (video frames) is an observer, not a branch in the loop.
"""

from __future__ import annotations

import time
import traceback
from typing import Any, Protocol, Sequence

import numpy as np

from policies.base import ActionChunkExecutor, Policy


class Observer(Protocol):
    """Sees one env's episode: the reset observation, every later one, and the finished record."""

    def on_obs(self, obs: dict[str, Any]) -> None: ...

    def on_end(self, record: dict[str, Any]) -> None: ...


class _ChunkRequest(Exception):
    """Raised by a `_Slot` that has no chunk ready: the loop must make the batched call."""


class _Slot:
    """Stands in for the shared batched policy inside one env's executor."""

    def __init__(self) -> None:
        self.ready: np.ndarray | None = None

    def reset(self, instruction: str) -> None:
        """The shared policy is reset once per group by the loop, not once per env."""

    def predict_action_chunk(self, obs: dict[str, Any]) -> np.ndarray:
        if self.ready is None:
            raise _ChunkRequest
        chunk, self.ready = self.ready, None
        return chunk


def _seed_policy(policy: Any, seed: int) -> None:
    """Optional hook: policies with randomness (`random`, sampling VLAs) reseed per episode, so an
    episode's actions do not depend on which episodes the worker ran before."""
    if hasattr(policy, "seed"):
        policy.seed(seed)


class _Episode:
    """Book-keeping of one env's episode inside the lockstep loop."""

    def __init__(self, task_id: str, index: int, seed: int, observer: Observer | None):
        self.record: dict[str, Any] = {"task": task_id, "episode": index, "seed": seed, "status": "ok",
                                       "success": False, "steps": 0, "return": 0.0, "clipped": 0,
                                       "error": None, "metrics": {}}
        self.observer = observer
        self.obs: dict[str, Any] | None = None
        self.done = False
        self.t0 = time.perf_counter()

    def see(self, obs: dict[str, Any]) -> None:
        self.obs = obs
        if self.observer is not None:
            self.observer.on_obs(obs)

    def fail(self, status: str) -> None:
        self.record["status"], self.record["error"], self.done = status, traceback.format_exc(), True

    def step(self, env: Any, action: np.ndarray) -> None:
        try:
            obs, reward, terminated, truncated, info = env.step(action)
        except Exception:  # noqa: BLE001 - recorded with its traceback; the run goes on
            self.fail("env_error")
            return
        rec = self.record
        rec["steps"] += 1
        rec["return"] += float(reward)
        rec["clipped"] += int(info.get("clipped", 0))
        rec["success"] = rec["success"] or bool(info.get("success", False))
        if info.get("error"):
            rec["status"], rec["error"], self.done = "env_error", str(info["error"]), True
            return
        self.see(obs)
        self.done = bool(terminated or truncated)


def _actions(eps: list[_Episode], executors: list[ActionChunkExecutor], slots: list[_Slot] | None,
             shared: Any) -> dict[int, np.ndarray]:
    """This step's action for every running env; envs whose policy raised are marked failed."""
    actions, pending = {}, []
    for i, ep in enumerate(eps):
        if ep.done:
            continue
        try:
            actions[i] = executors[i](ep.obs)
        except _ChunkRequest:
            pending.append(i)
        except Exception:  # noqa: BLE001 - a policy bug ends its episode, recorded
            ep.fail("policy_error")
    if pending:
        try:
            chunks = shared.predict_action_chunk_batch([eps[i].obs for i in pending])
            if len(chunks) != len(pending):
                raise ValueError(f"predict_action_chunk_batch returned {len(chunks)} chunks for {len(pending)} obs")
        except Exception:  # noqa: BLE001 - the batched call failed for every env in it
            for i in pending:
                eps[i].fail("policy_error")
            return actions
        for i, chunk in zip(pending, chunks):
            slots[i].ready = chunk
            try:
                actions[i] = executors[i](eps[i].obs)
            except Exception:  # noqa: BLE001
                eps[i].fail("policy_error")
    return actions


def run_group(envs: Sequence[Any], policies: Sequence[Policy] | None, shared: Any, task_id: str,
              indices: Sequence[int], seeds: Sequence[int], executor_kwargs: dict[str, Any],
              observers: Sequence[Observer | None]) -> list[dict[str, Any]]:
    """Run one episode per env in lockstep and return their records (in the order of `indices`).

    Exactly one of `policies` (one per env) and `shared` (a policy with predict_action_chunk_batch)
    is given. Each record: task, episode, seed, status ("ok" | "policy_error" | "env_error"),
    success (ever reached), steps, return, clipped (count of clipped action entries), error
    (traceback or message), metrics (from the policy's optional `episode_metrics()`), wall_s.
    """
    slots = [_Slot() for _ in envs] if shared is not None else None
    inner = slots if shared is not None else policies
    eps = [_Episode(task_id, i, s, o) for i, s, o in zip(indices, seeds, observers)]
    executors = [ActionChunkExecutor(p, action_dim=env.action_space.shape[0], **executor_kwargs)
                 for p, env in zip(inner, envs)]
    for k, (env, ep, ex) in enumerate(zip(envs, eps, executors)):
        try:
            obs, _ = env.reset(seed=ep.record["seed"])
        except Exception:  # noqa: BLE001
            ep.fail("env_error")
            continue
        ep.record["instruction"] = obs["instruction"]
        ep.see(obs)
        try:
            if shared is None:
                _seed_policy(policies[k], ep.record["seed"])
            ex.reset(obs["instruction"])
        except Exception:  # noqa: BLE001
            ep.fail("policy_error")
    if shared is not None:
        try:
            _seed_policy(shared, seeds[0])
            shared.reset(eps[0].record.get("instruction", ""))
        except Exception:  # noqa: BLE001 - every env of the group runs this policy
            for ep in eps:
                if not ep.done:
                    ep.fail("policy_error")
    while not all(ep.done for ep in eps):
        for i, action in _actions(eps, executors, slots, shared).items():
            eps[i].step(envs[i], action)
    return [_finish(ep, policies[k] if shared is None else None) for k, ep in enumerate(eps)]


def _plain(value: Any) -> Any:
    """A metric value as JSON: numpy scalars become Python ones, NaN/inf become None (not JSON)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value if isinstance(value, (bool, int, float, str, type(None))) else str(value)


def _finish(ep: _Episode, policy: Any) -> dict[str, Any]:
    rec = ep.record
    if policy is not None and hasattr(policy, "episode_metrics"):
        try:
            rec["metrics"] = {str(k): _plain(v) for k, v in dict(policy.episode_metrics()).items()}
        except Exception:  # noqa: BLE001 - metrics are extra; the episode result stands
            rec["metrics"] = {"metrics_error": traceback.format_exc(limit=3)}
    rec["return"] = _plain(float(rec["return"]))
    rec["wall_s"] = round(time.perf_counter() - ep.t0, 4)
    if ep.observer is not None:
        ep.observer.on_end(rec)
    return rec
