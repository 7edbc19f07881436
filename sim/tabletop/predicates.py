"""Geometric predicates over a tabletop env's current state, shared by success checks, subgoals, experts
and the SayCan planner's success detector.

Every predicate takes the env (or a wrapper of it) and object names as `scene_objects()` lists them
("red block", "green bowl"), and returns a bool computed from privileged simulator state:

- `is_held(env, block)`: both fingers touch the block (the gripper pinches it).
- `is_in(env, block, bowl)`: the block rests inside the bowl's rim and is not held.
- `is_on(env, block, other)`: the block sits on top of block `other` (centered within half a block,
  one block height above it) and is not held.
- `is_touching(env, obj)`: the hand or a finger is in contact with the object now.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.tabletop.scene import BLOCK_HALF, BOWL_INNER


def _base(env: Any):
    return getattr(env, "unwrapped", env)


def is_held(env: Any, block: str) -> bool:
    """True when both fingers are in contact with `block`."""
    phys = _base(env).physics
    touching = phys.contacts(block)
    return all(b in touching for b in phys.finger_geoms)


def is_in(env: Any, block: str, bowl: str) -> bool:
    """True when `block`'s center is inside `bowl`'s rim (with 1 cm to spare), low, and not held."""
    base = _base(env)
    p, c = base.object_position(block), base.object_position(bowl)
    inside = np.hypot(p[0] - c[0], p[1] - c[1]) <= BOWL_INNER - 0.01
    low = p[2] - c[2] < 4 * BLOCK_HALF - 0.005  # resting in it (possibly on another block there)
    return bool(inside and low and not is_held(base, block))


def is_on(env: Any, block: str, other: str) -> bool:
    """True when `block` rests on top of block `other` (its center within half a block of the other's
    axis, its height one block above) and is not held."""
    base = _base(env)
    p, q = base.object_position(block), base.object_position(other)
    centered = np.hypot(p[0] - q[0], p[1] - q[1]) <= BLOCK_HALF
    stacked = abs((p[2] - q[2]) - 2 * BLOCK_HALF) <= 0.6 * BLOCK_HALF
    return bool(centered and stacked and not is_held(base, block))


def is_touching(env: Any, obj: str) -> bool:
    """True when the hand or either finger is in contact with `obj` now."""
    phys = _base(env).physics
    return bool(phys.contacts(obj) & phys.robot_bodies)
