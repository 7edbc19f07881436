"""Live camera view for the operator: a Foxglove WebSocket server on 127.0.0.1 (open Foxglove Studio, connect to
ws://127.0.0.1:<port>) and, where a display exists, a matplotlib window.

Topics: `/camera/<name>` (foxglove.RawImage, rgb8) and `/teleop/state` (JSON: step, action, state, instruction,
episode). The server only binds loopback; the view never blocks or fails the control loop.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from vla.optional import require


class FoxgloveView:
    """Publishes each observation to a Foxglove WebSocket server bound to 127.0.0.1."""

    def __init__(self, cameras: list[str], port: int = 8765, host: str = "127.0.0.1"):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the live view binds loopback only, got host={host!r}")
        foxglove = require("foxglove")
        from foxglove.channel import Channel
        from foxglove.channels import RawImageChannel

        self.server = foxglove.start_server(name="vla-teleop", host=host, port=port)
        self.port = self.server.port
        self._images = {cam: RawImageChannel(f"/camera/{cam}") for cam in cameras}
        self._state = Channel("/teleop/state", message_encoding="json")

    def show(self, obs: dict[str, Any], action: np.ndarray, step: int, episode: int) -> None:
        from foxglove.messages import RawImage, Timestamp

        stamp = Timestamp.from_epoch_secs(time.time())
        for cam, channel in self._images.items():
            img = np.ascontiguousarray(obs["images"][cam])
            h, w = img.shape[:2]
            channel.log(RawImage(timestamp=stamp, frame_id=cam, width=w, height=h, encoding="rgb8",
                                 step=3 * w, data=img.tobytes()))
        self._state.log({"step": step, "episode": episode, "instruction": obs["instruction"],
                         "action": np.asarray(action).round(4).tolist(),
                         "state": np.asarray(obs["state"]).round(4).tolist()})

    def close(self) -> None:
        self.server.stop()


class WindowView:
    """A matplotlib window with the cameras side by side, when a display is available."""

    def __init__(self, cameras: list[str]):
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            raise RuntimeError("no display: set DISPLAY or use the Foxglove view")
        import matplotlib.pyplot as plt

        self._plt = plt
        plt.ion()
        self.fig, axes = plt.subplots(1, len(cameras), figsize=(4 * len(cameras), 4))
        self.axes = dict(zip(cameras, np.atleast_1d(axes)))
        self._artists: dict[str, Any] = {}

    def show(self, obs: dict[str, Any], action: np.ndarray, step: int, episode: int) -> None:
        for cam, ax in self.axes.items():
            if cam in self._artists:
                self._artists[cam].set_data(obs["images"][cam])
            else:
                self._artists[cam] = ax.imshow(obs["images"][cam])
                ax.set_title(cam)
                ax.axis("off")
        self.fig.suptitle(f"episode {episode} step {step}: {obs['instruction']}")
        self._plt.pause(0.001)

    def close(self) -> None:
        self._plt.close(self.fig)
