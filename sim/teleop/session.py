"""The teleop loop: operator input -> env steps at the control rate -> frames into a dataset episode.

Each episode is the env's task (its instruction is the dataset task text). The operator ends it with a label:
success and failure are saved (the label goes into the per-frame feature `next.success`, True on the last
frame of a success, as LeRobot's datasets carry it), discard drops it. An episode that hits the env's time
limit without a label is saved as a failure. Views (Foxglove, a window) are callbacks, not branches in the loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from sim.teleop.keymap import Command, TeleopState, axes_to_action, keys_to_action
from vla.data.writer import DatasetWriter


class View(Protocol):
    def show(self, obs: dict[str, Any], action: np.ndarray, step: int, episode: int) -> None: ...
    def close(self) -> None: ...


def dataset_features(env: Any) -> dict[str, dict[str, Any]]:
    """LeRobot v3 features for the env's cameras, state and action, plus the operator's label."""
    space = env.observation_space
    feats: dict[str, dict[str, Any]] = {
        f"observation.images.{cam}": {"dtype": "video", "shape": list(box.shape), "names": ["height", "width", "channel"]}
        for cam, box in space["images"].spaces.items()}
    base = env.unwrapped
    feats["observation.state"] = {"dtype": "float32", "shape": [space["state"].shape[0]],
                                  "names": list(getattr(base, "state_names", [])) or None}
    feats["action"] = {"dtype": "float32", "shape": [env.action_space.shape[0]],
                       "names": list(getattr(base, "action_names", [])) or None}
    feats["next.success"] = {"dtype": "bool", "shape": [1], "names": None}
    return feats


@dataclass
class EpisodeResult:
    index: int | None  # dataset episode_index, None when discarded
    label: str  # success | failure | discard | quit
    steps: int


@dataclass
class TeleopSession:
    """Runs episodes until the operator quits or `max_episodes` are done."""

    env: Any
    writer: DatasetWriter
    keys: Any  # KeySource
    joystick: Any = None  # LinuxJoystick or None
    views: list[View] = field(default_factory=list)
    control_hz: float = 10.0
    realtime: bool = True  # sleep to hold the control rate (off in tests and replays)
    state: TeleopState = field(default_factory=TeleopState)
    log: Callable[[str], None] = print
    # The newest frame is held back one step: its `next.success` is only known once the operator labels
    # the episode (or the next frame arrives).
    _pending: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def run(self, max_episodes: int, seed: int = 0) -> list[EpisodeResult]:
        results: list[EpisodeResult] = []
        for i in range(max_episodes):
            result = self.run_episode(seed + i)
            results.append(result)
            self.log(f"episode {i}: {result.label} after {result.steps} steps"
                     + (f" -> dataset episode {result.index}" if result.index is not None else ""))
            if result.label == "quit":
                break
        return results

    def run_episode(self, seed: int) -> EpisodeResult:
        obs, _ = self.env.reset(seed=seed)
        self.state.gripper = 1.0
        self.log(f"task: {obs['instruction']}")
        period = 1.0 / self.control_hz
        for step in range(10**9):
            tick = time.monotonic()
            action, commands = self._read_input()
            label = _label(commands)
            if label is not None:
                return self._finish(label, obs["instruction"], step)
            next_obs, _, terminated, truncated, info = self.env.step(action)
            self._add_frame(obs, action)
            for view in self.views:
                view.show(next_obs, action, step, self.writer.num_episodes)
            obs = next_obs
            if terminated or truncated:
                if info.get("error"):
                    self.log(f"physics error, episode discarded: {info['error']}")
                    return self._finish("discard", obs["instruction"], step + 1)
                return self._finish("success" if info.get("success") else "failure", obs["instruction"], step + 1)
            if self.realtime:
                time.sleep(max(0.0, period - (time.monotonic() - tick)))
        raise AssertionError("unreachable")

    def _read_input(self) -> tuple[np.ndarray, list[Command]]:
        action, commands = keys_to_action(self.keys.poll(), self.state)
        if self.joystick is not None:
            axes, buttons = self.joystick.poll()
            if buttons[0]:  # button A toggles the gripper on press
                self.state.gripper = -self.state.gripper
            pad = axes_to_action(axes, self.state)
            action[:6] += pad[:6]
            action[6] = self.state.gripper
        low, high = self.env.action_space.low, self.env.action_space.high
        return np.clip(action, low, high).astype(np.float32), commands

    def _add_frame(self, obs: dict[str, Any], action: np.ndarray) -> None:
        if self._pending is not None:
            self.writer.add_frame(self._pending)
        self._pending = {f"observation.images.{cam}": img for cam, img in obs["images"].items()}
        self._pending |= {"observation.state": obs["state"], "action": action, "next.success": np.array([False])}

    def _finish(self, label: str, instruction: str, steps: int) -> EpisodeResult:
        pending, self._pending = self._pending, None
        if label in ("discard", "quit") or pending is None:
            self.writer.discard_episode()
            return EpisodeResult(None, label, steps)
        self.writer.add_frame({**pending, "next.success": np.array([label == "success"])})
        return EpisodeResult(self.writer.save_episode(task=instruction), label, steps)


def _label(commands: list[Command]) -> str | None:
    for command in commands:
        if command in (Command.SUCCESS, Command.FAILURE, Command.DISCARD, Command.QUIT):
            return command.value
    return None
