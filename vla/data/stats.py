"""Feature statistics as LeRobot stores them: per key min/max/mean/std/count and quantiles q01..q99.

Numeric features: statistics over the frame axis, shape (n,) per statistic; computed exactly (numpy's
linear-interpolation quantiles). Images: per channel over all pixels of all frames, values in [0, 1],
shape (3, 1, 1) as LeRobot keeps them. Image statistics come from a 256-bin histogram per channel, which
is exact for uint8 pixels (LeRobot samples frames and downsamples instead; ours sees every pixel).

Dataset-level image statistics aggregate the per-episode ones as LeRobot does: min/max exact, mean and
std pooled exactly from (count, mean, std), quantiles as the count-weighted mean of episode quantiles
(an approximation, the same one LeRobot makes). Numeric dataset statistics are recomputed exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vla.data.format import QUANTILES

Stats = dict[str, np.ndarray]


def numeric_stats(values: np.ndarray) -> Stats:
    """Stats of (N,) or (N, n) values over the frame axis; (N,) gives shape (1,) stats like LeRobot's."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]  # (N, 1)
    if x.shape[0] == 0:
        raise ValueError("cannot compute stats of zero frames")
    out: Stats = {"min": x.min(0), "max": x.max(0), "mean": x.mean(0), "std": x.std(0),
                  "count": np.array([x.shape[0]], dtype=np.int64)}
    qs = np.quantile(x, list(QUANTILES.values()), axis=0)  # (len(QUANTILES), n)
    for name, q in zip(QUANTILES, qs):
        out[name] = q
    return out


class ImageStatsAccumulator:
    """Running per-channel 256-bin histograms of uint8 RGB frames; `stats()` gives LeRobot image stats."""

    def __init__(self) -> None:
        self.hist = np.zeros((3, 256), dtype=np.int64)  # (C, 256)
        self.frames = 0

    def add(self, frame: np.ndarray) -> None:
        """Count the pixels of one uint8 (H, W, 3) frame."""
        flat = frame.reshape(-1, 3)  # (H*W, 3)
        for c in range(3):
            self.hist[c] += np.bincount(flat[:, c], minlength=256)
        self.frames += 1

    def stats(self) -> Stats:
        if self.frames == 0:
            raise ValueError("cannot compute image stats of zero frames")
        levels = np.arange(256, dtype=np.float64)
        n = self.hist.sum(1).astype(np.float64)  # (C,)
        mean = (self.hist * levels).sum(1) / n
        var = (self.hist * (levels[None] - mean[:, None]) ** 2).sum(1) / n
        nz = self.hist > 0
        out: Stats = {"min": nz.argmax(1).astype(np.float64), "max": 255 - nz[:, ::-1].argmax(1).astype(np.float64),
                      "mean": mean, "std": np.sqrt(var)}
        for name, q in QUANTILES.items():
            out[name] = np.array([_hist_quantile(self.hist[c], q) for c in range(3)])
        out = {k: (v / 255.0).reshape(3, 1, 1) for k, v in out.items()}  # (3, 1, 1) in [0, 1]
        out["count"] = np.array([self.frames], dtype=np.int64)
        return out


def _hist_quantile(hist: np.ndarray, q: float) -> float:
    """numpy's 'linear' quantile of the samples a histogram of integer levels 0..255 describes."""
    n = int(hist.sum())
    pos = q * (n - 1)
    lo, frac = int(np.floor(pos)), pos - np.floor(pos)
    cdf = np.cumsum(hist)
    v_lo = int(np.searchsorted(cdf, lo, side="right"))  # level of the lo-th smallest sample
    v_hi = int(np.searchsorted(cdf, min(lo + 1, n - 1), side="right"))
    return v_lo + frac * (v_hi - v_lo)


def aggregate(stats_list: list[Stats]) -> Stats:
    """Combine per-episode stats of one key: exact min/max/mean/std, count-weighted mean of quantiles."""
    if not stats_list:
        raise ValueError("aggregate needs at least one stats dict")
    counts = np.array([float(s["count"][0]) for s in stats_list])  # (E,)
    total = counts.sum()
    shape = (-1,) + (1,) * np.asarray(stats_list[0]["mean"]).ndim
    w = (counts / total).reshape(shape)  # (E, 1, ...)
    means = np.stack([s["mean"] for s in stats_list])
    mean = (w * means).sum(0)
    var = (w * (np.stack([s["std"] for s in stats_list]) ** 2 + (means - mean) ** 2)).sum(0)
    out: Stats = {"min": np.min(np.stack([s["min"] for s in stats_list]), 0),
                  "max": np.max(np.stack([s["max"] for s in stats_list]), 0),
                  "mean": mean, "std": np.sqrt(var), "count": np.array([int(total)], dtype=np.int64)}
    for name in QUANTILES:
        if all(name in s for s in stats_list):
            out[name] = (w * np.stack([s[name] for s in stats_list])).sum(0)
    return out


def to_json(stats: dict[str, Stats]) -> dict[str, dict[str, Any]]:
    """Stats as JSON-able nested lists (stats.json)."""
    return {key: {k: np.asarray(v).tolist() for k, v in s.items()} for key, s in stats.items()}


def from_json(obj: dict[str, dict[str, Any]]) -> dict[str, Stats]:
    """stats.json contents back to numpy arrays."""
    return {key: {k: np.asarray(v) for k, v in s.items()} for key, s in obj.items()}
