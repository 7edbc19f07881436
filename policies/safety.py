"""The safety layer between a policy and a robot: pure numpy, tested without ROS.

A policy's action is never sent to hardware as it comes. `SafetyLayer.filter` turns it into a command
that respects, in this order:

1. finiteness (a NaN or inf anywhere -> stop, never a partial command),
2. per-axis clipping to `[action_low, action_high]`,
3. a velocity limit per axis (`|v| <= max_velocity`),
4. an acceleration limit per axis (`|v_t - v_{t-1}| <= max_acceleration / rate`),
5. a workspace box for the end effector (delta mode: the step may not leave the box).

Two action conventions, declared by `SafetyConfig.mode`:
- "delta": each action is a per-step end-effector delta (the tabletop's dx, dy, dz, droll, dpitch, dyaw,
  gripper), so the commanded velocity is `delta * control_rate_hz`.
- "absolute": each action is a joint-position target, so the velocity is
  `(target - previous target) * control_rate_hz`; the first target after a stop is measured against the
  robot's current joint positions.
The gripper axis is a position command (-1 closed ... +1 open): it is clipped, never rate limited.

`Watchdog` tracks when each input was last seen; the node stops the robot as soon as any is stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MODES = ("delta", "absolute")


def _as_tuple(values: tuple[float, ...] | list[float], name: str) -> tuple[float, ...]:
    """Validate a per-axis tuple: finite floats (empty means 'no limit')."""
    out = tuple(float(v) for v in values)
    if not all(np.isfinite(out)):
        raise ValueError(f"SafetyConfig.{name} must be finite, got {values!r}")
    return out


@dataclass
class SafetyConfig:
    """Limits for one robot. Per-axis tuples have one entry per action dim, or are empty (no limit).

    Units follow the action: metres and radians per step in delta mode (so `max_velocity` is m/s and
    rad/s), joint units in absolute mode.
    """

    action_dim: int = 7
    control_rate_hz: float = 10.0
    mode: str = "delta"
    action_low: tuple[float, ...] = ()
    action_high: tuple[float, ...] = ()
    max_velocity: tuple[float, ...] = ()
    max_acceleration: tuple[float, ...] = ()
    gripper_axis: int | None = 6
    position_axes: tuple[int, ...] = (0, 1, 2)  # delta mode: which dims move the end effector in x, y, z
    workspace_low: tuple[float, ...] = ()  # metres, base frame; empty = no box
    workspace_high: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.action_dim < 1:
            raise ValueError(f"SafetyConfig.action_dim must be >= 1, got {self.action_dim}")
        if not (np.isfinite(self.control_rate_hz) and self.control_rate_hz > 0):
            raise ValueError(f"SafetyConfig.control_rate_hz must be a positive number, got {self.control_rate_hz}")
        if self.mode not in MODES:
            raise ValueError(f"SafetyConfig.mode must be one of {MODES}, got {self.mode!r}")
        for name in ("action_low", "action_high", "max_velocity", "max_acceleration"):
            values = _as_tuple(getattr(self, name), name)
            if values and len(values) != self.action_dim:
                raise ValueError(f"SafetyConfig.{name} needs {self.action_dim} values (action_dim) or none, "
                                 f"got {len(values)}: {values}")
            setattr(self, name, values)
        for name in ("max_velocity", "max_acceleration"):
            if any(v <= 0 for v in getattr(self, name)):
                raise ValueError(f"SafetyConfig.{name} must be > 0 on every axis, got {getattr(self, name)}")
        if self.action_low and self.action_high and any(
                lo > hi for lo, hi in zip(self.action_low, self.action_high)):
            raise ValueError(f"SafetyConfig.action_low {self.action_low} exceeds action_high {self.action_high}")
        if self.gripper_axis is not None and not 0 <= self.gripper_axis < self.action_dim:
            raise ValueError(f"SafetyConfig.gripper_axis must be in [0, {self.action_dim}) or None, "
                             f"got {self.gripper_axis}")
        self._check_workspace()

    def _check_workspace(self) -> None:
        self.workspace_low = _as_tuple(self.workspace_low, "workspace_low")
        self.workspace_high = _as_tuple(self.workspace_high, "workspace_high")
        self.position_axes = tuple(int(a) for a in self.position_axes)
        if bool(self.workspace_low) != bool(self.workspace_high):
            raise ValueError("SafetyConfig.workspace_low and workspace_high must be given together, got "
                             f"{self.workspace_low} and {self.workspace_high}")
        if not self.workspace_low:
            return
        if self.mode != "delta":
            raise ValueError(f"SafetyConfig workspace box needs mode='delta', got mode={self.mode!r}")
        n = len(self.position_axes)
        if len(self.workspace_low) != n or len(self.workspace_high) != n:
            raise ValueError(f"SafetyConfig workspace box needs {n} values per corner (position_axes "
                             f"{self.position_axes}), got {self.workspace_low} and {self.workspace_high}")
        if any(lo >= hi for lo, hi in zip(self.workspace_low, self.workspace_high)):
            raise ValueError(f"SafetyConfig.workspace_low {self.workspace_low} must be below "
                             f"workspace_high {self.workspace_high} on every axis")
        if any(not 0 <= a < self.action_dim for a in self.position_axes):
            raise ValueError(f"SafetyConfig.position_axes {self.position_axes} out of range for "
                             f"action_dim {self.action_dim}")

    @property
    def has_workspace(self) -> bool:
        return bool(self.workspace_low)


@dataclass(frozen=True)
class SafetyResult:
    """What `SafetyLayer.filter` decided: the command to send (None = stop) and why it differs."""

    action: np.ndarray | None  # float32 (A,), or None when the robot must stop
    reasons: tuple[str, ...] = field(default_factory=tuple)  # e.g. ("clip", "velocity"); "stop:<why>"

    @property
    def stopped(self) -> bool:
        return self.action is None

    @property
    def modified(self) -> bool:
        return bool(self.reasons)


class SafetyLayer:
    """Stateful filter from policy actions to safe commands (it remembers the last commanded velocity).

    Call `filter(action, ee_position=..., joint_positions=...)` once per control step and `halt()` whenever
    the robot is stopped by anything else (watchdog, enable=false, model error), so that motion resumes
    from rest under the acceleration limit.
    """

    def __init__(self, config: SafetyConfig):
        self.config = config
        self._prev_velocity = np.zeros(config.action_dim, dtype=np.float64)  # (A,) last commanded velocity
        self._prev_target: np.ndarray | None = None  # absolute mode: last commanded joint targets

    def halt(self) -> None:
        """Forget motion history: the robot is at rest now."""
        self._prev_velocity[:] = 0.0
        self._prev_target = None

    def filter(self, action: np.ndarray, ee_position: np.ndarray | None = None,
               joint_positions: np.ndarray | None = None) -> SafetyResult:
        """Return the safe command for `action`, or a stop (action None) with the reason.

        ee_position: current end-effector xyz (delta mode, needed when a workspace box is set).
        joint_positions: current joint positions (absolute mode, the reference for the first target).
        """
        cfg = self.config
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (cfg.action_dim,):
            return self._stop(f"action has shape {np.shape(action)}, expected ({cfg.action_dim},)")
        if not np.all(np.isfinite(a)):
            return self._stop(f"non-finite action {a.tolist()}")
        reasons: list[str] = []
        clipped = self._clip(a)
        if not np.array_equal(clipped, a):
            reasons.append("clip")
        if cfg.mode == "delta":
            out = self._limit_delta(clipped, reasons, ee_position)
        else:
            out = self._limit_absolute(clipped, reasons, joint_positions)
        if isinstance(out, SafetyResult):
            return out
        return SafetyResult(out.astype(np.float32), tuple(reasons))

    def _clip(self, a: np.ndarray) -> np.ndarray:
        cfg = self.config
        lo = np.asarray(cfg.action_low) if cfg.action_low else -np.inf
        hi = np.asarray(cfg.action_high) if cfg.action_high else np.inf
        return np.clip(a, lo, hi)

    def _rate_mask(self) -> np.ndarray:
        """Axes that are velocities (everything but the gripper)."""
        mask = np.ones(self.config.action_dim, dtype=bool)
        if self.config.gripper_axis is not None:
            mask[self.config.gripper_axis] = False
        return mask

    def _limit_velocity(self, v: np.ndarray, reasons: list[str]) -> np.ndarray:
        """Apply velocity then acceleration limits to velocities `v` (A,); returns the limited copy."""
        cfg = self.config
        mask = self._rate_mask()
        out = v.copy()
        if cfg.max_velocity:
            vmax = np.asarray(cfg.max_velocity)
            limited = np.clip(out, -vmax, vmax)
            if not np.array_equal(limited[mask], out[mask]):
                reasons.append("velocity")
            out[mask] = limited[mask]
        if cfg.max_acceleration:
            dv_max = np.asarray(cfg.max_acceleration) / cfg.control_rate_hz
            prev = self._prev_velocity
            limited = np.clip(out, prev - dv_max, prev + dv_max)
            if not np.array_equal(limited[mask], out[mask]):
                reasons.append("acceleration")
            out[mask] = limited[mask]
        return out

    def _limit_delta(self, a: np.ndarray, reasons: list[str], ee_position: np.ndarray | None):
        cfg = self.config
        rate = cfg.control_rate_hz
        mask = self._rate_mask()
        v = self._limit_velocity(a * rate, reasons)  # (A,) velocities; the gripper entry is not a velocity
        out = np.where(mask, v / rate, a)
        if cfg.has_workspace:
            if ee_position is None:
                return self._stop("workspace box set but the end-effector position is unknown")
            pos = np.asarray(ee_position, dtype=np.float64).reshape(-1)
            if pos.shape != (len(cfg.position_axes),) or not np.all(np.isfinite(pos)):
                return self._stop(f"bad end-effector position {np.asarray(ee_position).tolist()}")
            axes = list(cfg.position_axes)
            lo = np.asarray(cfg.workspace_low) - pos
            hi = np.asarray(cfg.workspace_high) - pos
            # Outside the box, allow only motion back towards it (never further out).
            boxed = np.clip(out[axes], np.minimum(lo, 0.0), np.maximum(hi, 0.0))
            if not np.array_equal(boxed, out[axes]):
                reasons.append("workspace")
                out[axes] = boxed
        self._prev_velocity = np.where(mask, out * rate, 0.0)
        return out

    def _limit_absolute(self, a: np.ndarray, reasons: list[str], joint_positions: np.ndarray | None):
        cfg = self.config
        rate = cfg.control_rate_hz
        mask = self._rate_mask()
        ref = self._prev_target
        if ref is None:
            if joint_positions is None:
                return self._stop("absolute mode needs the current joint positions for the first target")
            ref = np.asarray(joint_positions, dtype=np.float64).reshape(-1)
            if ref.shape != a.shape or not np.all(np.isfinite(ref)):
                return self._stop(f"bad joint positions {np.asarray(joint_positions).tolist()} for "
                                  f"action_dim {cfg.action_dim}")
        v = self._limit_velocity((a - ref) * rate, reasons)  # (A,)
        out = np.where(mask, ref + v / rate, a)
        self._prev_velocity = np.where(mask, v, 0.0)
        self._prev_target = out.copy()
        return out

    def _stop(self, why: str) -> SafetyResult:
        self.halt()
        return SafetyResult(None, (f"stop:{why}",))


class Watchdog:
    """Remembers when each named input was last seen; `stale(now)` lists those too old (or never seen).

    Times are seconds on one monotonic clock chosen by the caller.
    """

    def __init__(self, timeouts: dict[str, float]):
        for name, t in timeouts.items():
            if not (np.isfinite(t) and t > 0):
                raise ValueError(f"Watchdog timeout for {name!r} must be a positive number, got {t}")
        self.timeouts = dict(timeouts)
        self._last: dict[str, float] = {}

    def feed(self, name: str, now: float) -> None:
        """Record that input `name` arrived at time `now`."""
        if name not in self.timeouts:
            raise KeyError(f"Watchdog has no input {name!r}; inputs: {sorted(self.timeouts)}")
        self._last[name] = now

    def age(self, name: str, now: float) -> float:
        """Seconds since `name` was last seen (inf if never)."""
        last = self._last.get(name)
        return float("inf") if last is None else now - last

    def stale(self, now: float) -> list[str]:
        """Inputs older than their timeout, in declaration order; empty means all fresh."""
        return [n for n, t in self.timeouts.items() if self.age(n, now) > t]

    def reset(self) -> None:
        """Forget every input (e.g. after a reset of the episode)."""
        self._last.clear()
