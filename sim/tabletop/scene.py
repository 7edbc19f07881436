"""The tabletop scene as MJCF, generated from Python: a table, a Panda-like 7-DoF arm with a parallel-jaw
gripper, block and bowl slots, and the `front` and `wrist` cameras.

The arm follows the Franka Emika Panda's published kinematics (modified DH: d1=0.333, d3=0.316,
a4=0.0825, a5=-0.0825, d5=0.384, a7=0.088, flange 0.107, TCP 0.1034 past the flange) and joint limits,
but every link is drawn with primitive geoms; only the hand and the fingers collide (the arm links are
visual), which keeps contacts few and the physics fast. The gripper's two fingers are coupled by an
equality constraint and driven by one force-limited position actuator.

Objects are *slots*: the scene holds `n_blocks` free-floating blocks and `n_bowls` static bowls; each
episode gives a slot a color and a pose or parks it out of sight (see `env.TabletopEnv.reset`). The
`tcp` site's frame equals the world frame when the gripper points straight down with its fingers opening
along world y, so the end-effector orientation is near identity in the working pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Colors the tasks draw from (RGBA); each scene holds at most one block and one bowl per color.
COLORS: dict[str, tuple[float, float, float, float]] = {
    "red": (0.85, 0.12, 0.10, 1.0),
    "green": (0.15, 0.70, 0.20, 1.0),
    "blue": (0.12, 0.30, 0.85, 1.0),
    "yellow": (0.95, 0.85, 0.10, 1.0),
    "purple": (0.55, 0.20, 0.70, 1.0),
    "orange": (0.98, 0.50, 0.05, 1.0),
}

ARM_JOINTS = tuple(f"joint{i}" for i in range(1, 8))
# Panda joint limits (rad), from Franka's published datasheet.
JOINT_LOW = np.array([-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973])
JOINT_HIGH = np.array([2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973])
# Joint torque limits (N m), as on the Panda.
JOINT_FORCE = (87, 87, 87, 87, 12, 12, 12)
ARM_KP = (4500, 4500, 3500, 3500, 2000, 2000, 2000)
FINGER_MAX = 0.04  # each finger travels 0..4 cm: 8 cm max opening
GRIP_FORCE = 40.0  # N per finger: the actuator saturates here (force-limited gripper)

BLOCK_HALF = 0.02  # 4 cm cubes
BOWL_RADIUS = 0.08  # outer radius of a bowl's rim: room for three 4 cm blocks
BOWL_INNER = 0.072  # inside radius: where a block counts as "in"
BOWL_WALL_H = 0.025
TABLE_TOP = 0.0  # the table surface is the world z = 0 plane; the robot base stands on it
PARK_Y = 3.0  # parked slots float out of sight at y >= PARK_Y

TIMESTEP = 0.005


@dataclass(frozen=True)
class SceneSpec:
    """How many object slots a scene has; tasks state theirs."""

    n_blocks: int
    n_bowls: int

    def __post_init__(self):
        if not 0 <= self.n_blocks <= len(COLORS):
            raise ValueError(f"SceneSpec.n_blocks must be in [0, {len(COLORS)}], got {self.n_blocks}")
        if not 0 <= self.n_bowls <= len(COLORS):
            raise ValueError(f"SceneSpec.n_bowls must be in [0, {len(COLORS)}], got {self.n_bowls}")


def _fmt(v) -> str:
    return " ".join(f"{float(x):.6g}" for x in v)


def _look_at(pos, target) -> str:
    """`xyaxes` for a camera at `pos` looking at `target` with world z up (MuJoCo cameras look along -z)."""
    fwd = np.asarray(target, float) - np.asarray(pos, float)
    fwd /= np.linalg.norm(fwd)
    x = np.cross(fwd, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(x, fwd)
    return _fmt(np.concatenate([x, y]))


def _capsule(p0, p1, r, rgba="0.92 0.92 0.95 1") -> str:
    return (f'<geom type="capsule" fromto="{_fmt(p0)} {_fmt(p1)}" size="{r}" rgba="{rgba}" '
            f'contype="0" conaffinity="0" group="1"/>')


def _link(name, pos, quat, mass, joint_idx, geoms, inner) -> str:
    i = joint_idx
    lo, hi = JOINT_LOW[i], JOINT_HIGH[i]
    return (f'<body name="{name}" pos="{_fmt(pos)}" quat="{_fmt(quat)}" gravcomp="1">'
            f'<inertial pos="0 0 0" mass="{mass}" diaginertia="0.01 0.01 0.01"/>'
            f'<joint name="{ARM_JOINTS[i]}" axis="0 0 1" range="{lo} {hi}" limited="true" armature="0.1" damping="1"/>'
            f'{geoms}{inner}</body>')


def _hand() -> str:
    """The hand: palm box, two sliding fingers with friction pads, the `tcp` site and the wrist camera."""
    finger_geom = ('<geom type="box" size="0.011 0.006 0.024" pos="0 0.006 0.033" rgba="0.25 0.25 0.28 1" '
                   'friction="1.0 0.01 0.001" condim="4" mass="0.015" class="grip"/>')
    wrist_cam = ('<camera name="wrist" pos="0.075 0 0.02" xyaxes="0 -1 0 -0.95 0 -0.3" fovy="75"/>')
    return (
        '<body name="hand" pos="0 0 0.107" quat="0.9238795 0 0 -0.3826834" gravcomp="1">'
        '<inertial pos="0 0 0.03" mass="0.73" diaginertia="0.002 0.002 0.002"/>'
        '<geom type="box" size="0.025 0.1 0.03" pos="0 0 0.03" rgba="0.92 0.92 0.95 1" class="grip"/>'
        '<geom type="cylinder" size="0.03 0.012" pos="0.045 0 0.02" rgba="0.2 0.2 0.2 1" contype="0" '
        'conaffinity="0" group="1"/>'
        f'{wrist_cam}'
        '<site name="tcp" pos="0 0 0.1034" quat="0 1 0 0" size="0.005" rgba="1 0 0 0"/>'
        '<body name="left_finger" pos="0 0 0.0584" gravcomp="1">'
        f'<joint name="finger_left" type="slide" axis="0 1 0" range="0 {FINGER_MAX}" limited="true" '
        'damping="2" armature="0.01"/>'
        f'{finger_geom}</body>'
        '<body name="right_finger" pos="0 0 0.0584" quat="0 0 0 1" gravcomp="1">'
        f'<joint name="finger_right" type="slide" axis="0 1 0" range="0 {FINGER_MAX}" limited="true" '
        'damping="2" armature="0.01"/>'
        f'{finger_geom}</body>'
        '</body>')


def _arm() -> str:
    """The 7 links nested as Panda's modified-DH chain (body offsets and quats are the DH transforms)."""
    qm, qp = (0.7071068, -0.7071068, 0, 0), (0.7071068, 0.7071068, 0, 0)
    body = _hand()
    body = _link("link7", (0.088, 0, 0), qp, 0.74, 6, _capsule((0, 0, -0.02), (0, 0, 0.09), 0.045), body)
    body = _link("link6", (0, 0, 0), qp, 1.67, 5, _capsule((0, 0, -0.04), (0.088, 0, 0), 0.05), body)
    body = _link("link5", (-0.0825, 0.384, 0), qm, 1.23, 4, _capsule((0, 0, -0.26), (0, 0, 0), 0.055), body)
    body = _link("link4", (0.0825, 0, 0), qp, 3.59, 3, _capsule((0, 0, 0), (-0.0825, 0.1, 0), 0.055), body)
    body = _link("link3", (0, -0.316, 0), qp, 3.23, 2, _capsule((0, 0, -0.12), (0.0825, 0, 0), 0.06), body)
    body = _link("link2", (0, 0, 0), qm, 0.65, 1, _capsule((0, 0, 0), (0, -0.2, 0), 0.06), body)
    body = _link("link1", (0, 0, 0.333), (1, 0, 0, 0), 4.97, 0, _capsule((0, 0, -0.2), (0, 0, 0), 0.06), body)
    return ('<body name="link0" pos="0 0 0">'
            '<geom type="cylinder" size="0.07 0.07" pos="0 0 0.07" rgba="0.92 0.92 0.95 1" contype="0" '
            f'conaffinity="0" group="1"/>{body}</body>')


def _block(i: int) -> str:
    return (f'<body name="block{i}" pos="0 {PARK_Y + 0.2 * i} 0.5">'
            f'<freejoint name="block{i}_free"/>'
            f'<geom name="block{i}" type="box" size="{BLOCK_HALF} {BLOCK_HALF} {BLOCK_HALF}" mass="0.05" '
            'friction="0.5 0.01 0.001" condim="4" rgba="1 1 1 1"/></body>')


def _bowl(i: int, n_walls: int = 12) -> str:
    """A static bowl: a thin floor disk and a ring of wall boxes (all in the bowl's color)."""
    wall_t = 0.004
    ring = BOWL_RADIUS - wall_t
    half_len = ring * np.tan(np.pi / n_walls) + 0.002
    walls = []
    for k in range(n_walls):
        a = 2 * np.pi * k / n_walls
        walls.append(f'<geom name="bowl{i}_wall{k}" type="box" size="{wall_t} {half_len:.5f} {BOWL_WALL_H / 2}" '
                     f'pos="{ring * np.cos(a):.5f} {ring * np.sin(a):.5f} {BOWL_WALL_H / 2}" '
                     f'euler="0 0 {a:.5f}" rgba="1 1 1 1" contype="2" conaffinity="1"/>')
    return (f'<body name="bowl{i}" pos="0 {-PARK_Y - 0.3 * i} 0">'
            f'<geom name="bowl{i}_floor" type="cylinder" size="{BOWL_RADIUS} 0.002" pos="0 0 0.002" '
            f'rgba="1 1 1 1" contype="2" conaffinity="1"/>{"".join(walls)}</body>')


def build_mjcf(spec: SceneSpec) -> str:
    """The full MJCF text for a scene with `spec`'s slots.

    Collision classes: contype/conaffinity 1/1 for blocks and the gripper (they touch each other and
    the table), 2/1 for the static table and bowls (they touch movable things, never each other).
    """
    front_pos, front_target = (0.95, 0.0, 0.7), (0.42, 0.0, 0.0)
    blocks = "".join(_block(i) for i in range(spec.n_blocks))
    bowls = "".join(_bowl(i) for i in range(spec.n_bowls))
    return f"""<mujoco model="tabletop">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{TIMESTEP}" integrator="implicitfast" cone="elliptic" impratio="5"/>
  <visual>
    <global offwidth="640" offheight="480"/>
    <quality shadowsize="0" offsamples="0" numslices="10" numstacks="5" numquads="1"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.5 0.5 0.5" specular="0 0 0"/>
    <rgba haze="0.6 0.7 0.8 1"/>
  </visual>
  <default>
    <geom solref="0.01 1" solimp="0.95 0.99 0.001"/>
    <default class="grip"><geom contype="1" conaffinity="1"/></default>
  </default>
  <worldbody>
    <light pos="0.4 0 1.5" dir="0 0 -1" diffuse="0.5 0.5 0.5" castshadow="false"/>
    <geom name="floor" type="plane" size="3 3 0.1" pos="0 0 -0.75" rgba="0.35 0.38 0.42 1" contype="0" conaffinity="0"/>
    <geom name="table" type="box" size="0.55 0.7 0.02" pos="0.45 0 -0.02" rgba="0.62 0.5 0.38 1"
          friction="0.5 0.005 0.0001" contype="2" conaffinity="1"/>
    <camera name="front" pos="{_fmt(front_pos)}" xyaxes="{_look_at(front_pos, front_target)}" fovy="50"/>
    {_arm()}
    {blocks}
    {bowls}
  </worldbody>
  <contact>
    <exclude body1="left_finger" body2="right_finger"/>
  </contact>
  <equality>
    <joint joint1="finger_left" joint2="finger_right" polycoef="0 1 0 0 0" solref="0.01 1"/>
  </equality>
  <actuator>
    {''.join(_arm_actuator(i) for i in range(7))}
    <position name="gripper" joint="finger_left" kp="1000" kv="20" ctrlrange="0 {FINGER_MAX}"
              forcerange="{-GRIP_FORCE} {GRIP_FORCE}"/>
  </actuator>
</mujoco>"""


def _arm_actuator(i: int) -> str:
    kp = ARM_KP[i]
    f = JOINT_FORCE[i]
    return (f'<position name="act{i + 1}" joint="{ARM_JOINTS[i]}" kp="{kp}" kv="{2 * np.sqrt(kp) * 0.6:.1f}" '
            f'ctrlrange="{JOINT_LOW[i]} {JOINT_HIGH[i]}" forcerange="{-f} {f}"/>')
