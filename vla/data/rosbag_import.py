"""rosbag2 recordings (sqlite3 or MCAP, read with `rosbags`, no ROS install) -> dataset episodes.

The mapping (YAML, see conf/dataset/import_bag.yaml) names which topic feeds which feature:

    fps: 10
    task: "pick up the red cube"          # the episode's task text
    tolerance_s: 0.25                     # a stream older than this at a sample time makes the frame stale
    features:
      observation.images.front: {topic: /camera/front/image_raw}
      observation.state: [{topic: /joint_states, field: position}]
      action: [{topic: /vla/ee_delta}, {topic: /vla/gripper}]   # concatenated in order: 6 + 1 values

Synchronization rules (one bag is one recording):
1. A message's time is its header.stamp when it has a non-zero one, else the time the bag recorded it.
2. Frames are sampled at t_k = t_0 + k / fps, where t_0 is the first time at which every mapped topic
   has data (leading frames before that are dropped) and the last t_k is at or before the end of the
   stream that ends first.
3. At t_k each topic contributes its latest message at or before t_k (zero-order hold, no interpolation,
   so no value is invented between two messages).
4. If any topic's latest message is older than `tolerance_s` at t_k, the frame is stale and dropped; a
   stale frame ends the episode, and the next good frame starts a new one (an episode never has a time
   gap). Runs shorter than `min_frames` are dropped.

Supported messages: sensor_msgs/Image (rgb8, bgr8, mono8, rgba8, bgra8), sensor_msgs/JointState (field
position | velocity | effort, optional `joints` to pick and order by name), geometry_msgs/Twist(Stamped),
geometry_msgs/Pose(Stamped), std_msgs/Float32|Float64|Bool, std_msgs/Float32|Float64MultiArray,
trajectory_msgs/JointTrajectory (first point's positions). Anything else, a topic missing from the bag,
or another image encoding is an error naming the topic and the type or encoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vla.data.format import is_video
from vla.optional import require

IMAGE_TYPE = "sensor_msgs/msg/Image"
IMAGE_ENCODINGS = ("rgb8", "bgr8", "mono8", "rgba8", "bgra8")


@dataclass
class Source:
    """One topic feeding (part of) a feature."""

    topic: str
    field: str = "position"  # JointState only
    joints: list[str] | None = None  # JointState only: names to pick, in this order


@dataclass
class BagMapping:
    """Topic -> feature mapping and sync settings; validated on construction."""

    fps: int
    task: str
    features: dict[str, list[Source]]
    tolerance_s: float = 0.25
    min_frames: int = 2
    robot_type: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.fps, int) or self.fps <= 0:
            raise ValueError(f"fps must be a positive int, got {self.fps!r}")
        if not isinstance(self.task, str) or not self.task.strip():
            raise ValueError(f"task must be a non-empty string, got {self.task!r}")
        if self.tolerance_s <= 0:
            raise ValueError(f"tolerance_s must be > 0, got {self.tolerance_s!r}")
        if not self.features:
            raise ValueError("features must map at least one feature to a topic")
        for key, sources in self.features.items():
            if not sources:
                raise ValueError(f"feature {key!r} has no topic")
            if key.startswith("observation.images.") and len(sources) != 1:
                raise ValueError(f"camera feature {key!r} takes exactly one topic, got {len(sources)}")

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> "BagMapping":
        """From the YAML mapping: a feature's value is one source dict or a list of them."""
        unknown = set(cfg) - {"fps", "task", "features", "tolerance_s", "min_frames", "robot_type"}
        if unknown:
            raise ValueError(f"unknown mapping keys {sorted(unknown)}")
        feats = {}
        for key, spec in dict(cfg.get("features") or {}).items():
            specs = spec if isinstance(spec, list) else [spec]
            feats[key] = [Source(**dict(s)) for s in specs]
        return cls(fps=cfg.get("fps"), task=cfg.get("task"), features=feats,
                   tolerance_s=float(cfg.get("tolerance_s", 0.25)), min_frames=int(cfg.get("min_frames", 2)),
                   robot_type=cfg.get("robot_type"))


def load_mapping(path: str | Path) -> BagMapping:
    from omegaconf import OmegaConf

    return BagMapping.from_dict(OmegaConf.to_container(OmegaConf.load(path), resolve=True))


# ---- message conversion --------------------------------------------------------------------------------
def image_to_rgb(msg: Any, topic: str) -> np.ndarray:
    """sensor_msgs/Image -> RGB uint8 (H, W, 3); raises naming the topic for other encodings."""
    enc = msg.encoding.lower()
    if enc not in IMAGE_ENCODINGS:
        raise ValueError(f"topic {topic}: image encoding {msg.encoding!r} is not supported; "
                         f"supported: {list(IMAGE_ENCODINGS)}")
    ch = {"mono8": 1, "rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4}[enc]
    rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)
    img = rows[:, : msg.width * ch].reshape(msg.height, msg.width, ch)  # (H, W, C), row padding dropped
    if enc == "mono8":
        return np.repeat(img, 3, axis=2)
    if enc.startswith("bgr"):
        img = img[..., [2, 1, 0]]
    return np.ascontiguousarray(img[..., :3])


def to_vector(msg: Any, msgtype: str, src: Source) -> np.ndarray:
    """A non-image message -> float64 vector, per the supported types in the module docstring."""
    t = msgtype
    if t == "sensor_msgs/msg/JointState":
        if src.field not in ("position", "velocity", "effort"):
            raise ValueError(f"topic {src.topic}: JointState field {src.field!r}; expected position, velocity or effort")
        values = np.asarray(getattr(msg, src.field), dtype=np.float64)
        if src.joints is None:
            return values
        missing = [j for j in src.joints if j not in msg.name]
        if missing:
            raise ValueError(f"topic {src.topic}: joints {missing} not in JointState names {list(msg.name)}")
        return values[[list(msg.name).index(j) for j in src.joints]]
    if t in ("geometry_msgs/msg/TwistStamped", "geometry_msgs/msg/Twist"):
        tw = msg.twist if t.endswith("Stamped") else msg
        return np.array([tw.linear.x, tw.linear.y, tw.linear.z, tw.angular.x, tw.angular.y, tw.angular.z])
    if t in ("geometry_msgs/msg/PoseStamped", "geometry_msgs/msg/Pose"):
        p = msg.pose if t.endswith("Stamped") else msg
        return np.array([p.position.x, p.position.y, p.position.z,
                         p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w])
    if t in ("std_msgs/msg/Float64", "std_msgs/msg/Float32", "std_msgs/msg/Bool"):
        return np.array([float(msg.data)])
    if t in ("std_msgs/msg/Float64MultiArray", "std_msgs/msg/Float32MultiArray"):
        return np.asarray(msg.data, dtype=np.float64)
    if t == "trajectory_msgs/msg/JointTrajectory":
        if not msg.points:
            raise ValueError(f"topic {src.topic}: JointTrajectory without points")
        return np.asarray(msg.points[0].positions, dtype=np.float64)
    raise ValueError(f"topic {src.topic}: message type {msgtype} is not supported for features")


# ---- reading a bag -------------------------------------------------------------------------------------
@dataclass
class _Stream:
    topic: str
    msgtype: str
    times: np.ndarray  # (M,) int64 ns
    raw: list[bytes] = field(repr=False)


def _stamp_ns(msg: Any) -> int | None:
    header = getattr(msg, "header", None)
    if header is None:
        return None
    ns = int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)
    return ns or None


def read_streams(bag: str | Path, topics: list[str], typestore: Any) -> dict[str, _Stream]:
    """Every message of `topics` with its time (rule 1), sorted by time; unknown topics raise."""
    rosbag2 = require("rosbags.rosbag2")
    with rosbag2.Reader(bag) as reader:
        conns = {c.topic.lstrip("/"): c for c in reader.connections}  # "/a/b" and "a/b" name one topic
        missing = [t for t in topics if t.lstrip("/") not in conns]
        if missing:
            raise KeyError(f"topics {missing} are not in bag {bag}; it has {sorted(conns)}")
        wanted = {conns[t.lstrip("/")].topic: t for t in topics}
        data: dict[str, list[tuple[int, bytes]]] = {t: [] for t in topics}
        for conn, rec_ns, raw in reader.messages(connections=[conns[t.lstrip("/")] for t in topics]):
            msg = typestore.deserialize_cdr(raw, conn.msgtype)
            stamp = _stamp_ns(msg)
            data[wanted[conn.topic]].append((stamp if stamp is not None else rec_ns, bytes(raw)))
    out = {}
    for t, items in data.items():
        if not items:
            raise ValueError(f"topic {t} has no messages in bag {bag}")
        items.sort(key=lambda x: x[0])
        out[t] = _Stream(t, conns[t.lstrip("/")].msgtype, np.array([x[0] for x in items], np.int64), [x[1] for x in items])
    return out


def sync_indices(streams: dict[str, _Stream], fps: int, tolerance_s: float) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Rules 2-4: sample times (K,), per topic the message index at each, and a (K,) fresh mask."""
    start = max(int(s.times[0]) for s in streams.values())
    end = min(int(s.times[-1]) for s in streams.values())
    period = 1_000_000_000 / fps
    if end < start:
        raise ValueError("the topics never overlap in time: every stream ends before another starts")
    times = start + np.round(np.arange(int((end - start) // period) + 1) * period).astype(np.int64)
    picks, fresh = {}, np.ones(len(times), bool)
    for topic, s in streams.items():
        idx = np.searchsorted(s.times, times, side="right") - 1  # latest at or before t
        picks[topic] = idx
        fresh &= (times - s.times[idx]) <= tolerance_s * 1e9
    return times, picks, fresh


def runs(mask: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """[lo, hi) runs of True in `mask` with at least `min_len` elements."""
    out, lo = [], None
    for i, ok in enumerate(list(mask) + [False]):
        if ok and lo is None:
            lo = i
        elif not ok and lo is not None:
            if i - lo >= min_len:
                out.append((lo, i))
            lo = None
    return out


class _Decoder:
    """Deserializes and converts the picked messages of one topic, caching the last one (held values repeat)."""

    def __init__(self, stream: _Stream, sources: list[Source], typestore: Any, is_image: bool):
        if is_image and stream.msgtype != IMAGE_TYPE:
            raise ValueError(f"topic {stream.topic} feeds a camera but carries {stream.msgtype}, not {IMAGE_TYPE}")
        self.stream, self.src, self.ts, self.is_image = stream, sources[0], typestore, is_image
        self._last: tuple[int, np.ndarray] | None = None

    def value(self, i: int) -> np.ndarray:
        if self._last is None or self._last[0] != i:
            msg = self.ts.deserialize_cdr(self.stream.raw[i], self.stream.msgtype)
            val = image_to_rgb(msg, self.stream.topic) if self.is_image else to_vector(msg, self.stream.msgtype, self.src)
            self._last = (i, val)
        return self._last[1]


def _features(mapping: BagMapping, decoders: dict[tuple[str, int], _Decoder]) -> dict[str, dict[str, Any]]:
    """Dataset features from the first message of each source (image size, vector lengths)."""
    feats: dict[str, dict[str, Any]] = {}
    for key, sources in mapping.features.items():
        firsts = [decoders[(key, j)].value(0) for j in range(len(sources))]
        if key.startswith("observation.images."):
            feats[key] = {"dtype": "video", "shape": list(firsts[0].shape)}
        else:
            feats[key] = {"dtype": "float32", "shape": [int(sum(len(v) for v in firsts))], "names": None}
    return feats


def import_bags(bags: list[str | Path], mapping: BagMapping, out: str | Path) -> dict[str, Any]:
    """Append the recordings in `bags` to the dataset at `out` (created if absent); returns counts."""
    from vla.data.writer import DatasetWriter

    typesys = require("rosbags.typesys")
    typestore = typesys.get_typestore(typesys.Stores.ROS2_JAZZY)
    topics = sorted({s.topic for sources in mapping.features.values() for s in sources})
    summary = {"bags": 0, "episodes": 0, "frames": 0, "stale_frames": 0}
    writer = None
    try:
        for bag in bags:
            streams = read_streams(bag, topics, typestore)
            decoders = {(key, j): _Decoder(streams[s.topic], [s], typestore, key.startswith("observation.images."))
                        for key, sources in mapping.features.items() for j, s in enumerate(sources)}
            feats = _features(mapping, decoders)
            if writer is None:
                writer = DatasetWriter.create_or_open(out, mapping.fps, feats, robot_type=mapping.robot_type)
            times, picks, fresh = sync_indices(streams, mapping.fps, mapping.tolerance_s)
            summary["stale_frames"] += int((~fresh).sum())
            for lo, hi in runs(fresh, mapping.min_frames):
                for k in range(lo, hi):
                    writer.add_frame(_frame(mapping, decoders, picks, k, feats))
                writer.save_episode(mapping.task)
                summary["episodes"] += 1
                summary["frames"] += hi - lo
            summary["bags"] += 1
    finally:
        if writer is not None:
            writer.close()
    return summary


def _frame(mapping: BagMapping, decoders: dict[tuple[str, int], _Decoder], picks: dict[str, np.ndarray],
           k: int, feats: dict[str, dict[str, Any]]) -> dict[str, np.ndarray]:
    frame = {}
    for key, sources in mapping.features.items():
        parts = [decoders[(key, j)].value(int(picks[s.topic][k])) for j, s in enumerate(sources)]
        frame[key] = parts[0] if is_video(feats[key]) else np.concatenate(parts).astype(np.float32)
    return frame
