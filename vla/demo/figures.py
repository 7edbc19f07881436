"""The report's pictures: the loss curve (read from the training run's TensorBoard logs), success bars, and a
labelled contact sheet of rollout videos. matplotlib runs on the Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vla.io import atomic_path
from vla.media import contact_sheet, read_mp4

LOSS_TAG = "train/loss"


def _event_files(log_dir: Path) -> list[Path]:
    # TensorBoard names files events.out.tfevents.<unix time>.<host>...: sorting by the time puts a resumed
    # run's files after the interrupted one's.
    files = [p for p in log_dir.rglob("events.out.tfevents.*") if p.is_file()]
    return sorted(files, key=lambda p: (int(p.name.split(".")[3]) if p.name.split(".")[3].isdigit() else 0, str(p)))


def read_scalars(log_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series under `log_dir` (all event files, recursively) as tag -> [(step, value)], by step.

    A resumed run logs again the steps between its last checkpoint and the kill; the later file wins, so
    each step appears once with the value of the run that continued.
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    series: dict[str, dict[int, float]] = {}
    for path in _event_files(Path(log_dir)):
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags().get("scalars", []):
            for event in acc.Scalars(tag):
                series.setdefault(tag, {})[int(event.step)] = float(event.value)
    return {tag: sorted(values.items()) for tag, values in sorted(series.items())}


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    return plt, fig, ax


def _save(plt: Any, fig: Any, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)


def plot_loss(scalars: dict[str, list[tuple[int, float]]], path: str | Path) -> None:
    """Training loss against optimizer step, with any held-out `eval/*` loss on the same axes."""
    if not scalars.get(LOSS_TAG):
        raise ValueError(f"no {LOSS_TAG!r} scalars in the training logs; tags found: {sorted(scalars)}")
    plt, fig, ax = _figure(7, 4)
    steps, values = zip(*scalars[LOSS_TAG])
    ax.plot(steps, values, label="train loss", color="tab:blue")
    for tag in sorted(t for t in scalars if t.startswith("eval/") and "loss" in t):
        s, v = zip(*scalars[tag])
        ax.plot(s, v, "o-", label=tag.replace("eval/", "held-out "), color="tab:orange")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy of action tokens")
    ax.set_title("VLA training loss")
    ax.grid(True, alpha=0.3)
    ax.legend()
    _save(plt, fig, path)


def plot_success(table: dict[str, dict[str, float]], tasks: Sequence[str], path: str | Path,
                 targets: dict[str, float] | None = None) -> None:
    """Grouped bars: success rate per task, one bar per policy (`table[policy][task]` in [0, 1]).

    Targets (task -> rate) are drawn as dashed marks over their task's group.
    """
    plt, fig, ax = _figure(max(6.0, 1.8 * len(tasks) + 2), 4)
    policies = list(table)
    width = 0.8 / max(1, len(policies))
    x = np.arange(len(tasks))  # (T,)
    for i, policy in enumerate(policies):
        rates = [table[policy].get(task, 0.0) for task in tasks]
        bars = ax.bar(x + (i - (len(policies) - 1) / 2) * width, rates, width, label=policy)
        ax.bar_label(bars, labels=[f"{r:.0%}" for r in rates], fontsize=7, padding=1)
    for j, task in enumerate(tasks):
        if targets and task in targets:
            ax.hlines(targets[task], j - 0.45, j + 0.45, colors="black", linestyles="dashed",
                      label="target (vla)" if j == min(k for k, t in enumerate(tasks) if t in targets) else None)
    ax.set_xticks(x, [t.split("/")[-1] for t in tasks])
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("success rate (unseen seeds)")
    ax.set_title("Success rate per task")
    ax.legend(fontsize=8, ncols=min(5, len(policies) + 1), loc="upper center", bbox_to_anchor=(0.5, -0.12))
    _save(plt, fig, path)


def video_strip(video: str | Path, frames: int = 4) -> list[np.ndarray]:
    """`frames` evenly spaced frames (first and last included) of an MP4, as RGB uint8 (H, W, 3)."""
    clip = read_mp4(video)  # (T, H, W, 3)
    picks = np.unique(np.linspace(0, len(clip) - 1, num=min(frames, len(clip))).round().astype(int))
    strip = [clip[i] for i in picks]
    return strip + [strip[-1]] * (frames - len(strip))  # short clips repeat their last frame


def plot_contact_sheet(rows: dict[str, Path], path: str | Path, frames: int = 4) -> None:
    """One row per labelled video (`label -> mp4`), `frames` frames across, labels on the left."""
    if not rows:
        raise ValueError("plot_contact_sheet needs at least one video")
    strips = {label: video_strip(video, frames) for label, video in rows.items()}
    h = max(f.shape[0] for s in strips.values() for f in s)
    w = max(f.shape[1] for s in strips.values() for f in s)
    tiles = [np.pad(f, ((0, h - f.shape[0]), (0, w - f.shape[1]), (0, 0)), constant_values=255)
             for s in strips.values() for f in s]
    sheet = contact_sheet(tiles, cols=frames)  # (rows*(h+2)+2, frames*(w+2)+2, 3)
    scale = 2.0 / 100  # inches per pixel at twice the native size
    plt, fig, ax = _figure(max(4.0, sheet.shape[1] * scale + 2.5), sheet.shape[0] * scale + 0.6)
    ax.imshow(sheet, interpolation="nearest")
    ax.set_yticks([2 + (h + 2) * i + h / 2 for i in range(len(strips))], list(strips), fontsize=8)
    ax.set_xticks([2 + (w + 2) * i + w / 2 for i in range(frames)],
                  ["start"] + [""] * max(0, frames - 2) + (["end"] if frames > 1 else []), fontsize=8)
    ax.set_title("Rollouts on unseen seeds (frames from start to end)", fontsize=9)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    _save(plt, fig, path)
