"""`vla-train` as users run it: the Hydra app in-process (fast tier); in the slow tier, two processes under
torchrun (DDP over gloo on CPU) against one process with the same global batch, a 2-process run resumed
exactly, and a run killed with SIGKILL that resumes to the same weights as an uninterrupted one."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from test_train_loop import SMALL_MODEL, dataset, make_cfg  # noqa: F401  (dataset is a fixture)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory) -> Path:
    """A Hydra --config-dir holding the small test model as `model=small`."""
    root = tmp_path_factory.mktemp("conf")
    (root / "model").mkdir()
    (root / "model" / "small.yaml").write_text(yaml.safe_dump(SMALL_MODEL))
    return root


def cli_args(config_dir: Path, root: Path, out: Path, *extra: str) -> list[str]:
    return ["--config-dir", str(config_dir), "model=small", f"data.roots=[{root}]", f"output_dir={out}",
            "data.heldout_fraction=0.2", "data.max_eval_batches=1", "optim.warmup_steps=1", "optim.lr=2e-3",
            "log_every=1", "progress=false", "cpu=true", *extra]


def weights(ckpt: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(ckpt / "model.safetensors"))


def test_cli_runs_in_process(tmp_path, dataset, config_dir, monkeypatch, capsys):
    from vla.train.cli import main

    out = tmp_path / "run"
    argv = cli_args(config_dir, dataset, out, "steps=2", "batch_size=4", "save_every=1", "keep_last=1")
    monkeypatch.setattr(sys, "argv", ["vla-train", *argv])
    main()
    printed = capsys.readouterr().out
    assert f"checkpoint: {out / 'checkpoints' / 'step_00000002'} (step 2)" in printed
    assert "held-out at step 2: loss=" in printed and "action_l1=" in printed
    assert [p.name for p in (out / "checkpoints").iterdir() if p.name.startswith("step_")] == ["step_00000002"]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = next((out / "tensorboard").rglob("events.out.tfevents.*"))
    tags = EventAccumulator(str(events.parent)).Reload().Tags()["scalars"]
    assert {"train/loss", "train/action_accuracy", "train/lr", "eval/loss", "eval/action_l1"} <= set(tags)


def _env() -> dict[str, str]:
    # CPU only, one thread: the same numerics as the in-process reference runs, GPU or not.
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}


@pytest.mark.slow
def test_two_processes_match_one_process(tmp_path, dataset, config_dir):
    """`accelerate launch` with 2 CPU processes x batch 2 equals 1 process x batch 4: same frames per step
    (the data order shards each global batch), gradients averaged by DDP. (`--cpu --num_processes 2` would
    start one process without MPI; `--multi_gpu` on a machine without GPUs gives a gloo CPU group.)"""
    from vla.train.run import train

    out2 = tmp_path / "ddp"
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    cmd = [*launcher, "-m", "vla.train.cli",
           *cli_args(config_dir, dataset, out2, "steps=2", "batch_size=2", "save_every=2", "eval_every=2")]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=400, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("checkpoint:") == 1  # only the main process reports
    progress = (out2 / "checkpoints/last/train_state/progress.json").read_text()
    assert '"world_size": 2' in progress

    single = train(make_cfg(tmp_path / "one", dataset, steps=2, batch_size=4))
    a, b = weights(out2 / "checkpoints/last"), weights(single.checkpoint)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=2e-5, rtol=1e-4, msg=key)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights(tmp_path, dataset, config_dir):
    """SIGKILL a CLI run once its step-2 checkpoint exists; rerunning the same command finishes with
    weights bit-identical to an uninterrupted run."""
    from vla.train.run import train

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "vla.train.cli",
           *cli_args(config_dir, dataset, out, "steps=6", "batch_size=4", "save_every=2", "eval_every=3")]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    deadline = time.monotonic() + 300
    while not (out / "checkpoints" / "step_00000002").is_dir() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "checkpoints" / "step_00000006").exists(), "the run finished before it could be killed"
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    reference = train(make_cfg(tmp_path / "ref", dataset, steps=6, batch_size=4, save_every=2, eval_every=3))
    a, b = weights(out / "checkpoints/last"), weights(reference.checkpoint)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_two_process_resume_is_exact(tmp_path, dataset, config_dir):
    """A 2-process run resumed from its step-2 checkpoint ends with the uninterrupted run's weights
    (every process's RNG state and the shared data position come back)."""
    def torchrun(out: Path) -> None:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "vla.train.cli",
               *cli_args(config_dir, dataset, out, "steps=4", "batch_size=2", "save_every=2", "eval_every=2")]
        proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=400, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]

    torchrun(tmp_path / "full")
    (tmp_path / "resumed" / "checkpoints").mkdir(parents=True)
    shutil.copytree(tmp_path / "full/checkpoints/step_00000002", tmp_path / "resumed/checkpoints/step_00000002")
    torchrun(tmp_path / "resumed")
    a, b = weights(tmp_path / "full/checkpoints/last"), weights(tmp_path / "resumed/checkpoints/last")
    assert all(torch.equal(a[k], b[k]) for k in a)
