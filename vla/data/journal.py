"""Crash-safe commits of a dataset episode: stage every changed file, write one manifest, rename.

An episode touches several files (data parquet, one MP4 per camera, episodes parquet, tasks, stats,
info). The writer builds the new version of each in `<root>/.staging/<n>/`, then writes
`<root>/.staging/<n>/COMMIT.json` atomically - that rename is the commit point - and then moves each staged
file over its target with os.replace (atomic per file). `recover(root)`, run by every writer and reader
on open, finishes the moves of a committed manifest (idempotent) and deletes uncommitted staging dirs.
So a process killed at any instant leaves either the old dataset or the new one, never a mix, once
recovered, and every finished episode survives.

Locks (fcntl, released by the kernel when a process dies): `.writer.lock` is held exclusively by the one
writer for its whole life; `.commit.lock` is held exclusively while renaming and shared by readers while
they load metadata, so a reader never sees half a commit.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from vla.io import atomic_write_json

STAGING_DIR = ".staging"
MANIFEST = "COMMIT.json"
WRITER_LOCK = ".writer.lock"
COMMIT_LOCK = ".commit.lock"


@contextmanager
def _flock(path: Path, mode: int) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def commit_lock(root: Path, shared: bool = False):
    """Context manager: the commit lock, exclusive for a writer's renames, shared for a reader's loads."""
    return _flock(Path(root) / COMMIT_LOCK, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)


class WriterLock:
    """The exclusive writer lock; a second writer on the same dataset fails at once, naming the path."""

    def __init__(self, root: Path):
        self.path = Path(root) / WRITER_LOCK
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            os.close(self._fd)
            raise RuntimeError(f"dataset {root} is already open for writing by another process "
                               f"(lock {self.path})") from err

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def new_stage(root: Path) -> Path:
    """A fresh, empty staging directory for the next commit."""
    base = Path(root) / STAGING_DIR
    base.mkdir(parents=True, exist_ok=True)
    n = 0
    while (base / str(n)).exists():
        n += 1
    stage = base / str(n)
    stage.mkdir()
    return stage


def commit(root: Path, stage: Path, moves: list[tuple[str | None, str]]) -> None:
    """Make staged files live: `moves` is [(name in stage, path relative to root)], applied in order.

    A move whose staged name is None deletes its target.
    """
    root = Path(root)
    with commit_lock(root):
        atomic_write_json(stage / MANIFEST, {"moves": [list(m) for m in moves]})
        _apply(root, stage)


def _apply(root: Path, stage: Path) -> None:
    moves = json.loads((stage / MANIFEST).read_text())["moves"]
    for staged, target in moves:
        if staged is None:  # a deletion
            (root / target).unlink(missing_ok=True)
            continue
        src, dst = stage / staged, root / target
        if src.exists():  # absent: moved before a crash
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    shutil.rmtree(stage)
    try:
        stage.parent.rmdir()  # the last stage: leave no empty .staging behind
    except OSError:
        pass


def recover_if_idle(root: Path) -> list[str]:
    """`recover` unless a writer is active (its in-progress stage is not ours to drop); for readers."""
    try:
        lock = WriterLock(root)
    except RuntimeError:
        return []
    try:
        return recover(root)
    finally:
        lock.release()


def recover(root: Path) -> list[str]:
    """Finish committed manifests, drop uncommitted stages; returns what was done, one line each."""
    root = Path(root)
    base = root / STAGING_DIR
    if not base.exists():
        return []
    done: list[str] = []
    with commit_lock(root):
        for stage in sorted(base.iterdir(), key=lambda p: (len(p.name), p.name)):
            if (stage / MANIFEST).exists():
                _apply(root, stage)
                done.append(f"finished committed stage {stage.name}")
            else:
                shutil.rmtree(stage, ignore_errors=True)
                done.append(f"dropped uncommitted stage {stage.name}")
        shutil.rmtree(base, ignore_errors=True)
    return done
