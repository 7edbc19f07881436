"""Scripted experts for the tabletop, built from reusable primitives that read privileged state.

A primitive (`Touch`, `Pick`, `Place`, `Push`) is a short sequence of phases; each phase servoes the TCP
towards a waypoint computed afresh every step from the objects' current poses (so it works from wherever
the previous primitive left the arm, holding something or not) and ends when the waypoint is reached, a
contact happens, or its step budget runs out. `PrimitivePolicy` chains primitives behind the Policy
protocol and says `done` when they have all finished, which the SayCan skill executor uses to stop a skill.
`make_expert(env)` returns the full scripted expert for the env's task (a plan re-made at every reset).

All actions are in the default `ee_delta` control mode.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from sim.tabletop import predicates
from sim.tabletop.ik import quat_error, rotvec_to_quat
from sim.tabletop.scene import BLOCK_HALF, BOWL_RADIUS, BOWL_WALL_H

TRAVEL_Z = 0.14  # TCP height for moving between objects (m)
FAST, SLOW = 0.035, 0.018  # expert step sizes (m per control step)
OPEN, CLOSED = 1.0, -1.0
RELEASE = 0.3  # opens to ~5 cm: lets go of a 4 cm block without sweeping into its neighbours
PUSH_Z = 0.02  # TCP height while pushing: the finger pads clear the table by ~8 mm
PHASE_BUDGET = 40  # control steps before a phase gives up and the next one starts
MAX_RETRIES = 2  # Pick tries again this often when it finds its hand empty after lifting
PALM_HALF, FINGER_REACH = 0.1, 0.065  # the hand's reach along the finger axis: palm, open fingers (m)

# Push directions as a user watching the `front` camera names them: (world xy unit vector, phrase). The
# front camera looks at the robot from across the table, so the viewer's left is the world's -y.
PUSH_DIRECTIONS: dict[str, tuple[tuple[float, float], str]] = {
    "left": ((0.0, -1.0), "to the left"),
    "right": ((0.0, 1.0), "to the right"),
    "toward": ((-1.0, 0.0), "toward the robot"),
    "away": ((1.0, 0.0), "away from the robot"),
}

# A phase returns (action (7,), finished?) given the env and the primitive's memory dict.
Phase = Callable[[Any, dict], tuple[np.ndarray, bool]]


def _base(env):
    return getattr(env, "unwrapped", env)


def grasp_yaw(yaw: float) -> float:
    """A cube looks the same every quarter turn: the equivalent yaw in [-pi/4, pi/4]."""
    return float((yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4)


def equivalent_yaw(cube_yaw: float, reference: float) -> float:
    """The yaw of the cube's quarter-turn family (cube_yaw + k pi/2) closest to `reference`, kept within
    [-pi/2, pi/2]: the hand's yaw range that stays well inside joint 7's limits (yaw ~ q7 - pi/4)."""
    family = grasp_yaw(cube_yaw) + np.pi / 2 * np.arange(-2, 3)  # (5,)
    family = family[np.abs(family) <= np.pi / 2 + 1e-9]
    return float(family[np.argmin(np.abs(family - reference))])


def clear_yaw(env, obj: str) -> float:
    """The grasp yaw for cube `obj` (its own yaw or a quarter turn off, within [-pi/2, pi/2]) that keeps the
    hand furthest from other objects. Along the finger axis the open fingers reach 6.5 cm at table height,
    and the 20 cm wide palm 10 cm just above the grasped block, where it can hit a stacked block."""
    base = _base(env)
    center = base.object_position(obj)
    yaw0 = grasp_yaw(base.object_yaw(obj))
    yaw1 = yaw0 - np.pi / 2 if yaw0 > 0 else yaw0 + np.pi / 2
    palm_bottom = center[2] + 0.046

    def clearance(yaw: float) -> float:
        axis = np.array([-np.sin(yaw), np.cos(yaw)])  # the fingers' closing direction in the world
        worst = np.inf
        for o in base.scene_objects():
            if o.name == obj:
                continue
            rel = o.position[:2] - center[:2]
            top = o.position[2] + (BLOCK_HALF if o.kind == "block" else BOWL_WALL_H)
            reach = PALM_HALF if top > palm_bottom else FINGER_REACH
            along = np.clip(rel @ axis, -reach, reach)
            size = BLOCK_HALF * np.sqrt(2) if o.kind == "block" else BOWL_RADIUS
            worst = min(worst, float(np.linalg.norm(rel - along * axis)) - size)
        return worst

    return yaw0 if clearance(yaw0) >= clearance(yaw1) - 0.01 else yaw1


def servo(env, target: np.ndarray, gripper: float, yaw: float = 0.0, step: float = FAST,
          tol: float = 0.008) -> tuple[np.ndarray, bool]:
    """Action (7,) moving the TCP towards `target` (gripper pointing down, turned by `yaw`), and whether
    the TCP is already within `tol` of it (and the yaw within 0.05 rad)."""
    physics = _base(env).physics
    pos, quat = physics.ee_pose()
    err = np.asarray(target, dtype=np.float64) - pos
    dist = float(np.linalg.norm(err))
    dpos = err if dist <= step else err * (step / dist)
    rot = quat_error(rotvec_to_quat(np.array([0.0, 0.0, yaw])), quat)  # (3,)
    # Turn about z by the plain difference, not the shortest way round: with targets in [-pi/2, pi/2]
    # that never crosses yaw = +-pi, where joint 7 would run into its limit.
    rot[2] = yaw - float(physics.state()[5])
    rot_norm = float(np.linalg.norm(rot))
    if rot_norm > 0.25:
        rot *= 0.25 / rot_norm
    action = np.concatenate([dpos, rot, [gripper]]).astype(np.float32)
    return action, dist <= tol and rot_norm <= 0.05


def _hold(env, gripper: float) -> np.ndarray:
    """Stay where the TCP is, with the gripper command."""
    return np.array([0, 0, 0, 0, 0, 0, gripper], dtype=np.float32)


class Primitive:
    """Base class: a list of phases run in order; `act(env)` returns the next action or None when done."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._phase = 0
        self._steps = 0
        self.memory: dict = {}

    @property
    def done(self) -> bool:
        return self._phase >= len(self.phases())

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def act(self, env) -> np.ndarray | None:
        """The action for this control step, or None when every phase has finished."""
        phases = self.phases()
        while self._phase < len(phases):
            action, finished = phases[self._phase](env, self.memory)
            self._steps += 1
            if not finished and self._steps <= PHASE_BUDGET:
                return action
            self._phase += 1
            self._steps = 0
        return None

    def _rise(self, gripper: float, goal_xy: Callable[[Any], np.ndarray]) -> Phase:
        """Go straight up to travel height unless already there or already above the goal."""
        def phase(env, mem):
            pos = _base(env).ee_position()
            if pos[2] >= TRAVEL_Z - 0.02 or np.linalg.norm(pos[:2] - goal_xy(env)[:2]) < 0.02:
                return _hold(env, gripper), True
            return servo(env, np.array([pos[0], pos[1], TRAVEL_Z]), gripper, mem.get("yaw", 0.0), tol=0.02)
        return phase

    @staticmethod
    def _wait(gripper: float, n: int) -> Phase:
        def phase(env, mem):
            mem["wait"] = mem.get("wait", 0) + 1
            finished = mem["wait"] > n
            if finished:
                mem["wait"] = 0
            return _hold(env, gripper), finished
        return phase


class Pick(Primitive):
    """Rise, open, go above block `obj`, descend, close on it, lift it to travel height; if the hand comes
    up empty it tries again (up to MAX_RETRIES). A block already in the hand is dropped on the way."""

    def __init__(self, obj: str):
        self.obj = obj
        super().__init__()

    def phases(self) -> list[Phase]:
        pos = lambda env: _base(env).object_position(self.obj)  # noqa: E731

        def yaw(env, mem):
            """Follow the block's yaw on the quarter-turn branch chosen (once) for clearance."""
            if "yaw" not in mem:
                mem["yaw"] = clear_yaw(env, self.obj)
            mem["yaw"] = equivalent_yaw(_base(env).object_yaw(self.obj), mem["yaw"])
            return mem["yaw"]

        def above(env, mem):
            p = pos(env)
            return servo(env, np.array([p[0], p[1], TRAVEL_Z]), OPEN, yaw(env, mem), tol=0.012)

        def descend(env, mem):
            p = pos(env)
            e = _base(env).ee_position()
            near = np.linalg.norm(e[:2] - p[:2]) < 0.015
            target = np.array([p[0], p[1], p[2] + 0.003 if near else e[2]])  # off-centre: re-centre first
            return servo(env, target, OPEN, yaw(env, mem), step=FAST)

        def lift(env, mem):
            e = _base(env).ee_position()
            if e[2] > pos(env)[2] + 0.04 and not predicates.is_held(env, self.obj) and self.retries < MAX_RETRIES:
                self.retries += 1  # the grasp missed: open and go again from above the block
                self._phase, self._steps = 1, -1
                mem.pop("yaw", None)
                return servo(env, np.array([e[0], e[1], TRAVEL_Z]), OPEN, mem.get("yaw", 0.0))[0], False
            return servo(env, np.array([e[0], e[1], TRAVEL_Z]), CLOSED, mem.get("yaw", 0.0), tol=0.02)

        return [self._rise(OPEN, pos), above, descend, self._wait(CLOSED, 4), lift]

    def reset(self) -> None:
        super().reset()
        self.retries = 0


class Place(Primitive):
    """Carry whatever is held above `target` (a bowl, or a block to stack on), lower it, release, retreat.

    `offset` (m, xy) shifts the drop point from the target's center (to put several blocks in one bowl)."""

    def __init__(self, target: str, offset: tuple[float, float] = (0.0, 0.0)):
        self.target = target
        self.offset = np.array(offset, dtype=np.float64)
        super().__init__()

    def _goal(self, env) -> np.ndarray:
        """Where the TCP must be to put the held block's center at the drop point (3,)."""
        base = _base(env)
        t = base.object_position(self.target)
        on_block = self.target.endswith("block")
        surface = t[2] + BLOCK_HALF if on_block else t[2] + 0.004
        goal = np.array([t[0] + self.offset[0], t[1] + self.offset[1], surface + BLOCK_HALF + 0.008])
        held = base.held_object()
        if held is not None:  # the block sits somewhere between the fingers: correct for where
            goal += base.ee_position() - base.object_position(held)
        return goal

    def phases(self) -> list[Phase]:
        def yaw(env):
            """Onto a block: its quarter-turn yaw nearest the hand's (the held block turns with the hand)."""
            base = _base(env)
            if not self.target.endswith("block"):
                return 0.0  # into a bowl: fingers along y, as BOWL_SLOTS assume
            return equivalent_yaw(base.object_yaw(self.target), float(base.physics.state()[5]))

        def over(env, mem):
            g = self._goal(env)
            mem["yaw"] = yaw(env)
            return servo(env, np.array([g[0], g[1], TRAVEL_Z]), CLOSED, mem["yaw"], tol=0.01)

        def lower(env, mem):
            return servo(env, self._goal(env), CLOSED, yaw(env), step=SLOW, tol=0.006)

        def retreat(env, mem):
            e = _base(env).ee_position()
            return servo(env, np.array([e[0], e[1], TRAVEL_Z]), RELEASE, mem.get("yaw", 0.0), tol=0.02)

        return [self._rise(CLOSED, self._goal), over, lower, self._wait(RELEASE, 3), retreat]


class Touch(Primitive):
    """Close the gripper, come down onto object `obj` until the fingers touch it, then back off."""

    def __init__(self, obj: str):
        self.obj = obj
        super().__init__()

    def phases(self) -> list[Phase]:
        pos = lambda env: _base(env).object_position(self.obj)  # noqa: E731

        def above(env, mem):
            p = pos(env)
            return servo(env, np.array([p[0], p[1], p[2] + 0.08]), CLOSED, tol=0.015)

        def descend(env, mem):
            p = pos(env)
            top = p[2] + (BLOCK_HALF if self.obj.endswith("block") else 0.004)
            action, reached = servo(env, np.array([p[0], p[1], top + 0.004]), CLOSED, step=SLOW)
            return action, reached or predicates.is_touching(env, self.obj)

        def back_off(env, mem):
            p = pos(env)
            return servo(env, np.array([p[0], p[1], p[2] + 0.08]), CLOSED, tol=0.015)

        return [self._rise(CLOSED, pos), above, descend, self._wait(CLOSED, 1), back_off]


class Push(Primitive):
    """Push block `obj` by `distance` (m) along `direction`: a world-frame xy vector, or a name from
    `PUSH_DIRECTIONS` ("left", "right", "toward", "away"; as seen in the front camera)."""

    def __init__(self, obj: str, direction: tuple[float, float] | str, distance: float = 0.1):
        self.obj = obj
        if isinstance(direction, str):
            if direction not in PUSH_DIRECTIONS:
                raise ValueError(f"Push direction {direction!r} is not one of {sorted(PUSH_DIRECTIONS)}")
            direction = PUSH_DIRECTIONS[direction][0]
        d = np.asarray(direction, dtype=np.float64)
        if d.shape != (2,) or not np.isfinite(d).all() or np.linalg.norm(d) < 1e-6:
            raise ValueError(f"Push direction must be a nonzero xy vector, got {direction}")
        self.direction = d / np.linalg.norm(d)
        self.distance = float(distance)
        super().__init__()

    def phases(self) -> list[Phase]:
        back = BLOCK_HALF * np.sqrt(2) + 0.03  # clear of the block's corners whatever its yaw

        def pre(env):
            p = _base(env).object_position(self.obj)
            return np.array([*(p[:2] - self.direction * back), 0.0])

        def over(env, mem):
            g = pre(env)
            mem["start"] = _base(env).object_position(self.obj)[:2].copy()
            return servo(env, np.array([g[0], g[1], 0.08]), CLOSED, tol=0.012)

        def descend(env, mem):
            g = pre(env)
            return servo(env, np.array([g[0], g[1], PUSH_Z]), CLOSED, step=SLOW, tol=0.008)

        def push(env, mem):
            end = mem["start"] + self.direction * (self.distance - BLOCK_HALF - 0.012)
            return servo(env, np.array([end[0], end[1], PUSH_Z]), CLOSED, step=SLOW, tol=0.01)

        def retreat(env, mem):
            e = _base(env).ee_position()
            return servo(env, np.array([e[0], e[1], 0.1]), CLOSED, tol=0.02)

        return [self._rise(CLOSED, pre), over, descend, push, retreat]


class PrimitivePolicy:
    """Runs `primitives` in order behind the Policy protocol; `done` turns True when all have finished.

    `predict_action_chunk` returns a (1, 7) chunk (closed loop); once done it holds still."""

    def __init__(self, env, primitives: list[Primitive]):
        self.env = env
        self.primitives = list(primitives)
        self._i = 0
        self._last_gripper = OPEN

    def reset(self, instruction: str = "") -> None:
        for p in self.primitives:
            p.reset()
        self._i = 0

    @property
    def done(self) -> bool:
        return self._i >= len(self.primitives)

    def predict_action_chunk(self, obs: dict) -> np.ndarray:
        while self._i < len(self.primitives):
            action = self.primitives[self._i].act(self.env)
            if action is not None:
                self._last_gripper = float(action[6])
                return action[None]  # (1, 7)
            self._i += 1
        return _hold(self.env, self._last_gripper)[None]  # (1, 7)


class TaskExpert(PrimitivePolicy):
    """The scripted expert for the env's task: at each reset it asks the task for a fresh plan."""

    def __init__(self, env):
        super().__init__(env, [])
        self._planned = False

    def reset(self, instruction: str = "") -> None:
        self.primitives, self._i, self._planned = [], 0, False

    @property
    def done(self) -> bool:
        return self._planned and self._i >= len(self.primitives)

    def predict_action_chunk(self, obs: dict) -> np.ndarray:
        if not self._planned:  # plan lazily: the env has been reset by the time it is first queried
            base = _base(self.env)
            self.primitives = base.task.plan(base)
            self._planned = True
        return super().predict_action_chunk(obs)


def make_expert(env) -> TaskExpert:
    """The scripted expert Policy for `env`'s task (ee_delta control only)."""
    base = _base(env)
    if base.config.control_mode != "ee_delta":
        raise ValueError(f"scripted experts act in control_mode='ee_delta', this env uses {base.config.control_mode!r}")
    return TaskExpert(env)
