"""A writer process SIGKILLed at any moment leaves a valid dataset with every saved episode; appends go on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tests.data.conftest import FEATURES, write_episodes
from vla.data import DatasetReader, DatasetWriter

REPO = Path(__file__).resolve().parents[2]

# The child writes `n_saved` episodes, then acts according to `mode`:
#   "mid_episode": adds frames to one more episode, prints READY and waits to be killed;
#   "in_commit": kills itself (SIGKILL) during the renames of the next commit, after its manifest;
#   "before_manifest": kills itself while writing the manifest (the commit point) of the next commit;
#   "in_loop": keeps saving 6-frame episodes until it is killed from outside.
CHILD = textwrap.dedent("""
    import json, os, signal, sys, time
    import numpy as np
    from tests.data.conftest import FEATURES, frame_image, write_episodes
    from vla.data import DatasetWriter, journal
    root, n_saved, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    w = DatasetWriter.create_or_open(root, 10, FEATURES)
    write_episodes(w, [6] * n_saved, first_ep=w.num_episodes)
    if mode == "in_commit":
        def dying_apply(root, stage):  # move the first staged file, then die
            staged, target = json.loads((stage / journal.MANIFEST).read_text())["moves"][0]
            os.replace(stage / staged, root / target)
            os.kill(os.getpid(), signal.SIGKILL)
        journal._apply = dying_apply
    elif mode == "before_manifest":
        journal.atomic_write_json = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    if mode == "mid_episode":
        for t in range(4):
            w.add_frame({"observation.images.front": frame_image(9, t), "observation.state": np.ones(4, np.float32),
                         "action": np.ones(3, np.float32)})
        print("READY", flush=True)
        time.sleep(60)
    elif mode == "in_loop":  # until killed
        while True:
            write_episodes(w, [6], first_ep=w.num_episodes)
    else:
        write_episodes(w, [5], seed=7, first_ep=w.num_episodes)
        print("NOT KILLED", flush=True)
""")


def run_child(root: Path, n_saved: int, mode: str) -> subprocess.CompletedProcess | None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-c", CHILD, str(root), str(n_saved), mode]
    if mode != "mid_episode":
        return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "READY"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return None


def assert_valid(root: Path, n_episodes: int, lengths: list[int] | None = None) -> DatasetReader:
    from vla.data.validate import validate

    ds = DatasetReader(root)  # a reader finishes an interrupted commit first (no writer is active)
    report = validate(root)
    assert report.ok, report.lines()
    assert len(ds.meta.episodes) == n_episodes
    if lengths is not None:
        assert [e["length"] for e in ds.meta.episodes] == lengths
    for ep in range(n_episodes):  # every frame of every episode decodes
        frames = ds.episode_frames(ep)
        assert frames["observation.images.front"].shape[0] == ds.meta.episodes[ep]["length"]
    return ds


def test_sigkill_mid_episode_keeps_saved_episodes_and_append_continues(tmp_path):
    root = tmp_path / "ds"
    run_child(root, 2, "mid_episode")
    assert (root / ".staging").exists()  # the killed episode's encoder files are left behind...
    assert_valid(root, 2, [6, 6])  # ...and ignored: 2 saved episodes, nothing else
    with DatasetWriter.open(root) as w:  # open drops the stale stage, then appends
        assert not (root / ".staging").exists()
        write_episodes(w, [3], first_ep=2)
    assert_valid(root, 3, [6, 6, 3])


def test_sigkill_inside_commit_rolls_forward(tmp_path):
    root = tmp_path / "ds"
    res = run_child(root, 2, "in_commit")
    assert res.returncode == -signal.SIGKILL, res.stderr
    assert (root / ".staging").exists()
    assert_valid(root, 3, [6, 6, 5])  # the manifest was written: the episode is committed


def test_sigkill_before_commit_point_drops_the_episode(tmp_path):
    root = tmp_path / "ds"
    res = run_child(root, 1, "before_manifest")
    assert res.returncode == -signal.SIGKILL, res.stderr
    assert_valid(root, 1, [6])
    run_child(root, 1, "mid_episode")  # a second run appends after the surviving episode
    assert_valid(root, 2, [6, 6])


@pytest.mark.slow
def test_sigkill_at_random_moments(tmp_path):
    root = tmp_path / "ds"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    rng = np.random.default_rng(0)
    for round_ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(root), "0", "in_loop"], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5 + rng.uniform(0, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if (root / "meta/info.json").exists():
            n = len(DatasetReader(root).meta.episodes)
            assert_valid(root, n, [6] * n)


@pytest.mark.slow
def test_readers_see_whole_commits_while_a_writer_appends(tmp_path):
    root = tmp_path / "ds"
    with DatasetWriter.create(root, 10, FEATURES) as w:
        write_episodes(w, [6])
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(root), "0", "in_loop"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = set()
    try:
        deadline = time.time() + 6
        while time.time() < deadline and proc.poll() is None:
            ds = DatasetReader(root)  # raises if it ever sees data and metadata of different commits
            n = len(ds.meta.episodes)
            seen.add(n)
            last = ds.episode_frames(n - 1)
            assert len(last["action"]) == ds.meta.episodes[-1]["length"]
            ds.close()
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert len(seen) > 3  # the reader really ran alongside several commits
