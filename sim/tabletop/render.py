"""Fast headless camera rendering for MuJoCo envs: one `mujoco.Renderer` per image size, with shadows,
reflections, the skybox and multisampling off (on a software EGL context shadows alone cost ~3x the
frame time). The env closes this before its model and data go away."""

from __future__ import annotations

import mujoco
import numpy as np

_OFF_FLAGS = ("mjRND_SHADOW", "mjRND_REFLECTION", "mjRND_SKYBOX")


class CameraRenderer:
    """Renders named cameras of `model` to uint8 (H, W, 3) arrays, row 0 at the top."""

    def __init__(self, model: mujoco.MjModel):
        model.vis.quality.offsamples = 0
        self.model = model
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}

    def _renderer(self, height: int, width: int) -> mujoco.Renderer:
        key = (height, width)
        if key not in self._renderers:
            vis = self.model.vis.global_
            vis.offheight = max(vis.offheight, height)
            vis.offwidth = max(vis.offwidth, width)
            renderer = mujoco.Renderer(self.model, height=height, width=width)
            for flag in _OFF_FLAGS:
                renderer.scene.flags[getattr(mujoco.mjtRndFlag, flag)] = 0
            self._renderers[key] = renderer
        return self._renderers[key]

    def render(self, data: mujoco.MjData, camera: str, height: int, width: int) -> np.ndarray:
        """RGB image (height, width, 3) uint8 of `camera`; a fresh array the caller may keep."""
        renderer = self._renderer(height, width)
        renderer.update_scene(data, camera=camera)
        return renderer.render()  # Renderer.render allocates a new array per call

    def close(self) -> None:
        """Free every GL context; safe to call twice."""
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
