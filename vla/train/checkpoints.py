"""Where a run's checkpoints live and how one is committed: `<output_dir>/checkpoints/step_XXXXXXXX/`.

Each checkpoint directory is written into a temporary sibling and renamed into place (`vla.io.atomic_dir`),
so a directory named `step_*` is always complete; a run killed mid-save leaves only a hidden temp dir,
which is ignored and cleaned up. `checkpoints/last` is a symlink to the newest one, swapped atomically.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Callable

from vla.io import atomic_dir

CHECKPOINTS = "checkpoints"
LAST = "last"
_STEP_RE = re.compile(r"^step_(\d{8})$")


def checkpoints_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / CHECKPOINTS


def step_dir(output_dir: str | Path, step: int) -> Path:
    """The directory of the checkpoint after optimizer step `step`."""
    return checkpoints_root(output_dir) / f"step_{step:08d}"


def list_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run as (step, dir), oldest first (temp dirs of killed saves excluded)."""
    root = checkpoints_root(output_dir)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _STEP_RE.match(child.name)
        if match and child.is_dir() and not child.is_symlink():
            found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of the run in `output_dir`, or None when it has none."""
    found = list_checkpoints(output_dir)
    return found[-1][1] if found else None


def commit_checkpoint(output_dir: str | Path, step: int, write: Callable[[Path], None], keep_last: int) -> Path:
    """Call `write(tmp_dir)` to fill a new checkpoint, commit it atomically as step `step`, point
    `checkpoints/last` at it and delete all but the newest `keep_last` (0 keeps all); returns its dir."""
    target = step_dir(output_dir, step)
    with atomic_dir(target) as tmp:
        write(tmp)
    _point_last(target)
    _prune(output_dir, keep_last)
    _remove_stale_temps(output_dir)
    return target


def _point_last(target: Path) -> None:
    link = target.parent / LAST
    tmp = target.parent / f".{LAST}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target.name, tmp)
    os.replace(tmp, link)


def _prune(output_dir: str | Path, keep_last: int) -> None:
    if keep_last <= 0:
        return
    for _, path in list_checkpoints(output_dir)[:-keep_last]:
        shutil.rmtree(path)


def _remove_stale_temps(output_dir: str | Path) -> None:
    """Delete temp dirs left by saves that were killed (hidden `.step_*` siblings)."""
    for child in checkpoints_root(output_dir).iterdir():
        if child.name.startswith(".step_") and child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
