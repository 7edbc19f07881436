"""The typed schema of `vla-train` (conf/train.yaml composes and overrides it; `main()` converts to these).

Every dataclass validates itself in `__post_init__`, naming the field and the bad value, so a typo in a
Hydra override fails before any data is read or any weight is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

RESUME_MODES = ("auto", "true", "false")
FINETUNE_MODES = ("full", "lora")


def _positive(owner: str, name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{owner}.{name} must be > 0, got {value!r}")


def _non_negative(owner: str, name: str, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{owner}.{name} must be >= 0, got {value!r}")


@dataclass
class OptimConfig:
    """AdamW with linear warmup to `lr`, then cosine decay to `lr * min_lr_ratio` at the last step."""

    lr: float = 3e-4
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    warmup_steps: int = 50
    min_lr_ratio: float = 0.1
    max_grad_norm: float = 1.0  # 0 turns clipping off

    def __post_init__(self) -> None:
        _positive("optim", "lr", self.lr)
        _non_negative("optim", "weight_decay", self.weight_decay)
        _non_negative("optim", "warmup_steps", self.warmup_steps)
        _non_negative("optim", "max_grad_norm", self.max_grad_norm)
        _positive("optim", "eps", self.eps)
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValueError(f"optim.{name} must be in [0, 1), got {value!r}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"optim.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio!r}")


@dataclass
class LoraSettings:
    """LoRA (Hu et al. 2021) on the language model's linear layers named in `targets` (peft)."""

    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.0
    part: str = "lm"  # the model part (a direct child module) that gets the adapters
    targets: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])

    def __post_init__(self) -> None:
        _positive("lora", "rank", self.rank)
        _positive("lora", "alpha", self.alpha)
        if not 0 <= self.dropout < 1:
            raise ValueError(f"lora.dropout must be in [0, 1), got {self.dropout!r}")
        if not self.part:
            raise ValueError("lora.part must name a model part, got an empty string")
        if not self.targets or any(not t for t in self.targets):
            raise ValueError(f"lora.targets must name at least one module, got {self.targets!r}")


@dataclass
class DataConfig:
    """Where the LeRobot v3 datasets are and how their episodes split into train / held-out."""

    roots: list[str] = field(default_factory=list)
    heldout_fraction: float = 0.1
    num_workers: int = 0
    max_eval_batches: int = 4  # held-out batches per evaluation (each is `batch_size` frames)

    def __post_init__(self) -> None:
        if not 0 <= self.heldout_fraction < 1:
            raise ValueError(f"data.heldout_fraction must be in [0, 1), got {self.heldout_fraction!r}")
        _non_negative("data", "num_workers", self.num_workers)
        _positive("data", "max_eval_batches", self.max_eval_batches)


@dataclass
class TrainConfig:
    """One training or fine-tuning run; `steps` counts optimizer steps (each `grad_accum` micro-batches)."""

    model: dict[str, Any] = field(default_factory=dict)  # the VLAConfig fields (conf/model/<name>.yaml)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    lora: LoraSettings = field(default_factory=LoraSettings)
    output_dir: str = "outputs/train/run"
    seed: int = 0
    steps: int = 1000
    batch_size: int = 8  # per process, per micro-batch
    grad_accum: int = 1
    bf16: bool = False  # bf16 autocast (CPU or GPU); weights and optimizer state stay fp32
    cpu: bool = False  # train on the CPU even when a GPU is present
    log_every: int = 10
    eval_every: int = 200
    save_every: int = 200
    keep_last: int = 2  # checkpoints kept in output_dir/checkpoints (0 keeps all)
    resume: str = "auto"  # auto: continue if output_dir has a checkpoint; true: must; false: must not
    finetune: str = "full"  # full | lora
    freeze: list[str] = field(default_factory=list)  # model parts kept fixed, e.g. [vision, lm]
    init_from: Optional[str] = None  # a checkpoint dir whose weights start this run (ignored when resuming)
    progress: bool = True  # tqdm bar on the main process

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "grad_accum", "log_every", "eval_every", "save_every"):
            _positive("train", name, getattr(self, name))
        _non_negative("train", "keep_last", self.keep_last)
        self.resume = str(self.resume).lower()  # YAML reads a bare true/false as a bool
        if self.resume not in RESUME_MODES:
            raise ValueError(f"train.resume must be one of {RESUME_MODES}, got {self.resume!r}")
        if self.finetune not in FINETUNE_MODES:
            raise ValueError(f"train.finetune must be one of {FINETUNE_MODES}, got {self.finetune!r}")
        if len(set(self.freeze)) != len(self.freeze):
            raise ValueError(f"train.freeze lists a part twice: {self.freeze!r}")
        if self.finetune == "lora" and self.lora.part in self.freeze:
            raise ValueError(f"train.freeze {self.freeze!r} includes lora.part {self.lora.part!r}: its adapters "
                             "would be frozen too (LoRA already keeps that part's base weights fixed)")
        if not self.output_dir:
            raise ValueError("train.output_dir must be a directory path, got an empty string")
