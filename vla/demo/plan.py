"""The demo's plan: one `Stage` per subprocess (record each task, train, benchmark each policy).

`vla` must not import `sim`, and a subprocess per stage also gives the exact command that reproduces it,
so every stage is a console script run as `python -m <module> <hydra overrides>`.

Each stage's output directory is named by a fingerprint of what decides its result (its settings and its
inputs' fingerprints), never of how fast it runs (workers, threads). So a second `vla-demo` with the same
settings finds the same directories and the stage's own resume takes over, and a changed setting (more
training steps, another image size) gets a fresh directory for exactly the stages it affects: the
demonstrations and the baselines' benchmarks are reused when only training changes.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from vla.demo.config import LEARNED, DemoConfig

RECORD, TRAIN, EVAL = "record", "train", "eval"
MODULES = {RECORD: ("sim.record.cli", "vla-record"), TRAIN: ("vla.train.cli", "vla-train"),
           EVAL: ("sim.bench.cli", "vla-bench")}
_PLAIN = re.compile(r"^[A-Za-z0-9_./@+-]*$")


@dataclass(frozen=True)
class Stage:
    """One subprocess of the demo. `units` counts its work for time estimates: episodes to record or
    benchmark, samples to train on (steps x batch size)."""

    name: str  # e.g. "record/tabletop__touch", "train", "eval/vla"
    kind: str  # RECORD | TRAIN | EVAL
    args: tuple[str, ...]  # Hydra overrides after `python -m <module>`
    out: Path  # the directory the stage writes
    fingerprint: str
    units: int
    policy: str | None = None  # EVAL stages: the benchmarked policy
    task: str | None = None  # RECORD stages: the recorded task

    @property
    def module(self) -> str:
        return MODULES[self.kind][0]

    def argv(self, python: str) -> list[str]:
        """The exact command line that runs this stage with interpreter `python`."""
        return [python, "-m", self.module, *self.args]

    def command(self) -> str:
        """The same command as a user types it, through the console script (`vla-train ...`)."""
        return shlex.join([MODULES[self.kind][1], *self.args])


def hydra_value(value: Any) -> str:
    """A Hydra override value: lists as `[a,b]`, plain tokens as they are, anything else single-quoted.

    Quoting keeps paths with spaces, commas or `=` from being parsed as Hydra syntax.
    """
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if _PLAIN.match(text) and text not in ("null", "true", "false", ""):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fingerprint(kind: str, settings: dict[str, Any], inputs: Sequence[str] = ()) -> str:
    """A short stable hash of a stage's result-deciding settings and its inputs' fingerprints."""
    blob = json.dumps({"kind": kind, "settings": settings, "inputs": list(inputs)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def slug(name: str) -> str:
    """A task id or stage name as one path component ('tabletop/pick' -> 'tabletop__pick')."""
    return name.replace("/", "__")


def record_stages(cfg: DemoConfig, root: Path) -> list[Stage]:
    """One recording per task, so adding a task to the list records only that task."""
    stages = []
    for task in cfg.tasks:
        settings = {"task": task, "episodes": cfg.record.episodes, "seed": cfg.record.seed, "cameras": cfg.cameras,
                    "image_size": cfg.image_size, "overrides": cfg.record.overrides}
        fp = fingerprint(RECORD, settings)
        out = root / "data" / f"{slug(task)}-{fp}"
        args = (f"tasks={hydra_value([task])}", f"episodes_per_task={cfg.record.episodes}",
                f"seed={cfg.record.seed}", f"cameras={hydra_value(cfg.cameras)}", f"image_size={cfg.image_size}",
                f"out={hydra_value(str(out))}", f"workers={cfg.record.workers}",
                f"progress={hydra_value(cfg.progress)}", *cfg.record.overrides)
        stages.append(Stage(f"{RECORD}/{slug(task)}", RECORD, args, out, fp, cfg.record.episodes, task=task))
    return stages


def preset_values(group: str, name: str | None) -> Any:
    """The values in `conf/<group>/<name>.yaml` (None for no preset), so editing a preset's values changes
    the training fingerprint (the name alone would let a run reuse a checkpoint trained under the old
    values), while editing its comments does not."""
    if name is None:
        return None
    from importlib.resources import files

    from omegaconf import OmegaConf

    path = files("vla_conf").joinpath(group, f"{name}.yaml")
    if not path.is_file():
        raise FileNotFoundError(f"no preset conf/{group}/{name}.yaml (train.{'model' if group == 'model' else 'preset'}"
                                f"={name!r})")
    return OmegaConf.to_container(OmegaConf.create(path.read_text()))


def train_stage(cfg: DemoConfig, root: Path, records: Sequence[Stage]) -> Stage:
    """Training on every recorded dataset; the model sees the demo's cameras at its image size."""
    t = cfg.train
    settings = {"model": t.model, "preset": t.preset, "steps": t.steps, "batch_size": t.batch_size,
                "cameras": cfg.cameras, "image_size": cfg.image_size, "overrides": t.overrides,
                "model_values": preset_values("model", t.model), "preset_values": preset_values("train", t.preset)}
    fp = fingerprint(TRAIN, settings, [s.fingerprint for s in records])
    out = root / "train" / fp
    args = [f"model={hydra_value(t.model)}"] + ([f"train={hydra_value(t.preset)}"] if t.preset else [])
    args += [f"data.roots={hydra_value([str(s.out) for s in records])}", f"output_dir={hydra_value(str(out))}",
             f"steps={t.steps}", f"batch_size={t.batch_size}", f"model.cameras={hydra_value(cfg.cameras)}",
             f"model.image_size={cfg.image_size}", f"progress={hydra_value(cfg.progress)}", *t.overrides]
    return Stage(TRAIN, TRAIN, tuple(args), out, fp, t.steps * t.batch_size)


def checkpoint_of(train: Stage) -> Path:
    """The checkpoint the VLA is benchmarked with: the training run's newest (`checkpoints/last`)."""
    return train.out / "checkpoints" / "last"


def eval_stages(cfg: DemoConfig, root: Path, train: Stage) -> list[Stage]:
    """One benchmark per policy on the eval seeds; only the VLA's depends on training."""
    e = cfg.eval
    stages = []
    for policy in e.policies:
        settings = {"policy": policy, "tasks": cfg.tasks, "episodes": e.episodes, "seed": e.seed,
                    "cameras": cfg.cameras, "image_size": cfg.image_size, "replan_every": e.replan_every,
                    "batch_envs": e.batch_envs, "videos_per_task": e.videos_per_task, "overrides": e.overrides}
        learned = policy == LEARNED
        fp = fingerprint(EVAL, settings, [train.fingerprint] if learned else [])
        out = root / "eval" / f"{policy}-{fp}"
        args = [f"policy={hydra_value(policy)}", f"tasks={hydra_value(cfg.tasks)}", f"episodes={e.episodes}",
                f"seed={e.seed}", f"cameras={hydra_value(cfg.cameras)}", f"image_size={cfg.image_size}",
                f"out_dir={hydra_value(str(out))}", f"workers={e.workers}", f"batch_envs={e.batch_envs}",
                f"videos_per_task={e.videos_per_task}", f"replan_every={hydra_value(e.replan_every)}",
                f"progress={hydra_value(cfg.progress)}"]
        if learned:
            args.append(f"+policy_kwargs.checkpoint={hydra_value(str(checkpoint_of(train)))}")
        stages.append(Stage(f"{EVAL}/{policy}", EVAL, tuple(args + list(e.overrides)), out, fp,
                            e.episodes * len(cfg.tasks), policy=policy))
    return stages


def build_plan(cfg: DemoConfig) -> list[Stage]:
    """Every stage of the demo in the order it runs: record each task, train, benchmark each policy."""
    root = Path(cfg.out_dir)
    records = record_stages(cfg, root)
    train = train_stage(cfg, root, records)
    return [*records, train, *eval_stages(cfg, root, train)]
