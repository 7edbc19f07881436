"""Fixtures for the dataset tests: small synthetic datasets written with our writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vla.data import DatasetWriter

FEATURES = {
    "observation.images.front": {"dtype": "video", "shape": [32, 48, 3]},
    "observation.state": {"dtype": "float32", "shape": [4], "names": ["x", "y", "z", "g"]},
    "action": {"dtype": "float32", "shape": [3], "names": None},
}


def frame_image(ep: int, t: int, shape=(32, 48, 3)) -> np.ndarray:
    """A smooth test image whose mean brightness encodes (episode, frame) so decoded frames can be matched."""
    h, w, _ = shape
    img = np.zeros(shape, np.uint8)
    img[...] = (40 + 10 * ep + 4 * t) % 250
    img[: h // 2, : w // 2, 0] = 200  # a fixed red corner: channels differ
    return img


def write_episodes(writer: DatasetWriter, lengths: list[int], seed: int = 0, first_ep: int = 0,
                   tasks: tuple[str, ...] = ("pick the cube", "open the drawer")) -> dict[str, list[np.ndarray]]:
    """Write episodes of the given lengths; returns the numeric values written, per key, per episode."""
    rng = np.random.default_rng(seed)
    written: dict[str, list[np.ndarray]] = {"observation.state": [], "action": []}
    for i, n in enumerate(lengths):
        ep = first_ep + i
        state = rng.normal(size=(n, 4)).astype(np.float32)
        action = rng.uniform(-1, 1, size=(n, 3)).astype(np.float32)
        for t in range(n):
            writer.add_frame({"observation.images.front": frame_image(ep, t), "observation.state": state[t],
                              "action": action[t]})
        writer.save_episode(tasks[ep % len(tasks)])
        written["observation.state"].append(state)
        written["action"].append(action)
    return written


@pytest.fixture
def small_dataset(tmp_path: Path) -> tuple[Path, dict[str, list[np.ndarray]]]:
    """3 episodes (12, 7, 9 frames) at 10 fps with one 32x48 camera; returns (root, written values)."""
    root = tmp_path / "ds"
    with DatasetWriter.create(root, fps=10, features=FEATURES, robot_type="toy") as w:
        written = write_episodes(w, [12, 7, 9])
    return root, written
