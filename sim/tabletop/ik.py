"""Damped-least-squares differential IK for the arm's `tcp` site, solved on a scratch MjData.

The env turns an end-effector delta into a target pose (current measured pose + delta, in the base frame)
and asks `DiffIK.solve` for joint position targets; the position actuators then track them. Solving on a
separate MjData keeps the simulated state untouched. A null-space term pulls the redundant 7th degree of
freedom towards a home posture, so the elbow does not wander over long episodes (Nakamura et al. 1987).
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim.tabletop.scene import ARM_JOINTS, JOINT_HIGH, JOINT_LOW


def quat_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """World-frame rotation vector (3,) that turns `current` into `target` (unit quats, w first)."""
    conj = np.empty(4)
    mujoco.mju_negQuat(conj, current)
    diff = np.empty(4)
    mujoco.mju_mulQuat(diff, target, conj)
    if diff[0] < 0:  # shortest way round
        diff = -diff
    vel = np.empty(3)
    mujoco.mju_quat2Vel(vel, diff, 1.0)
    return vel


def rotvec_to_quat(rotvec: np.ndarray) -> np.ndarray:
    """Unit quaternion (w first) for a rotation vector (axis * angle)."""
    quat = np.empty(4)
    angle = float(np.linalg.norm(rotvec))
    axis = rotvec / angle if angle > 1e-12 else np.array([1.0, 0.0, 0.0])
    mujoco.mju_axisAngle2Quat(quat, axis, angle)
    return quat


def mat_to_quat(mat: np.ndarray) -> np.ndarray:
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, np.asarray(mat, dtype=np.float64).reshape(9))
    return quat


class DiffIK:
    """Damped-least-squares IK for the 7 arm joints of a tabletop model.

    `damping` is the DLS lambda (Wampler 1986): larger is steadier near singularities, slower to converge.
    `iters` Gauss-Newton steps are taken per solve, each on a fresh forward kinematics of the scratch data.
    """

    def __init__(self, model: mujoco.MjModel, home: np.ndarray, damping: float = 0.05, iters: int = 3,
                 nullspace_gain: float = 0.2):
        if damping <= 0:
            raise ValueError(f"DiffIK damping must be > 0, got {damping}")
        if iters < 1:
            raise ValueError(f"DiffIK iters must be >= 1, got {iters}")
        self.model = model
        self.data = mujoco.MjData(model)
        self.site = model.site("tcp").id
        self.qadr = np.array([model.jnt_qposadr[model.joint(j).id] for j in ARM_JOINTS])
        self.vadr = np.array([model.jnt_dofadr[model.joint(j).id] for j in ARM_JOINTS])
        self.home = np.asarray(home, dtype=np.float64)
        self.damping = damping
        self.iters = iters
        self.nullspace_gain = nullspace_gain
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self.low = JOINT_LOW + 0.02  # joint targets stay this far inside the hard stops (rad)
        self.high = JOINT_HIGH - 0.02

    def forward(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """TCP position (3,) and quaternion (4,) for arm joints `q` (7,)."""
        self.data.qpos[self.qadr] = q
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self.site].copy(), mat_to_quat(self.data.site_xmat[self.site])

    def solve(self, q0: np.ndarray, pos: np.ndarray, quat: np.ndarray) -> np.ndarray:
        """Joint targets (7,), within the joint limits, that bring the TCP to `pos`, `quat` from seed `q0`."""
        q = np.clip(np.asarray(q0, dtype=np.float64), self.low, self.high)
        eye = np.eye(6)
        for _ in range(self.iters):
            cur_pos, cur_quat = self.forward(q)
            err = np.concatenate([pos - cur_pos, quat_error(quat, cur_quat)])  # (6,)
            mujoco.mj_comPos(self.model, self.data)
            mujoco.mj_jacSite(self.model, self.data, self._jacp, self._jacr, self.site)
            jac = np.vstack([self._jacp[:, self.vadr], self._jacr[:, self.vadr]])  # (6, 7)
            jj = jac @ jac.T  # (6, 6)
            dq = jac.T @ np.linalg.solve(jj + (self.damping ** 2) * eye, err)  # (7,)
            # Null-space projector with a near-exact pseudo-inverse: the posture bias must not move the TCP
            # (with the damped one it leaks, and a zero command would drift).
            bias = self.nullspace_gain * (self.home - q)  # (7,)
            dq += bias - jac.T @ np.linalg.solve(jj + 1e-8 * eye, jac @ bias)
            q = np.clip(q + dq, self.low, self.high)
        return q
