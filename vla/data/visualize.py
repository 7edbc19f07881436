"""Pictures of a dataset for people: a contact sheet of camera frames and plots of state and action.

For each chosen episode, `visualize` writes `<out>/episode_XXXXXX_frames.png` (rows = cameras, columns =
frames evenly spaced over the episode) and `<out>/episode_XXXXXX_signals.png` (one panel per numeric
feature, one line per dimension, against time in seconds). Matplotlib runs on the Agg backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from vla.data.format import DEFAULT_FEATURES
from vla.data.reader import DatasetReader
from vla.io import atomic_path
from vla.media import contact_sheet, save_png


def episode_sheet(ds: DatasetReader, episode: int, n_frames: int = 8) -> np.ndarray:
    """Contact sheet (rows = cameras, `n_frames` columns) of one episode, RGB uint8."""
    if not ds.meta.camera_keys:
        raise ValueError(f"{ds.root} has no camera features to show")
    length = int(ds.meta.episodes[episode]["length"])
    picks = np.unique(np.linspace(0, length - 1, min(n_frames, length)).round().astype(int))
    images = [f for key in ds.meta.camera_keys for f in ds.camera_frames(key, episode, picks)]
    return contact_sheet(images, cols=len(picks))


def plot_signals(ds: DatasetReader, episode: int, path: Path) -> list[str]:
    """Plot every numeric user feature of `episode` against time to `path` (PNG); returns the keys plotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = ds.episode_frames(episode, decode_images=False)
    keys = [k for k in ds.meta.numeric_keys if k not in DEFAULT_FEATURES]
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 2.4 * max(1, len(keys))), squeeze=False, sharex=True)
    t = frames["timestamp"]
    for ax, key in zip(axes[:, 0], keys):
        values = frames[key].reshape(len(t), -1)  # (T, n)
        names = ds.meta.features[key].get("names") or [f"{i}" for i in range(values.shape[1])]
        for i in range(values.shape[1]):
            ax.plot(t, values[:, i], label=str(names[i]) if i < len(names) else str(i))
        ax.set_ylabel(key)
        ax.legend(fontsize=6, ncol=min(8, values.shape[1]), loc="upper right")
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle(f"episode {episode}: {frames['task']}")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return keys


def visualize(root: str | Path, out: str | Path, episodes: Sequence[int] | None = None,
              n_frames: int = 8) -> list[Path]:
    """Write the frames sheet and signal plot of each episode (default: the first 3); returns the paths."""
    ds = DatasetReader(root)
    eps = list(episodes) if episodes is not None else list(range(min(3, len(ds.meta.episodes))))
    out = Path(out)
    written = []
    for e in eps:
        if not 0 <= e < len(ds.meta.episodes):
            raise IndexError(f"episode {e} is not in {root} (0..{len(ds.meta.episodes) - 1})")
        if ds.meta.camera_keys:
            path = out / f"episode_{e:06d}_frames.png"
            save_png(path, episode_sheet(ds, e, n_frames))
            written.append(path)
        path = out / f"episode_{e:06d}_signals.png"
        plot_signals(ds, e, path)
        written.append(path)
    ds.close()
    return written
