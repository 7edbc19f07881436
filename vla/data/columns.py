"""Per-frame checks and column plumbing shared by the writer: value validation, Arrow arrays, codec names,
and the committed numeric history a writer reopens with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vla.data.format import DEFAULT_VIDEO_CODEC, VIDEO_CODECS, column_to_numpy, is_video
from vla.data.meta import DatasetMeta


def codec_of(features: dict[str, dict[str, Any]]) -> str:
    """The dataset's video codec as our name for it (LeRobot writes 'av1'/'h264', newer versions 'codec');
    H.264 in yuv444p is our 'h264-444'."""
    for ft in features.values():
        info = ft.get("info") or {}
        name = str(info.get("video.codec", info.get("codec", ""))).lower()
        if name in ("av1", "libsvtav1", "libaom-av1", "libdav1d"):
            return "av1"
        if name in ("h264", "libx264", "avc1"):
            pix_fmt = str(info.get("video.pix_fmt", info.get("pix_fmt", ""))).lower()
            return next((k for k, c in VIDEO_CODECS.items() if c.name == "h264" and c.pix_fmt == pix_fmt), "h264")
    return DEFAULT_VIDEO_CODEC


def check_value(key: str, value: Any, ft: dict[str, Any]) -> np.ndarray:
    """One frame value as numpy in the feature's dtype/shape; raises naming the key if it does not fit."""
    if is_video(ft):
        arr = np.asarray(value)
        if arr.dtype != np.uint8 or list(arr.shape) != ft["shape"]:
            raise ValueError(f"{key}: expected uint8 image of shape {ft['shape']}, got {arr.dtype} {list(arr.shape)}")
        return arr
    arr = np.asarray(value)
    if arr.shape == () and ft["shape"] == [1]:
        arr = arr.reshape(1)
    if list(arr.shape) != ft["shape"]:
        raise ValueError(f"{key}: expected shape {ft['shape']}, got {list(arr.shape)}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{key}: non-finite values {arr.tolist()} (a dataset never stores NaN or inf)")
    return arr.astype(ft["dtype"], copy=False)


def to_arrow(values: np.ndarray, typ: pa.DataType) -> pa.Array:
    if pa.types.is_fixed_size_list(typ):
        flat = pa.array(values.reshape(-1), type=typ.value_type)
        return pa.FixedSizeListArray.from_arrays(flat, type=typ)
    return pa.array(values.reshape(-1), type=typ)


def load_numeric(meta: DatasetMeta) -> dict[str, np.ndarray]:
    """All committed numeric values, key -> (N, n), read from the data files in frame order."""
    feats = {k: meta.features[k] for k in meta.numeric_keys}
    if not meta.episodes:
        return {}
    parts: dict[str, list[np.ndarray]] = {k: [] for k in feats}
    seen: set[Path] = set()
    for ep in meta.episodes:
        path = meta.data_path(ep)
        if path in seen:
            continue
        seen.add(path)
        table = pq.read_table(path, columns=list(feats))
        for k, ft in feats.items():
            parts[k].append(column_to_numpy(table[k], ft).reshape(table.num_rows, -1))
    return {k: np.concatenate(v) for k, v in parts.items()}
