"""The tabletop's MuJoCo model and data: episode layout, stepping with blow-up detection, robot state and
object queries. `TabletopEnv` wraps this with the gymnasium API, actions and observations.

Slots not used by an episode are parked: moved out of view, made collision-free, weightless (gravity
compensated) and invisible, so one compiled model serves every episode of a task.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from sim.tabletop.ik import DiffIK, rotvec_to_quat
from sim.tabletop.scene import (ARM_JOINTS, BLOCK_HALF, COLORS, FINGER_MAX, PARK_Y, SceneSpec, build_mjcf)
from sim.tabletop.tasks.base import Episode

# Panda's "ready" posture: the gripper points down, fingers open along world y, TCP at (0.31, 0, 0.49).
HOME_Q = np.array([0.0, -np.pi / 4, 0.0, -3 * np.pi / 4, 0.0, np.pi / 2, np.pi / 4])
START_EE = np.array([0.40, 0.0, 0.25])  # episodes start with the TCP near here (+- 3 cm)
# Warnings that mean the simulation state is no longer trustworthy.
_BAD_WARNINGS = ("mjWARN_BADQACC", "mjWARN_BADQPOS", "mjWARN_BADQVEL", "mjWARN_BADCTRL")


@dataclass(frozen=True)
class SceneObject:
    """An object of the current episode, as planners see it."""

    name: str
    kind: str
    color: str
    position: np.ndarray


class Physics:
    """Model, data and the episode's object bookkeeping for one tabletop scene."""

    def __init__(self, spec: SceneSpec, control_hz: float):
        self.spec = spec
        self.model = mujoco.MjModel.from_xml_string(build_mjcf(spec))
        self.data = mujoco.MjData(self.model)
        self.n_substeps = max(1, int(round(1.0 / (control_hz * self.model.opt.timestep))))
        m = self.model
        self.home = HOME_Q.copy()
        self.qadr = np.array([m.jnt_qposadr[m.joint(j).id] for j in ARM_JOINTS])
        self.finger_qadr = m.jnt_qposadr[m.joint("finger_left").id]
        self.tcp = m.site("tcp").id
        self.finger_geoms = {m.body("left_finger").id: "left", m.body("right_finger").id: "right"}
        self.robot_bodies = {m.body(n).id for n in ("hand", "left_finger", "right_finger")}
        self.block_body = [m.body(f"block{i}").id for i in range(spec.n_blocks)]
        self.block_qadr = [m.jnt_qposadr[m.joint(f"block{i}_free").id] for i in range(spec.n_blocks)]
        self.block_geom = [m.geom(f"block{i}").id for i in range(spec.n_blocks)]
        self.bowl_body = [m.body(f"bowl{i}").id for i in range(spec.n_bowls)]
        self.bowl_geoms = [[g for g in range(m.ngeom) if m.geom_bodyid[g] == b] for b in self.bowl_body]
        self._slot: dict[str, tuple[str, int]] = {}  # object name -> (kind, slot index)
        self._objects: list[tuple[str, str, str]] = []  # (name, kind, color)
        self._warnings = np.zeros(len(_BAD_WARNINGS), dtype=int)
        self._contact_key: bytes | None = None
        self._contact_cache: dict[int, set[int]] = {}

    # ---- episode setup ------------------------------------------------------------------------------
    def reset(self, episode: Episode, rng: np.random.Generator, ik: DiffIK) -> None:
        """Lay out `episode`'s objects, park the unused slots, put the arm near its start pose, settle."""
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        self._slot, self._objects = {}, []
        blocks, bowls = episode.of_kind("block"), episode.of_kind("bowl")
        if len(blocks) > len(self.block_body) or len(bowls) > len(self.bowl_body):
            raise ValueError(f"episode has {len(blocks)} blocks and {len(bowls)} bowls, the scene holds {self.spec}")
        for i in range(len(self.block_body)):
            self._set_block(i, blocks[i] if i < len(blocks) else None)
        for i in range(len(self.bowl_body)):
            self._set_bowl(i, bowls[i] if i < len(bowls) else None)
        start = START_EE + rng.uniform(-0.03, 0.03, 3)
        d.qpos[self.qadr] = HOME_Q
        q = HOME_Q
        for _ in range(5):  # a few IK solves from the ready pose converge to the start pose
            q = ik.solve(q, start, np.array([1.0, 0.0, 0.0, 0.0]))
        d.qpos[self.qadr] = q
        d.qpos[self.finger_qadr:self.finger_qadr + 2] = FINGER_MAX
        d.ctrl[:7] = q
        d.ctrl[7] = FINGER_MAX
        mujoco.mj_forward(m, d)
        for _ in range(25):  # let blocks settle onto the table
            mujoco.mj_step(m, d)
        self._warnings = self._warning_counts()

    def _set_block(self, i: int, place) -> None:
        m, d = self.model, self.data
        body, geom, adr = self.block_body[i], self.block_geom[i], self.block_qadr[i]
        if place is None:
            d.qpos[adr:adr + 3] = (0.0, PARK_Y + 0.2 * i, 0.5)
            d.qpos[adr + 3:adr + 7] = (1, 0, 0, 0)
            m.geom_contype[geom] = m.geom_conaffinity[geom] = 0
            m.body_gravcomp[body] = 1.0
            m.geom_rgba[geom] = (1, 1, 1, 0)
            return
        d.qpos[adr:adr + 3] = (place.xy[0], place.xy[1], BLOCK_HALF + 0.001)
        d.qpos[adr + 3:adr + 7] = rotvec_to_quat(np.array([0.0, 0.0, place.yaw]))
        m.geom_contype[geom] = m.geom_conaffinity[geom] = 1
        m.body_gravcomp[body] = 0.0
        m.geom_rgba[geom] = COLORS[place.color]
        self._register(place, "block", i)

    def _set_bowl(self, i: int, place) -> None:
        m = self.model
        body = self.bowl_body[i]
        if place is None:
            m.body_pos[body] = (0.0, -PARK_Y - 0.3 * i, 0.0)
            m.geom_rgba[self.bowl_geoms[i]] = (1, 1, 1, 0)
            return
        m.body_pos[body] = (place.xy[0], place.xy[1], 0.0)
        m.geom_rgba[self.bowl_geoms[i]] = COLORS[place.color]
        self._register(place, "bowl", i)

    def _register(self, place, kind: str, i: int) -> None:
        if place.name in self._slot:
            raise ValueError(f"episode has two objects named {place.name!r}")
        self._slot[place.name] = (kind, i)
        self._objects.append((place.name, kind, place.color))

    # ---- stepping -----------------------------------------------------------------------------------
    def advance(self, q_target: np.ndarray, gripper: float) -> str | None:
        """Hold `q_target` and the gripper command (-1 closed .. +1 open) for one control period.

        Returns None, or an error message when the physics blew up (NaN state or a MuJoCo warning)."""
        d = self.data
        d.ctrl[:7] = q_target
        d.ctrl[7] = FINGER_MAX * (np.clip(gripper, -1.0, 1.0) + 1.0) / 2.0
        for _ in range(self.n_substeps):
            mujoco.mj_step(self.model, d)
        counts = self._warning_counts()
        if np.any(counts > self._warnings):
            names = [n for n, c, c0 in zip(_BAD_WARNINGS, counts, self._warnings) if c > c0]
            self._warnings = counts
            return f"physics became unstable (MuJoCo warnings {names}) at t={d.time:.2f}s"
        if not (np.all(np.isfinite(d.qpos)) and np.all(np.isfinite(d.qvel))):
            return f"physics state has NaN/inf at t={d.time:.2f}s"
        return None

    def _warning_counts(self) -> np.ndarray:
        return np.array([self.data.warning[getattr(mujoco.mjtWarning, n)].number for n in _BAD_WARNINGS])

    # ---- robot state --------------------------------------------------------------------------------
    def arm_qpos(self) -> np.ndarray:
        return self.data.qpos[self.qadr].copy()

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """TCP world position (3,) and orientation quaternion (4,, w first)."""
        quat = np.empty(4)
        mujoco.mju_mat2Quat(quat, self.data.site_xmat[self.tcp])
        return self.data.site_xpos[self.tcp].copy(), quat

    def gripper_opening(self) -> float:
        """Distance between the finger pads (m): 0 closed, 0.08 fully open."""
        return float(2.0 * self.data.qpos[self.finger_qadr])

    def state(self) -> np.ndarray:
        """float32 (14,): TCP xyz, TCP roll/pitch/yaw (0 = pointing down), gripper opening, 7 joints."""
        pos = self.data.site_xpos[self.tcp]
        r = self.data.site_xmat[self.tcp].reshape(3, 3)
        rpy = (np.arctan2(r[2, 1], r[2, 2]), -np.arcsin(np.clip(r[2, 0], -1, 1)), np.arctan2(r[1, 0], r[0, 0]))
        return np.concatenate([pos, rpy, [self.gripper_opening()], self.data.qpos[self.qadr]]).astype(np.float32)

    # ---- objects ------------------------------------------------------------------------------------
    def scene_objects(self) -> list[SceneObject]:
        return [SceneObject(n, k, c, self.object_position(n)) for n, k, c in self._objects]

    def _lookup(self, name: str) -> tuple[str, int]:
        if name not in self._slot:
            raise KeyError(f"no object {name!r} in this episode; objects: {[n for n, _, _ in self._objects]}")
        return self._slot[name]

    def object_position(self, name: str) -> np.ndarray:
        kind, i = self._lookup(name)
        body = self.block_body[i] if kind == "block" else self.bowl_body[i]
        return self.data.xpos[body].copy()

    def object_yaw(self, name: str) -> float:
        kind, i = self._lookup(name)
        body = self.block_body[i] if kind == "block" else self.bowl_body[i]
        r = self.data.xmat[body].reshape(3, 3)
        return float(np.arctan2(r[1, 0], r[0, 0]))

    def object_geoms(self, name: str) -> list[int]:
        kind, i = self._lookup(name)
        return [self.block_geom[i]] if kind == "block" else list(self.bowl_geoms[i])

    def contacts(self, name: str) -> set[int]:
        """Body ids in contact with object `name` right now."""
        table = self._contact_table()
        out: set[int] = set()
        for geom in self.object_geoms(name):
            out |= table.get(geom, set())
        return out

    def _contact_table(self) -> dict[int, set[int]]:
        """geom id -> ids of the bodies it touches, rebuilt only when the contact list changes (predicates
        ask many times per step; keying on the contact pairs also stays right after a manual mj_forward)."""
        pairs = self.data.contact.geom  # (ncon, 2)
        key = pairs.tobytes()
        if key != self._contact_key:
            bodies = self.model.geom_bodyid[pairs]  # (ncon, 2)
            table: dict[int, set[int]] = {}
            for (g1, g2), (b1, b2) in zip(pairs.tolist(), bodies.tolist()):
                table.setdefault(g1, set()).add(b2)
                table.setdefault(g2, set()).add(b1)
            self._contact_key, self._contact_cache = key, table
        return self._contact_cache

    def touched_objects(self) -> list[str]:
        """Objects the hand or a finger touches now."""
        return [n for n, _, _ in self._objects if self.contacts(n) & self.robot_bodies]

    def body_name(self, body: int) -> str:
        return self.model.body(body).name
