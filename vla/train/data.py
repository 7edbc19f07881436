"""Training data: LeRobot v3 datasets split by episode into train / held-out, checked against the model,
with norm stats from their `meta/stats.json` (recomputed exactly over several datasets) and the input
transforms applied per sample.

Episodes, not frames, are held out: neighbouring frames of one episode are near-duplicates, so a frame
split would measure memorization. The split is a seeded permutation per dataset, stable across runs and
processes, and a resumed run gets the same one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from vla.data.meta import DatasetMeta
from vla.data.stats import numeric_stats
from vla.normalize import Normalizer, stats_from_dict
from vla.transforms import ACTION_KEY, STATE_KEY, apply, resize_image

NORM_KEYS = (STATE_KEY, ACTION_KEY)


def split_episodes(num_episodes: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, held-out) episode indices, both sorted: round(fraction * n) held out, at least one when
    fraction > 0, and at least one left for training. Raises when the dataset has no episode."""
    if num_episodes <= 0:
        raise ValueError("the dataset has no episodes")
    n_out = 0 if fraction <= 0 else min(num_episodes - 1, max(1, round(fraction * num_episodes)))
    order = np.random.default_rng([seed, 7919]).permutation(num_episodes)
    return sorted(int(e) for e in order[n_out:]), sorted(int(e) for e in order[:n_out])


def check_fits(meta: DatasetMeta, model_cfg: Any) -> None:
    """Raise ValueError listing every way the dataset at `meta.root` does not fit the model config
    (cameras, state and action dimensions), before any frame is decoded. Other image sizes are resized."""
    problems = []
    cams = meta.camera_names
    missing = [c for c in model_cfg.cameras if c not in cams]
    if missing:
        problems.append(f"cameras {missing} missing (dataset has {cams})")
    wanted = ((STATE_KEY, model_cfg.state_dim, "state_dim"), (ACTION_KEY, model_cfg.action_dim, "action_dim"))
    for key, want, name in wanted:
        shape = meta.features.get(key, {}).get("shape")
        if shape is None:
            problems.append(f"feature {key!r} missing")
        elif list(shape) != [want]:
            problems.append(f"{key!r} has shape {shape}, the model's {name} is {want}")
    if problems:
        raise ValueError(f"dataset {meta.root} does not fit the model config: " + "; ".join(problems))


def dataset_normalizer(metas: Sequence[DatasetMeta]) -> Normalizer:
    """A Normalizer from the datasets' state and action statistics.

    One dataset: its `meta/stats.json`, which is exact for numeric features. Several datasets: statistics
    recomputed exactly over all their frames, because quantiles do not pool: the count-weighted mean of
    per-dataset quantiles (LeRobot's aggregate) is wrong wherever the datasets differ. Touch and push
    episodes keep the gripper closed (q99 = -1) while pick opens it (q99 = +1); their weighted mean put the
    gripper's q99 at -0.22, so "open" was clipped to a two-thirds-closed command and no pick could grasp.
    Missing stats for the state or the action raise naming the dataset, never a silent identity.
    """
    for meta in metas:
        absent = [k for k in NORM_KEYS if k not in meta.stats]
        if absent:
            raise KeyError(f"{meta.root}/meta/stats.json has no stats for {absent} (run `vla-dataset validate --fix`)")
    if len(metas) == 1:
        return Normalizer(stats_from_dict({key: metas[0].stats[key] for key in NORM_KEYS}))
    from vla.data.reader import DatasetReader

    columns = [DatasetReader(meta.root).columns for meta in metas]
    exact = {key: numeric_stats(np.concatenate([c[key] for c in columns])) for key in NORM_KEYS}
    return Normalizer(stats_from_dict(exact))


def action_chunks(columns: dict[str, np.ndarray], meta: DatasetMeta, episodes: Sequence[int],
                  horizon: int) -> np.ndarray:
    """Raw action chunks (N, H, A) of every frame of `episodes`, without decoding video: frame t's chunk is
    actions t .. t+H-1, the episode's last action repeated past its end (as `FrameDataset` pads)."""
    actions = columns[ACTION_KEY]  # (frames, A)
    chunks = []
    for e in episodes:
        lo, length = int(meta.episodes[e]["dataset_from_index"]), int(meta.episodes[e]["length"])
        idx = np.minimum(np.arange(length)[:, None] + np.arange(horizon)[None, :], length - 1)  # (L, H)
        chunks.append(actions[lo + idx])  # (L, H, A)
    return np.concatenate(chunks).astype(np.float32)


class TransformedFrames(torch.utils.data.Dataset):
    """Frames of several datasets, in order, each resized to the model's image size and passed through the
    input transforms.

    Takes already-opened `FrameDataset`s (constructors take loaded things); `steps` is the list from
    `vla.transforms.make_input_transforms`, the same one inference uses.
    """

    def __init__(self, datasets: Sequence[Any], steps: Sequence[Any], image_size: int | None = None) -> None:
        self.datasets = list(datasets)
        self.steps = list(steps)
        self.image_size = image_size  # frames of another size are resized to it first
        self._ends = np.cumsum([len(d) for d in self.datasets])

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self):
            raise IndexError(f"frame {i} out of range 0..{len(self) - 1}")
        which = int(np.searchsorted(self._ends, i, side="right"))
        local = i - (int(self._ends[which - 1]) if which else 0)
        frame = self.datasets[which][local]
        if self.image_size is not None:
            frame = {**frame, "images": {c: resize_image(im, self.image_size) for c, im in frame["images"].items()}}
        return apply(self.steps, frame)


@dataclass
class DataSplit:
    """The opened datasets of a run: metadata, the episode split per dataset, and the norm stats."""

    roots: list[Path]
    metas: list[DatasetMeta]
    train_episodes: list[list[int]]
    heldout_episodes: list[list[int]]
    normalizer: Normalizer

    @property
    def has_heldout(self) -> bool:
        return any(self.heldout_episodes)


def open_data(roots: Sequence[str], heldout_fraction: float, seed: int, model_cfg: Any) -> DataSplit:
    """Read the datasets' metadata, check them against the model, split episodes, build the normalizer."""
    if not roots:
        raise ValueError("data.roots is empty: name at least one dataset, e.g. data.roots=[outputs/data/pick]")
    paths = [Path(r).expanduser() for r in roots]
    metas = [DatasetMeta.load(p) for p in paths]
    fps = {m.fps for m in metas}
    if len(fps) > 1:
        raise ValueError(f"data.roots mix frame rates {sorted(fps)}; action chunks would span different times")
    for meta in metas:
        check_fits(meta, model_cfg)
    splits = [split_episodes(len(m.episodes), heldout_fraction, seed + i) for i, m in enumerate(metas)]
    return DataSplit(paths, metas, [s[0] for s in splits], [s[1] for s in splits], dataset_normalizer(metas))


def frame_datasets(split: DataSplit, heldout: bool, horizon: int) -> list[Any]:
    """One `FrameDataset` per root over its train (or held-out) episodes, with action chunks of `horizon`."""
    from vla.data.torch_dataset import FrameDataset

    out = []
    for root, meta, train_eps, out_eps in zip(split.roots, split.metas, split.train_episodes, split.heldout_episodes):
        episodes = out_eps if heldout else train_eps
        if episodes:
            deltas = {ACTION_KEY: [k / meta.fps for k in range(horizon)]}
            out.append(FrameDataset(root, delta_timestamps=deltas, episodes=episodes))
    return out
