"""How the sim bridge turns robot-style commands into each env family's action (one adapter per family).

A real arm takes an end-effector velocity (TwistStamped, m/s and rad/s) and a gripper opening
(Float64, 0 closed ... 1 open); each simulated family has its own action convention, declared here next
to the family name rather than as branches inside the bridge:

- tabletop: `dx, dy, dz, droll, dpitch, dyaw` per step (m, rad) = velocity / control rate, and the gripper
  -1 closed ... +1 open.
- metaworld: `dx, dy, dz` in [-1, 1] where 1 is 1 cm per step (Meta-World's action scale), no rotation,
  and gripper effort -1 open ... +1 close.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

METAWORLD_METRES_PER_UNIT = 0.01  # Meta-World scales hand deltas by 1/100 m per unit action


@dataclass(frozen=True)
class Command:
    """The newest command: twist velocities (6,) [vx, vy, vz, wx, wy, wz] and gripper opening in [0, 1]."""

    velocity: np.ndarray
    gripper_open: float


def tabletop_action(cmd: Command, rate_hz: float) -> np.ndarray:
    """Tabletop ee_delta action (7,): per-step deltas and gripper -1 closed ... +1 open."""
    delta = np.asarray(cmd.velocity, dtype=np.float64) / rate_hz  # (6,) m, rad per step
    return np.concatenate([delta, [2.0 * cmd.gripper_open - 1.0]]).astype(np.float32)


def metaworld_action(cmd: Command, rate_hz: float) -> np.ndarray:
    """Meta-World action (4,): hand deltas in units of 1 cm per step, gripper effort -1 open ... +1 close."""
    xyz = np.asarray(cmd.velocity[:3], dtype=np.float64) / rate_hz / METAWORLD_METRES_PER_UNIT  # (3,)
    return np.concatenate([np.clip(xyz, -1.0, 1.0), [1.0 - 2.0 * cmd.gripper_open]]).astype(np.float32)


ADAPTERS = {"tabletop": tabletop_action, "metaworld": metaworld_action}


def action_for(family: str, cmd: Command, rate_hz: float) -> np.ndarray:
    """The env action for `family` from a robot-style command; unknown families list the known ones."""
    if family not in ADAPTERS:
        raise KeyError(f"no command adapter for env family {family!r}; known: {sorted(ADAPTERS)}")
    return ADAPTERS[family](cmd, rate_hz)


def env_rate_hz(env) -> float:
    """The env's control rate: `config.control_hz` (tabletop), a `CONTROL_HZ` module constant (Meta-World),
    or `metadata["render_fps"]`; raises when none is declared."""
    base = getattr(env, "unwrapped", env)
    rate = getattr(getattr(base, "config", None), "control_hz", None)
    if rate is None:
        rate = getattr(importlib.import_module(type(base).__module__), "CONTROL_HZ", None)
    if rate is None:
        rate = getattr(base, "metadata", {}).get("render_fps")
    if rate is None:
        raise ValueError(f"env {type(base).__name__} declares no control rate; set the bridge's control_rate_hz")
    return float(rate)


def state_names(env, size: int) -> list[str]:
    """Names for the state vector's entries (the env's `state_names`, else state_0 ... state_{S-1})."""
    base = getattr(env, "unwrapped", env)
    names = getattr(base, "state_names", None)
    if names is None:
        names = getattr(importlib.import_module(type(base).__module__), "STATE_NAMES", None)
    if names is None or len(names) != size:
        return [f"state_{i}" for i in range(size)]
    return list(names)
