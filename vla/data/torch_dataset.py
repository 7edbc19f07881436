"""The PyTorch Dataset over a v3.0 dataset: frames with decoded images and history/future windows.

    ds = FrameDataset("outputs/data/pick", delta_timestamps={"action": [i / 10 for i in range(10)]})
    sample = ds[123]
    # {"images": {"front": uint8 (H, W, 3)}, "state": float32 (S,), "instruction": "pick up the red cube",
    #  "actions": float32 (10, A), "actions_is_pad": bool (10,), "episode_index": 4, "frame_index": 17, ...}

`delta_timestamps` maps dataset keys ("action", "observation.state", "observation.images.<cam>") to offsets
in seconds from the sampled frame, as in LeRobot; each offset must be a multiple of 1/fps. A key with
offsets gets a leading time axis (T, ...) and a `*_is_pad` mask: offsets that fall outside the episode
repeat its first/last frame and are marked True (ACT / Diffusion Policy mask those steps out of the loss).
Keys without offsets give the frame itself. Images come back uint8 (H, W, 3) (the Observation contract),
or float32 (3, H, W) in [0, 1] with `image_format="float"`; `cameras=["front"]` decodes only those.

Normalization is not done here: `vla.normalize` reads `self.stats` (meta/stats.json). Video decoders are
opened lazily in each DataLoader worker (see `DatasetReader`), never pickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from vla.data.reader import DatasetReader

# dataset key -> observation-contract key
STATE_KEY, ACTION_KEY, IMAGE_PREFIX = "observation.state", "action", "observation.images."
CONTRACT = {STATE_KEY: "state", ACTION_KEY: "actions"}


def delta_indices(delta_timestamps: Mapping[str, Sequence[float]], fps: int,
                  tolerance_s: float = 1e-4) -> dict[str, np.ndarray]:
    """Offsets in seconds -> offsets in frames; raises naming the key if one is not a multiple of 1/fps."""
    out = {}
    for key, deltas in delta_timestamps.items():
        d = np.asarray(list(deltas), dtype=np.float64)
        if d.ndim != 1 or len(d) == 0:
            raise ValueError(f"delta_timestamps[{key!r}] must be a non-empty list of seconds, got {deltas!r}")
        frames = np.round(d * fps)
        bad = d[np.abs(d - frames / fps) > tolerance_s]
        if len(bad):
            raise ValueError(f"delta_timestamps[{key!r}] has {bad.tolist()}, not multiples of 1/{fps} s")
        out[key] = frames.astype(np.int64)
    return out


class FrameDataset(torch.utils.data.Dataset):
    """Random access to frames of the dataset at `root` (see module docstring)."""

    def __init__(self, root: str | Path, delta_timestamps: Mapping[str, Sequence[float]] | None = None,
                 episodes: Sequence[int] | None = None, image_format: str = "uint8",
                 transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 cameras: Sequence[str] | None = None):
        if image_format not in ("uint8", "float"):
            raise ValueError(f"image_format must be 'uint8' or 'float', got {image_format!r}")
        self.reader = DatasetReader(root)
        meta = self.reader.meta
        if cameras is not None:
            unknown = sorted(set(cameras) - set(meta.camera_names))
            if unknown:
                raise KeyError(f"cameras {unknown} are not in {root}; it has {meta.camera_names}")
        # only these cameras are decoded (each costs one video decode per sample)
        self.camera_keys = [k for k in meta.camera_keys if cameras is None or k[len(IMAGE_PREFIX):] in cameras]
        known = set(meta.features)
        for key in delta_timestamps or {}:
            if key not in known:
                raise KeyError(f"delta_timestamps key {key!r} is not a feature; features: {sorted(known)}")
        self.deltas = delta_indices(delta_timestamps or {}, meta.fps)
        self.image_format, self.transform = image_format, transform
        eps = range(len(meta.episodes)) if episodes is None else list(episodes)
        for e in eps:
            if not 0 <= e < len(meta.episodes):
                raise IndexError(f"episode {e} out of range 0..{len(meta.episodes) - 1}")
        self.episodes = list(eps)
        self._frames = np.concatenate([np.arange(meta.episodes[e]["dataset_from_index"],
                                                 meta.episodes[e]["dataset_to_index"]) for e in self.episodes]
                                      ) if self.episodes else np.zeros(0, np.int64)
        self._ep_from = np.array([ep["dataset_from_index"] for ep in meta.episodes], dtype=np.int64)
        self._ep_len = np.array([ep["length"] for ep in meta.episodes], dtype=np.int64)

    @property
    def meta(self):
        return self.reader.meta

    @property
    def stats(self):
        """meta/stats.json as numpy arrays, for `vla.normalize`."""
        return self.reader.stats

    def __len__(self) -> int:
        return len(self._frames)

    def _window(self, key: str, ep: int, fi: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Frame indices within the episode for `key` (clamped) and the pad mask, or ([fi], None)."""
        if key not in self.deltas:
            return np.array([fi]), None
        idx = fi + self.deltas[key]
        pad = (idx < 0) | (idx >= self._ep_len[ep])
        return np.clip(idx, 0, self._ep_len[ep] - 1), pad

    def __getitem__(self, i: int) -> dict[str, Any]:
        g = int(self._frames[i])
        cols = self.reader.columns
        ep, fi = int(cols["episode_index"][g]), int(cols["frame_index"][g])
        out: dict[str, Any] = {"instruction": self.meta.tasks[int(cols["task_index"][g])], "images": {},
                               "episode_index": ep, "frame_index": fi, "index": g,
                               "timestamp": float(cols["timestamp"][g])}
        for key in (STATE_KEY, ACTION_KEY):
            if key not in cols:
                continue
            idx, pad = self._window(key, ep, fi)
            values = cols[key][self._ep_from[ep] + idx].astype(np.float32)  # (T, n)
            name = CONTRACT[key]
            out[name] = values if pad is not None else values[0]
            if pad is not None:
                out[f"{name}_is_pad"] = pad
        for key in self.camera_keys:
            cam = key[len(IMAGE_PREFIX):]
            idx, pad = self._window(key, ep, fi)
            frames = self.reader.camera_frames(key, ep, idx)  # (T, H, W, 3) uint8
            if self.image_format == "float":
                frames = frames.transpose(0, 3, 1, 2).astype(np.float32) / 255.0  # (T, 3, H, W)
            out["images"][cam] = frames if pad is not None else frames[0]
            if pad is not None:
                out.setdefault("images_is_pad", {})[cam] = pad
        return self.transform(out) if self.transform is not None else out
