"""rosbag2 import: bags written here with rosbags (sqlite3 and MCAP) become episodes by the documented sync rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vla.data import DatasetReader
from vla.data.rosbag_import import BagMapping, import_bags

rosbags = pytest.importorskip("rosbags")
from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

TS = get_typestore(Stores.ROS2_JAZZY)
M = TS.types
H, W = 16, 24
NS = 1_000_000_000


def header(t_ns: int):
    return M["std_msgs/msg/Header"](stamp=M["builtin_interfaces/msg/Time"](sec=t_ns // NS, nanosec=t_ns % NS),
                                    frame_id="base")


def image(t_ns: int, value: int, encoding: str = "bgr8"):
    ch = 1 if encoding == "mono8" else 3
    px = np.zeros((H, W, ch), np.uint8)
    px[..., 0] = value
    if ch == 3:
        px[..., 2] = 200  # blue in bgr8: becomes channel 2 of RGB after conversion
    return M["sensor_msgs/msg/Image"](header=header(t_ns), height=H, width=W, encoding=encoding, is_bigendian=0,
                                      step=W * ch, data=px.reshape(-1))


def joints(t_ns: int, k: float):
    return M["sensor_msgs/msg/JointState"](header=header(t_ns), name=["j2", "j1"], position=np.array([k, -k], np.float64),
                                           velocity=np.zeros(2), effort=np.zeros(2))


def twist(t_ns: int, k: float):
    v = M["geometry_msgs/msg/Vector3"]
    return M["geometry_msgs/msg/TwistStamped"](header=header(t_ns), twist=M["geometry_msgs/msg/Twist"](
        linear=v(x=k, y=0.0, z=0.0), angular=v(x=0.0, y=0.0, z=-k)))


def write_bag(path: Path, plugin: StoragePlugin, gap: tuple[float, float] | None = None, encoding: str = "bgr8"):
    """Camera 10 Hz from t=1.0 s, joints 50 Hz from 0.5 s, twist 20 Hz from 1.2 s, gripper (no header) 5 Hz.
    With `gap=(a, b)` no camera frames are written for a <= t < b (the camera stalls)."""
    with Writer(path, version=9, storage_plugin=plugin) as w:
        cam = w.add_connection("/camera/front/image_raw", "sensor_msgs/msg/Image", typestore=TS)
        js = w.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=TS)
        tw = w.add_connection("/vla/ee_delta", "geometry_msgs/msg/TwistStamped", typestore=TS)
        gr = w.add_connection("/vla/gripper", "std_msgs/msg/Float64", typestore=TS)
        msgs = []
        for i in range(30):
            t = NS + i * NS // 10
            if gap is None or not gap[0] <= t / NS < gap[1]:
                msgs.append((t, cam, image(t, i, encoding), "sensor_msgs/msg/Image"))
        msgs += [(NS // 2 + i * NS // 50, js, joints(NS // 2 + i * NS // 50, i), "sensor_msgs/msg/JointState")
                 for i in range(200)]
        msgs += [(12 * NS // 10 + i * NS // 20, tw, twist(12 * NS // 10 + i * NS // 20, i),
                  "geometry_msgs/msg/TwistStamped") for i in range(60)]
        msgs += [(i * NS // 5, gr, M["std_msgs/msg/Float64"](data=float(i)), "std_msgs/msg/Float64")
                 for i in range(25)]
        for t, conn, msg, typ in sorted(msgs, key=lambda m: m[0]):
            w.write(conn, t, TS.serialize_cdr(msg, typ))


def mapping(**kw) -> BagMapping:
    cfg = {"fps": 10, "task": "stack the blocks", "tolerance_s": 0.15,
           "features": {"observation.images.front": {"topic": "camera/front/image_raw"},
                        "observation.state": [{"topic": "/joint_states", "field": "position", "joints": ["j1", "j2"]}],
                        "action": [{"topic": "/vla/ee_delta"}, {"topic": "/vla/gripper"}]}}
    cfg.update(kw)
    return BagMapping.from_dict(cfg)


@pytest.mark.parametrize("plugin", [StoragePlugin.SQLITE3, StoragePlugin.MCAP])
def test_import_syncs_streams_at_fixed_fps(tmp_path, plugin):
    write_bag(tmp_path / "bag", plugin)
    summary = import_bags([tmp_path / "bag"], mapping(), tmp_path / "ds")
    # t0 = 1.2 s (twist starts last); the camera ends first at 3.9 s -> frames at 1.2, 1.3, ..., 3.9
    assert summary == {"bags": 1, "episodes": 1, "frames": 28, "stale_frames": 0}
    ds = DatasetReader(tmp_path / "ds")
    ep = ds.episode_frames(0)
    assert ep["task"] == "stack the blocks"
    k = np.arange(28)
    t = 1.2 + k / 10
    # joints at 50 Hz from 0.5 s: latest index at t is round((t - 0.5) * 50); picked as [j1, j2] = [-i, i]
    ji = np.round((t - 0.5) * 50)
    np.testing.assert_allclose(ep["observation.state"], np.stack([-ji, ji], 1))
    ti = np.round((t - 1.2) * 20)  # twist at 20 Hz from 1.2 s
    gi = np.floor(t * 5 + 1e-9)  # gripper (bag time) at 5 Hz from 0: zero-order hold
    np.testing.assert_allclose(ep["action"], np.stack([ti, 0 * ti, 0 * ti, 0 * ti, 0 * ti, -ti, gi], 1))
    img = ep["observation.images.front"]
    assert img.shape == (28, H, W, 3)
    ci = np.round((t - 1.0) * 10)
    assert np.abs(img[:, 8, 12, 2].astype(int) - ci).max() <= 3  # bgr8 value channel is RGB blue
    assert np.abs(img[:, 8, 12, 0].astype(int) - 200).max() <= 3


def test_stale_stream_splits_episodes_and_second_bag_appends(tmp_path):
    write_bag(tmp_path / "bag", StoragePlugin.SQLITE3, gap=(2.0, 2.5))
    summary = import_bags([tmp_path / "bag"], mapping(), tmp_path / "ds")
    # camera frames 1.9 then 2.5: samples 2.1..2.4 are older than 0.15 s -> stale; 2.0 is fresh (0.1 s old)
    assert summary["stale_frames"] == 4 and summary["episodes"] == 2
    write_bag(tmp_path / "bag2", StoragePlugin.MCAP, encoding="mono8")
    import_bags([tmp_path / "bag2"], mapping(), tmp_path / "ds")
    ds = DatasetReader(tmp_path / "ds")
    assert [e["length"] for e in ds.meta.episodes] == [9, 15, 28]


def test_errors_name_topic_and_encoding(tmp_path):
    write_bag(tmp_path / "bag", StoragePlugin.SQLITE3, encoding="mono8")
    bad = mapping(features={"action": [{"topic": "/vla/nope"}]})
    with pytest.raises(KeyError, match=r"\['/vla/nope'\] are not in bag"):
        import_bags([tmp_path / "bag"], bad, tmp_path / "ds")
    with pytest.raises(ValueError, match="/joint_states feeds a camera but carries sensor_msgs/msg/JointState"):
        import_bags([tmp_path / "bag"], mapping(features={"observation.images.x": {"topic": "/joint_states"}}),
                    tmp_path / "ds")
    with pytest.raises(ValueError, match="unknown mapping keys"):
        mapping(fsp=3)
    with Writer(tmp_path / "bag16", version=9) as w:
        conn = w.add_connection("/cam", "sensor_msgs/msg/Image", typestore=TS)
        msg = image(NS, 1)
        msg.encoding = "16UC1"
        w.write(conn, NS, TS.serialize_cdr(msg, "sensor_msgs/msg/Image"))
    with pytest.raises(ValueError, match="topic /cam: image encoding '16UC1' is not supported"):
        import_bags([tmp_path / "bag16"], mapping(features={"observation.images.x": {"topic": "/cam"}}), tmp_path / "d2")
