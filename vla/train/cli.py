"""vla-train: train or fine-tune the VLA on LeRobot v3 datasets (Hydra app, conf/train.yaml).

Examples (copy-paste):

    # train the tiny model from scratch on a recorded dataset
    vla-train data.roots=[outputs/data/pick] output_dir=outputs/train/pick steps=2000

    # a killed run continues exactly where its last checkpoint left it (resume=auto is the default)
    vla-train data.roots=[outputs/data/pick] output_dir=outputs/train/pick steps=2000

    # bf16 autocast, larger batches through gradient accumulation
    vla-train data.roots=[outputs/data/pick] bf16=true batch_size=16 grad_accum=4

    # FAST action tokens (fitted on the training chunks, saved with the checkpoint)
    vla-train data.roots=[outputs/data/pick] model.action_tokenizer=fast model.decoding=autoregressive

    # projector-only alignment, then LoRA fine-tuning from that checkpoint
    vla-train train=align data.roots=[outputs/data/pick] output_dir=outputs/train/align
    vla-train train=lora data.roots=[outputs/data/pick] init_from=outputs/train/align/checkpoints/last \
        output_dir=outputs/train/lora

    # the pretrained SmolLM2-135M language model
    vla-train model=smollm2 data.roots=[outputs/data/pick]

    # many processes, one node or many (DDP; NCCL on GPUs, gloo on CPUs): Accelerate or torchrun
    accelerate launch --multi_gpu --num_processes 8 -m vla.train.cli data.roots=[outputs/data/pick] bf16=true
    torchrun --nproc_per_node 2 -m vla.train.cli data.roots=[outputs/data/pick]      # 2 CPU processes
    torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 --master_addr <host0> -m vla.train.cli ...
    # (`accelerate launch --cpu --num_processes N` starts ONE process unless MPI is set up; use the above.)
    # `batch_size` is per process: the global batch is batch_size x processes x grad_accum.

Outputs, under `output_dir`: `checkpoints/step_XXXXXXXX/` (model.safetensors, config.json, tokenizer files,
norm_stats.json, train_state/; `checkpoints/last` points at the newest), `tensorboard/` (loss, action-token
accuracy, held-out L1 of unnormalized actions; `tensorboard --logdir <output_dir>/tensorboard`).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from vla.config import CONFIG_PATH, to_dataclass
from vla.train.config import TrainConfig


@hydra.main(config_path=CONFIG_PATH, config_name="train", version_base=None)
def main(dict_cfg: DictConfig) -> None:
    """Validate the config, train, and print the final checkpoint (and last held-out metrics)."""
    from vla.train.run import train

    cfg = to_dataclass(dict_cfg, TrainConfig)
    result = train(cfg)
    if result.is_main_process:
        print(f"checkpoint: {result.checkpoint} (step {result.step})")
        if result.evals:
            step = max(result.evals)
            shown = ", ".join(f"{k}={v:.4f}" for k, v in result.evals[step].items())
            print(f"held-out at step {step}: {shown}")


if __name__ == "__main__":
    main()
