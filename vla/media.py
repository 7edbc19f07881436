"""Small media helpers shared by reports: MP4 videos of rollouts, PNG images, contact sheets.

Videos are H.264 (libx264 from PyAV's bundled FFmpeg), yuv420p so every player opens them; frame sides are
padded to even sizes because yuv420p needs them. Dataset videos have their own encoder settings
(`vla.data`), tuned for random access; these are for people to watch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from vla.io import atomic_path


def _even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") if (h % 2 or w % 2) else frame


def _check_frame(frame: np.ndarray, index: int) -> np.ndarray:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame {index} must be uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
    return frame


def write_mp4(path: str | Path, frames: Iterable[np.ndarray], fps: float = 10.0, crf: int = 23) -> int:
    """Encode RGB uint8 frames (H, W, 3) to an H.264 MP4 at `path`, atomically; returns the frame count."""
    import av

    count = 0
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = None
            for i, frame in enumerate(frames):
                frame = _even(_check_frame(np.asarray(frame), i))
                if stream is None:
                    stream = container.add_stream("libx264", rate=int(round(fps)))
                    stream.height, stream.width = frame.shape[:2]
                    stream.pix_fmt = "yuv420p"
                    stream.options = {"crf": str(crf), "preset": "veryfast"}
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
                count += 1
            if stream is None:
                raise ValueError(f"no frames to write to {path}")
            for packet in stream.encode():
                container.mux(packet)
    return count


def read_mp4(path: str | Path) -> np.ndarray:
    """Decode a whole MP4 to RGB uint8 (T, H, W, 3) (for tests and small clips)."""
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def save_png(path: str | Path, image: np.ndarray) -> None:
    """Write an RGB uint8 (H, W, 3) image as PNG, atomically."""
    import imageio.v3 as iio

    _check_frame(np.asarray(image), 0)
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, image, extension=".png")


def contact_sheet(images: Sequence[np.ndarray], cols: int = 8, pad: int = 2,
                  background: int = 255) -> np.ndarray:
    """Tile same-size RGB uint8 images into one (rows*H, cols*W, 3) sheet, row-major, with `pad` px gaps."""
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    h, w = images[0].shape[:2]
    for i, im in enumerate(images):
        _check_frame(im, i)
        if im.shape[:2] != (h, w):
            raise ValueError(f"image {i} is {im.shape[:2]}, expected {(h, w)} like image 0")
    cols = max(1, min(cols, len(images)))
    rows = -(-len(images) // cols)
    sheet = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), background, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        sheet[y:y + h, x:x + w] = im
    return sheet
