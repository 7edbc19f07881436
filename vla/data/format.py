"""The LeRobotDataset v3.0 layout in one place: paths, default features, info.json, Arrow schemas.

A dataset root holds (all paths relative to it):

    meta/info.json                                   codebase_version "v3.0", fps, features, totals, path templates
    meta/stats.json                                  per key: min/max/mean/std/count/q01/q10/q50/q90/q99
    meta/tasks.parquet                               task text (pandas index "task") -> task_index
    meta/episodes/chunk-XXX/file-XXX.parquet         one row per episode: length, tasks, file indices,
                                                     dataset_from/to_index, video from/to timestamps, stats/...
    data/chunk-XXX/file-XXX.parquet                  one row per frame, every non-video feature
    videos/<key>/chunk-XXX/file-XXX.mp4              one stream per camera, episodes back to back

Data parquet columns follow the Hugging Face `datasets` types LeRobot loads them with: a feature of shape
(1,) is a plain scalar column, a feature of shape (n,) a fixed-size list of n values. The schema carries the
`huggingface` metadata `datasets` writes, so `LeRobotDataset` reads our files unchanged.
"""

from __future__ import annotations

import copy
import json
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

CODEBASE_VERSION = "v3.0"
DEFAULT_CHUNK_SIZE = 1000  # files per chunk directory
DEFAULT_DATA_FILE_SIZE_IN_MB = 100
DEFAULT_VIDEO_FILE_SIZE_IN_MB = 500

INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
EPISODES_PATH = EPISODES_DIR + "/" + CHUNK_FILE + ".parquet"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"

# Columns every frame has; the writer fills them, the caller never passes them.
DEFAULT_FEATURES: dict[str, dict[str, Any]] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
NUMERIC_DTYPES = ("float32", "float64", "int32", "int64", "bool")
QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}

class VideoCodec(NamedTuple):
    """A video codec the writer offers (`VIDEO_CODECS`): the PyAV encoder, its options, the codec name
    info.json gives LeRobot ("video.codec") and the pixel format.

    g=2: a keyframe every 2 frames, so a random frame costs at most 2 decodes (LeRobot uses g=2 too); no
    B-frames, so decode order equals display order and a seek lands exactly. "h264-444" is H.264 without
    chroma subsampling at qp 0 (lossless in YUV; RGB<->YUV rounding leaves |error| <= 2 levels). yuv420p
    keeps one color sample per 2x2 pixels, which at 64 px turns a 4-px colored block grey (a blue pixel
    (40, 97, 255) decoded as (110, 89, 106)), so a policy trained on 4:2:0 video of small images sees
    colors it never meets in the live camera. At 64 px the lossless files are ~0.6 KB per frame and decode
    faster than crf-18 4:2:0.
    """

    encoder: str
    options: dict[str, str]
    name: str
    pix_fmt: str


VIDEO_CODECS: dict[str, VideoCodec] = {
    "h264": VideoCodec("libx264", {"g": "2", "bf": "0", "crf": "18", "preset": "veryfast"}, "h264", "yuv420p"),
    "av1": VideoCodec("libsvtav1", {"g": "2", "crf": "30", "preset": "8", "svtav1-params": "lp=1"}, "av1", "yuv420p"),
    "h264-444": VideoCodec("libx264", {"g": "2", "bf": "0", "qp": "0", "preset": "veryfast"}, "h264", "yuv444p"),
}
DEFAULT_VIDEO_CODEC = "h264"


def camera_key(camera: str) -> str:
    """The feature key of a camera stream ('front' -> 'observation.images.front')."""
    return f"observation.images.{camera}"


def is_video(feature: dict[str, Any]) -> bool:
    return feature["dtype"] == "video"


def validate_features(features: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Check user features (no defaults) and return a normalized deep copy (shapes as lists).

    Video features must be uint8 (H, W, 3) images; numeric ones 1-D with a dtype from NUMERIC_DTYPES.
    Raises ValueError naming the key and the bad value.
    """
    if not features:
        raise ValueError("features must name at least one feature, got none")
    out: dict[str, dict[str, Any]] = {}
    for key, ft in features.items():
        if "/" in key:
            raise ValueError(f"feature name {key!r} must not contain '/' (it separates stats columns)")
        if key in DEFAULT_FEATURES:
            raise ValueError(f"feature {key!r} is filled by the writer; leave it out of features")
        if not isinstance(ft, dict) or "dtype" not in ft or "shape" not in ft:
            raise ValueError(f"feature {key!r} needs 'dtype' and 'shape', got {ft!r}")
        ft = copy.deepcopy(dict(ft))
        ft["shape"] = [int(s) for s in ft["shape"]]
        ft.setdefault("names", None)
        if ft["dtype"] == "video":
            if len(ft["shape"]) != 3 or ft["shape"][2] != 3 or min(ft["shape"]) <= 0:
                raise ValueError(f"video feature {key!r} needs shape [H, W, 3], got {ft['shape']}")
            ft["names"] = ["height", "width", "channels"]
        elif ft["dtype"] in NUMERIC_DTYPES:
            if len(ft["shape"]) != 1 or ft["shape"][0] <= 0:
                raise ValueError(f"numeric feature {key!r} needs a 1-D shape [n], got {ft['shape']}")
            if ft["names"] is not None and len(ft["names"]) != ft["shape"][0]:
                raise ValueError(f"feature {key!r} has {len(ft['names'])} names for shape {ft['shape']}")
        else:
            raise ValueError(f"feature {key!r} has dtype {ft['dtype']!r}; expected 'video' or one of {NUMERIC_DTYPES}")
        out[key] = ft
    return out


def video_info(feature: dict[str, Any], fps: int, codec: str) -> dict[str, Any]:
    """The `info` block LeRobot keeps per video feature in info.json."""
    h, w, c = feature["shape"]
    spec = VIDEO_CODECS[codec]
    return {"video.height": h, "video.width": w, "video.codec": spec.name, "video.pix_fmt": spec.pix_fmt,
            "video.is_depth_map": False, "video.fps": fps, "video.channels": c, "has_audio": False}


def make_info(fps: int, features: dict[str, dict[str, Any]], robot_type: str | None, codec: str,
              chunks_size: int = DEFAULT_CHUNK_SIZE, data_mb: int = DEFAULT_DATA_FILE_SIZE_IN_MB,
              video_mb: int = DEFAULT_VIDEO_FILE_SIZE_IN_MB) -> dict[str, Any]:
    """A fresh info.json dict for validated user `features` (defaults appended, as LeRobot orders them)."""
    if not isinstance(fps, int) or fps <= 0:
        raise ValueError(f"fps must be a positive int, got {fps!r}")
    if codec not in VIDEO_CODECS:
        raise ValueError(f"video codec {codec!r} unknown; expected one of {sorted(VIDEO_CODECS)}")
    feats = copy.deepcopy(features)
    for ft in feats.values():
        if is_video(ft):
            ft["info"] = video_info(ft, fps, codec)
    feats.update(copy.deepcopy(DEFAULT_FEATURES))
    has_video = any(is_video(ft) for ft in feats.values())
    return {
        "codebase_version": CODEBASE_VERSION, "robot_type": robot_type,
        "total_episodes": 0, "total_frames": 0, "total_tasks": 0,
        "chunks_size": chunks_size, "data_files_size_in_mb": data_mb, "video_files_size_in_mb": video_mb,
        "fps": fps, "splits": {}, "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if has_video else None, "features": feats,
    }


def next_file(chunk: int, file: int, chunks_size: int) -> tuple[int, int]:
    """The (chunk, file) index after (chunk, file): files fill a chunk directory, then a new chunk starts."""
    return (chunk + 1, 0) if file >= chunks_size - 1 else (chunk, file + 1)


def _arrow_type(ft: dict[str, Any]) -> pa.DataType:
    base = pa.bool_() if ft["dtype"] == "bool" else pa.from_numpy_dtype(np.dtype(ft["dtype"]))
    return base if list(ft["shape"]) == [1] else pa.list_(base, int(ft["shape"][0]))


def _hf_feature(ft: dict[str, Any]) -> dict[str, Any]:
    value = {"dtype": ft["dtype"], "_type": "Value"}
    if list(ft["shape"]) == [1]:
        return value
    return {"feature": value, "length": int(ft["shape"][0]), "_type": "Sequence"}


def data_schema(features: dict[str, dict[str, Any]]) -> pa.Schema:
    """Arrow schema of the numeric data parquet columns in info order, with HF metadata."""
    cols = {k: ft for k, ft in features.items() if ft["dtype"] in NUMERIC_DTYPES}
    hf = {"info": {"features": {k: _hf_feature(ft) for k, ft in cols.items()}}}
    fields = [pa.field(k, _arrow_type(ft)) for k, ft in cols.items()]
    return pa.schema(fields, metadata={b"huggingface": json.dumps(hf).encode()})


def column_to_numpy(column: pa.ChunkedArray | pa.Array, ft: dict[str, Any]) -> np.ndarray:
    """A data column as numpy: (N,) for shape (1,) features, (N, n) for vectors (LeRobot or ours)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    dtype = np.dtype(ft["dtype"])
    if pa.types.is_list(arr.type) or pa.types.is_fixed_size_list(arr.type) or pa.types.is_large_list(arr.type):
        n = len(arr)
        flat = arr.flatten().to_numpy(zero_copy_only=False).astype(dtype, copy=False)
        return flat.reshape(n, -1)
    return arr.to_numpy(zero_copy_only=False).astype(dtype, copy=False)
