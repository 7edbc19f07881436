"""The typed schema of `vla-demo` (conf/demo.yaml composes and overrides it; `main()` converts to it).

One place decides what every stage shares: the task list, the cameras and the image size go to the
recorder, the model and the benchmark alike, so the three can never disagree. Each stage also takes free
`overrides` (Hydra override strings for that stage's own app) for anything the demo does not name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

BASELINES = ("scripted", "random", "noop")
LEARNED = "vla"


def _at_least(owner: str, name: str, value: int, low: int) -> None:
    if value is None or value < low:
        raise ValueError(f"{owner}.{name} must be >= {low}, got {value!r}")


def _check_overrides(owner: str, overrides: List[str]) -> None:
    """Overrides are `key=value` strings (Hydra's syntax); anything else would fail late inside a stage."""
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            raise ValueError(f"{owner}.overrides entries must look like 'key=value', got {item!r}")


@dataclass
class RecordStage:
    """Expert demonstrations: `episodes` attempts per task on seeds `seed`, `seed + 1`, ...; only the
    expert's successes are kept (vla-record's default), so a dataset may hold a few episodes fewer."""

    episodes: int = 200
    seed: int = 0
    workers: int = 2  # worker processes (vla-record needs at least one)
    overrides: List[str] = field(default_factory=list)  # extra `vla-record` overrides

    def __post_init__(self) -> None:
        _at_least("record", "episodes", self.episodes, 1)
        _at_least("record", "workers", self.workers, 1)
        _check_overrides("record", self.overrides)


@dataclass
class TrainStage:
    """The VLA's training run: model preset `conf/model/<model>.yaml`, optional `conf/train/<preset>.yaml`."""

    model: str = "demo"
    preset: Optional[str] = "demo"
    steps: int = 3000
    batch_size: int = 16
    overrides: List[str] = field(default_factory=list)  # extra `vla-train` overrides

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("train.model must name a conf/model/<name>.yaml, got an empty string")
        if self.preset == "":
            raise ValueError("train.preset must name a conf/train/<name>.yaml or be null, got ''")
        _at_least("train", "steps", self.steps, 1)
        _at_least("train", "batch_size", self.batch_size, 1)
        _check_overrides("train", self.overrides)


@dataclass
class EvalStage:
    """`vla-bench` of every policy in `policies` on the demo's tasks, on seeds from `seed`."""

    policies: List[str] = field(default_factory=lambda: [LEARNED, *BASELINES])
    episodes: int = 20
    seed: int = 1000
    workers: int = 2
    batch_envs: int = 1
    replan_every: Optional[int] = None  # None plays whole action chunks
    videos_per_task: int = 1
    overrides: List[str] = field(default_factory=list)  # extra `vla-bench` overrides (all policies)

    def __post_init__(self) -> None:
        self.policies = list(self.policies)
        if not self.policies or len(set(self.policies)) != len(self.policies):
            raise ValueError(f"eval.policies must be a non-empty list of distinct names, got {self.policies!r}")
        _at_least("eval", "episodes", self.episodes, 1)
        _at_least("eval", "workers", self.workers, 0)
        _at_least("eval", "batch_envs", self.batch_envs, 1)
        _at_least("eval", "videos_per_task", self.videos_per_task, 0)
        if self.replan_every is not None:
            _at_least("eval", "replan_every", self.replan_every, 1)
        _check_overrides("eval", self.overrides)


@dataclass
class DemoConfig:
    """The whole demo: record -> train -> evaluate -> report, under `out_dir`."""

    out_dir: str = "outputs/demo"
    tasks: List[str] = field(default_factory=lambda: ["tabletop/touch", "tabletop/pick", "tabletop/push"])
    cameras: List[str] = field(default_factory=lambda: ["front", "wrist"])
    image_size: int = 64
    record: RecordStage = field(default_factory=RecordStage)
    train: TrainStage = field(default_factory=TrainStage)
    eval: EvalStage = field(default_factory=EvalStage)
    # success rates the VLA should reach (task id -> rate); shown in the table and the bars, never enforced
    targets: Dict[str, float] = field(default_factory=lambda: {"tabletop/touch": 0.8, "tabletop/pick": 0.5})
    threads: Optional[int] = 1  # OMP/torch threads of each stage process (None: the library default); 2 threads
    # on a 2-core machine that runs anything else are many times slower than 1 (measured: 7 s vs 0.4 s per step)
    budget_s: float = 1200.0  # the wall-time budget the start-up estimate is compared against
    progress: bool = True
    dry_run: bool = False  # print the plan and the commands, run nothing

    def __post_init__(self) -> None:
        self.tasks, self.cameras = list(self.tasks), list(self.cameras)
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"demo.tasks must be a non-empty list of distinct task ids, got {self.tasks!r}")
        bad = [t for t in self.tasks if t.count("/") != 1 or not all(t.split("/"))]
        if bad:
            raise ValueError(f"demo.tasks entries must be task ids like 'tabletop/pick', got {bad!r}")
        if not self.cameras or len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"demo.cameras must be a non-empty list of distinct names, got {self.cameras!r}")
        _at_least("demo", "image_size", self.image_size, 8)
        bad_targets = {k: v for k, v in self.targets.items() if not 0 <= v <= 1}
        if bad_targets:
            raise ValueError(f"demo.targets must be success rates in [0, 1], got {bad_targets!r}")
        if self.threads is not None:
            _at_least("demo", "threads", self.threads, 1)
        if not self.budget_s > 0:
            raise ValueError(f"demo.budget_s must be > 0, got {self.budget_s!r}")
        if not self.out_dir:
            raise ValueError("demo.out_dir must be a directory path, got an empty string")
        if LEARNED in self.eval.policies and self.record.seed == self.eval.seed:
            raise ValueError(f"eval.seed must differ from record.seed (unseen episodes), both are {self.eval.seed}")
