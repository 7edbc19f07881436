"""Operator input -> end-effector delta actions, independent of where the input comes from.

The action is the tabletop default (DESIGN.md): dx, dy, dz (m), droll, dpitch, dyaw (rad) in the base frame,
gripper (-1 closed ... +1 open). Keys nudge the arm by a fixed step each control tick; the gripper is a toggle,
because an operator holding a key down to keep the gripper closed is error-prone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np


class Command(Enum):
    """What an input means besides motion: episode bookkeeping by the operator."""

    NONE = "none"
    TOGGLE_GRIPPER = "toggle_gripper"
    SUCCESS = "success"  # end the episode, label it a success, save it
    FAILURE = "failure"  # end the episode, label it a failure, save it
    DISCARD = "discard"  # end the episode, drop it
    QUIT = "quit"


# key -> (action index, sign); index 0..5 are dx, dy, dz, droll, dpitch, dyaw
MOTION_KEYS: dict[str, tuple[int, float]] = {
    "w": (0, +1.0), "s": (0, -1.0),   # forward / back (x)
    "a": (1, +1.0), "d": (1, -1.0),   # left / right (y)
    "r": (2, +1.0), "f": (2, -1.0),   # up / down (z)
    "q": (5, +1.0), "e": (5, -1.0),   # yaw left / right
}
COMMAND_KEYS: dict[str, Command] = {
    " ": Command.TOGGLE_GRIPPER,
    "\r": Command.SUCCESS, "\n": Command.SUCCESS, "y": Command.SUCCESS,
    "n": Command.FAILURE,
    "x": Command.DISCARD,
    "\x1b": Command.QUIT, "\x03": Command.QUIT,  # Esc, Ctrl-C
}
HELP = ("w/s: x+/-  a/d: y+/-  r/f: z+/-  q/e: yaw+/-  space: open/close gripper  "
        "Enter/y: success  n: failure  x: discard  Esc: quit")


@dataclass
class TeleopState:
    """The operator's sticky state: gripper command (+1 open / -1 closed) and step sizes."""

    gripper: float = 1.0
    translation_step: float = 0.02  # m per control tick
    rotation_step: float = 0.1  # rad per control tick
    pending: list[Command] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not (0 < self.translation_step <= 0.1):
            raise ValueError(f"translation_step must be in (0, 0.1] m, got {self.translation_step}")
        if not (0 < self.rotation_step <= 0.5):
            raise ValueError(f"rotation_step must be in (0, 0.5] rad, got {self.rotation_step}")


def keys_to_action(keys: list[str], state: TeleopState) -> tuple[np.ndarray, list[Command]]:
    """Fold the keys pressed during one tick into a 7-D action and the commands they carry.

    Returns a new float32 (7,) action; toggles update `state.gripper`. Unknown keys are ignored (an operator
    fumbling a key must not stop the arm or raise).
    """
    action = np.zeros(7, np.float32)
    commands: list[Command] = []
    for key in keys:
        key = key.lower() if len(key) == 1 and key.isalpha() else key
        if key in MOTION_KEYS:
            index, sign = MOTION_KEYS[key]
            step = state.translation_step if index < 3 else state.rotation_step
            action[index] += sign * step
        elif key in COMMAND_KEYS:
            command = COMMAND_KEYS[key]
            if command is Command.TOGGLE_GRIPPER:
                state.gripper = -state.gripper
            else:
                commands.append(command)
    action[6] = state.gripper
    return action, commands


def axes_to_action(axes: np.ndarray, state: TeleopState, deadzone: float = 0.15) -> np.ndarray:
    """Gamepad sticks -> action: left stick x/y, right stick z/yaw; values in [-1, 1] with a dead zone."""
    axes = np.clip(np.nan_to_num(np.asarray(axes, np.float32)), -1, 1)
    axes = np.where(np.abs(axes) < deadzone, 0.0, axes)
    padded = np.zeros(4, np.float32)
    padded[: min(4, len(axes))] = axes[:4]
    lx, ly, rx, ry = padded
    action = np.zeros(7, np.float32)
    action[0] = -ly * state.translation_step  # stick up (negative y on most pads) -> forward
    action[1] = -lx * state.translation_step
    action[2] = -ry * state.translation_step
    action[5] = -rx * state.rotation_step
    action[6] = state.gripper
    return action
