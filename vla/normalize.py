"""Normalization of state and actions, with the statistics that travel in the checkpoint.

`NormStats` holds one key's statistics (q01, q99, mean, std, min, max; each optional, since LeRobot's older
stats lack quantiles and openpi's lack min/max). `Normalizer` applies a mode per key:

- "quantile": [q01, q99] -> [-1, 1], clipped (RT-2 / OpenVLA; the action tokenizers bin exactly this range)
- "mean_std": (x - mean) / std
- "min_max":  [min, max] -> [-1, 1], clipped
- "identity": unchanged

A dimension whose range (or std) is zero is constant in the data: it normalizes to 0 and unnormalizes to
the constant, never divides by zero. Asking for a key that has no stats raises KeyError naming the key and
the keys present: a LeRobot issue had arms wobbling because stats were silently not applied.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from vla.io import atomic_write_json

STAT_FIELDS = ("q01", "q99", "mean", "std", "min", "max")
MODE_FIELDS = {"quantile": ("q01", "q99"), "mean_std": ("mean", "std"), "min_max": ("min", "max"), "identity": ()}
DEFAULT_MODES: dict[str, str] = {"action": "quantile", "observation.state": "mean_std"}
NORM_STATS_FILE = "norm_stats.json"
EPS = 1e-8  # ranges / stds below this count as zero (a constant dimension)


@dataclasses.dataclass(frozen=True)
class NormStats:
    """Per-dimension statistics of one key; every given field is a 1-D float64 array of the same length."""

    q01: np.ndarray | None = None
    q99: np.ndarray | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    min: np.ndarray | None = None
    max: np.ndarray | None = None

    def __post_init__(self) -> None:
        dims = set()
        for name in STAT_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            arr = np.asarray(value, dtype=np.float64).reshape(-1)  # LeRobot image stats are (C, 1, 1)
            if arr.size == 0 or not np.all(np.isfinite(arr)):
                raise ValueError(f"NormStats.{name} must be non-empty and finite, got {value!r}")
            object.__setattr__(self, name, arr)
            dims.add(arr.size)
        if not dims:
            raise ValueError(f"NormStats needs at least one of {STAT_FIELDS}, got none")
        if len(dims) > 1:
            sizes = {n: getattr(self, n).size for n in STAT_FIELDS if getattr(self, n) is not None}
            raise ValueError(f"NormStats fields disagree in length: {sizes}")

    @property
    def dim(self) -> int:
        """Number of dimensions these statistics describe."""
        return next(getattr(self, n).size for n in STAT_FIELDS if getattr(self, n) is not None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "NormStats":
        """From one key's entry of a LeRobot `meta/stats.json` or a `norm_stats.json` (extra fields ignored)."""
        return cls(**{name: data[name] for name in STAT_FIELDS if name in data})

    @classmethod
    def from_array(cls, x: np.ndarray) -> "NormStats":
        """All six statistics of samples `x` (N, D) (or (N, ..., D), flattened to rows)."""
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim < 2 or arr.shape[0] == 0:
            raise ValueError(f"NormStats.from_array needs samples of shape (N>0, ..., D), got {arr.shape}")
        arr = arr.reshape(-1, arr.shape[-1])  # (N', D)
        q01, q99 = np.quantile(arr, [0.01, 0.99], axis=0)
        return cls(q01=q01, q99=q99, mean=arr.mean(0), std=arr.std(0), min=arr.min(0), max=arr.max(0))

    def to_dict(self) -> dict[str, list[float]]:
        """The given fields as JSON-able lists."""
        return {n: getattr(self, n).tolist() for n in STAT_FIELDS if getattr(self, n) is not None}


def stats_from_dict(data: Mapping[str, Any]) -> dict[str, NormStats]:
    """Parse a LeRobot `meta/stats.json` dict, a `norm_stats.json` dict, or openpi's {"norm_stats": {...}}.

    Keys without any usable statistic (e.g. `timestamp` in some datasets) are skipped.
    """
    if "stats" in data and isinstance(data["stats"], Mapping):  # our norm_stats.json
        data = data["stats"]
    elif "norm_stats" in data and isinstance(data["norm_stats"], Mapping):  # openpi
        data = data["norm_stats"]
    out: dict[str, NormStats] = {}
    for key, entry in data.items():
        if isinstance(entry, Mapping) and any(f in entry for f in STAT_FIELDS):
            out[key] = NormStats.from_dict(entry)
    return out


def _span(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(center, half-width) of [lo, hi]: the affine map taking [lo, hi] onto [-1, 1]."""
    return (hi + lo) / 2.0, (hi - lo) / 2.0


class Normalizer:
    """Normalizes / unnormalizes arrays (..., D) per key with the mode of that key; see the module doc."""

    def __init__(self, stats: Mapping[str, NormStats], modes: Mapping[str, str] | None = None) -> None:
        self.stats = dict(stats)
        self.modes = dict(DEFAULT_MODES if modes is None else modes)
        for key, mode in self.modes.items():
            if mode not in MODE_FIELDS:
                raise ValueError(f"unknown normalization mode {mode!r} for key {key!r}; known: {sorted(MODE_FIELDS)}")

    def __repr__(self) -> str:
        return f"Normalizer(modes={self.modes}, stats keys={sorted(self.stats)})"

    def _lookup(self, key: str, x: np.ndarray) -> tuple[str, NormStats | None, np.ndarray]:
        if key not in self.modes:
            raise KeyError(f"no normalization mode for key {key!r}; modes are set for {sorted(self.modes)}")
        mode = self.modes[key]
        arr = np.asarray(x, dtype=np.float64)
        if mode == "identity":
            return mode, None, arr
        if key not in self.stats:
            raise KeyError(f"no normalization stats for key {key!r}; stats present: {sorted(self.stats)}")
        st = self.stats[key]
        missing = [f for f in MODE_FIELDS[mode] if getattr(st, f) is None]
        if missing:
            raise KeyError(f"stats for key {key!r} lack {missing}, needed by mode {mode!r}")
        if arr.ndim == 0 or arr.shape[-1] != st.dim:
            raise ValueError(f"{key!r} has shape {arr.shape}, expected last dimension {st.dim} (its stats)")
        return mode, st, arr

    def _bounds(self, mode: str, st: NormStats) -> tuple[np.ndarray, np.ndarray]:
        """(center, scale) of the affine map y = (x - center) / scale; scale 0 marks a constant dimension."""
        if mode == "mean_std":
            return st.mean, st.std
        lo, hi = (st.q01, st.q99) if mode == "quantile" else (st.min, st.max)
        return _span(lo, hi)

    def normalize(self, key: str, x: np.ndarray) -> np.ndarray:
        """`x` (..., D) of `key` in normalized units, float32; quantile / min_max results are clipped to [-1, 1]."""
        mode, st, arr = self._lookup(key, x)
        if st is None:
            return arr.astype(np.float32)
        center, scale = self._bounds(mode, st)
        const = scale < EPS  # (D,) constant dimensions map to 0
        y = np.where(const, 0.0, (arr - center) / np.where(const, 1.0, scale))  # (..., D)
        if mode != "mean_std":
            y = np.clip(y, -1.0, 1.0)
        return y.astype(np.float32)

    def unnormalize(self, key: str, y: np.ndarray) -> np.ndarray:
        """Normalized `y` (..., D) of `key` back in data units, float32 (the inverse of `normalize`)."""
        mode, st, arr = self._lookup(key, y)
        if st is None:
            return arr.astype(np.float32)
        center, scale = self._bounds(mode, st)
        return (arr * scale + center).astype(np.float32)  # a zero scale gives back the constant

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to `norm_stats.json`: {"modes": {...}, "stats": {key: {field: [...]}}}."""
        return {"modes": dict(self.modes), "stats": {k: s.to_dict() for k, s in self.stats.items()}}

    def save(self, path: str | Path) -> None:
        """Write `norm_stats.json` atomically; `path` is the file or a directory (a checkpoint) to put it in."""
        path = Path(path)
        atomic_write_json(path / NORM_STATS_FILE if path.is_dir() else path, self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], modes: Mapping[str, str] | None = None) -> "Normalizer":
        """From a `norm_stats.json` / LeRobot `stats.json` dict; `modes` overrides the file's (or the defaults)."""
        file_modes = data.get("modes") if isinstance(data.get("modes"), Mapping) else None
        return cls(stats_from_dict(data), modes if modes is not None else file_modes)

    @classmethod
    def load(cls, path: str | Path, modes: Mapping[str, str] | None = None) -> "Normalizer":
        """Read a `norm_stats.json` or LeRobot `meta/stats.json` (a file, or a directory holding norm_stats.json)."""
        path = Path(path)
        if path.is_dir():
            path = path / NORM_STATS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"normalization stats not found: {path}")
        return cls.from_dict(json.loads(path.read_text()), modes)
