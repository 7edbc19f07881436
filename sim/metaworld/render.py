"""Fast offscreen camera images for the Meta-World scene, the right way up.

We use our own `mujoco.Renderer` instead of the gymnasium MujocoRenderer that Meta-World wires in: one
renderer sized to the requested images, with shadows, reflections, skybox and multisampling off (each
costs a full extra pass or 4x fill on the software/EGL path and adds nothing a policy needs).

The four `corner*` cameras are defined rolled by 180 degrees in Meta-World's XML, so their raw images
show the table upside down. The raw image is a true perspective view of a rolled camera (checked by
projecting scene points through the camera pose), so the fix is a 180-degree rotation (`[::-1, ::-1]`),
not a vertical flip, which would mirror the scene left-right.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from sim.metaworld.tasks import CAMERAS, UPSIDE_DOWN_CAMERAS


def check_cameras(cameras: Sequence[str]) -> tuple[str, ...]:
    """Validate camera names; returns them as a tuple or raises ValueError listing the valid ones."""
    cams = tuple(cameras)
    if not cams:
        raise ValueError(f"cameras must name at least one camera; valid cameras: {list(CAMERAS)}")
    for cam in cams:
        if cam not in CAMERAS:
            raise ValueError(f"unknown Meta-World camera {cam!r}; valid cameras: {list(CAMERAS)}")
    if len(set(cams)) != len(cams):
        raise ValueError(f"cameras must be distinct, got {list(cams)}")
    return cams


def upright(image: np.ndarray, camera: str) -> np.ndarray:
    """The image of `camera` with row 0 at the top: corner cameras are rotated 180 degrees."""
    return np.ascontiguousarray(image[::-1, ::-1]) if camera in UPSIDE_DOWN_CAMERAS else image


class CameraRenderer:
    """Renders named cameras of one MuJoCo model/data pair to uint8 `(H, W, 3)` images, upright.

    Close it before the env that owns the model (the GL context must go first).
    """

    def __init__(self, model: Any, cameras: Sequence[str], height: int, width: int):
        import mujoco

        self.cameras = check_cameras(cameras)
        model.vis.quality.offsamples = 0  # no MSAA
        # The offscreen framebuffer must be at least as large as the images.
        model.vis.global_.offwidth = max(int(model.vis.global_.offwidth), width)
        model.vis.global_.offheight = max(int(model.vis.global_.offheight), height)
        self._renderer = mujoco.Renderer(model, height=height, width=width)
        flags = self._renderer.scene.flags
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION,
                     mujoco.mjtRndFlag.mjRND_SKYBOX):
            flags[flag] = 0

    def render_raw(self, data: Any, camera: str) -> np.ndarray:
        """The camera's image exactly as MuJoCo renders it (corner cameras upside down); for tests."""
        self._renderer.update_scene(data, camera=camera)
        return self._renderer.render().copy()  # (H, W, 3) uint8

    def render(self, data: Any) -> dict[str, np.ndarray]:
        """Every configured camera's upright image, camera name -> uint8 (H, W, 3)."""
        return {cam: upright(self.render_raw(data, cam), cam) for cam in self.cameras}

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
