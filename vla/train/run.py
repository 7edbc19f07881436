"""`train(cfg)`: one training or fine-tuning run from a validated `TrainConfig` (the Python API of vla-train).

    from vla.config import to_dataclass
    from vla.train.config import TrainConfig
    from vla.train.run import train

    cfg = to_dataclass({"data": {"roots": ["outputs/data/pick"]}, "model": {...}, "steps": 500}, TrainConfig)
    result = train(cfg)          # result.checkpoint: the last checkpoint dir; result.evals: held-out metrics
"""

from __future__ import annotations

from vla.train.config import TrainConfig
from vla.train.loop import Trainer, TrainResult, make_accelerator


def train(cfg: TrainConfig) -> TrainResult:
    """Build the run's parts, train to `cfg.steps` (resuming when `cfg.resume` says so), return the result.

    Works the same in one process and under `accelerate launch` / `torchrun` (one process per device).
    """
    from accelerate.utils import set_seed

    from vla.train.setup import build_components

    accelerator = make_accelerator(cfg)
    try:
        parts = build_components(cfg, accelerator)
        # Each process draws its own dropout masks; a resumed run overwrites this with the saved states.
        set_seed(cfg.seed + accelerator.process_index)
        trainer = Trainer(cfg, parts, accelerator)
        if accelerator.is_main_process:
            accelerator.init_trackers("vla-train")
        result = trainer.run()
    finally:
        accelerator.end_training()
    result.is_main_process = accelerator.is_main_process
    return result
