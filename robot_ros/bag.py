"""One rosbag2 per recorded episode, written through `rosbags` (no rosbag2 C++ needed), all-or-nothing.

The bag is written into a hidden temporary directory and renamed to `episode_<index>` by `commit(name)`,
so a bag directory that exists is complete; `abort()` (or a crash) leaves only the hidden temporary,
which the next recorder removes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from vla.optional import require

BAG_VERSION = 9  # rosbag2 metadata version written by Jazzy


def msgtype_of(msg: Any) -> str:
    """The ROS type name of a message instance, e.g. 'sensor_msgs/msg/Image'."""
    module = type(msg).__module__.split(".")  # e.g. ['sensor_msgs', 'msg', '_image']
    return f"{module[0]}/msg/{type(msg).__name__}"


class EpisodeBag:
    """Raw messages of one episode; `write(topic, msg, t_ns)` while recording, then commit or abort."""

    def __init__(self, directory: str | os.PathLike):
        rosbag2 = require("rosbags.rosbag2")
        typesys = require("rosbags.typesys")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob(".episode_*.tmp"):  # left by a crashed recorder
            shutil.rmtree(stale, ignore_errors=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=".episode_", suffix=".tmp", dir=self.directory)) / "bag"
        self._typestore = typesys.get_typestore(typesys.Stores.ROS2_JAZZY)
        self._writer = rosbag2.Writer(self._tmp, version=BAG_VERSION)
        self._writer.open()
        self._connections: dict[str, Any] = {}
        self.count = 0

    def write(self, topic: str, msg: Any, t_ns: int) -> None:
        """Append `msg` (an rclpy message) on `topic`, stored as the CDR bytes rclpy serializes."""
        from rclpy.serialization import serialize_message

        conn = self._connections.get(topic)
        if conn is None:
            conn = self._writer.add_connection(topic, msgtype_of(msg), typestore=self._typestore)
            self._connections[topic] = conn
        self._writer.write(conn, t_ns, serialize_message(msg))
        self.count += 1

    def commit(self, name: str) -> Path:
        """Finish the bag and move it to `directory/name` (which must not exist); returns that path."""
        self._writer.close()
        target = self.directory / name
        if target.exists():
            raise FileExistsError(f"bag {target} already exists")
        os.replace(self._tmp, target)
        shutil.rmtree(self._tmp.parent, ignore_errors=True)
        return target

    def abort(self) -> None:
        """Drop the bag."""
        self._writer.close()
        shutil.rmtree(self._tmp.parent, ignore_errors=True)
