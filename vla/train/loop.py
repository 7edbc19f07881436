"""The training loop: AdamW + warmup/cosine, gradient accumulation, bf16 autocast, Accelerate, resume.

`Trainer` is the loop only; what it trains and on what comes in a `Components` (built from the config by
`vla.train.setup`), so tests can drive the same loop with fake data. One `Trainer.run()` call:

    prepare (Accelerate: CPU, one GPU, DDP over processes and nodes)
    -> restore train_state when resuming
    -> per optimizer step: `grad_accum` micro-batches (gradient sync only on the last), clip, step
    -> log (TensorBoard via Accelerate's tracker, tqdm), evaluate on held-out episodes, checkpoint

Checkpoints are committed atomically, and every process's RNG state, the data order (epoch, position),
the optimizer and the scheduler go into `train_state/`, so a resumed run computes the same losses as the
run that was interrupted (see tests/vla/test_train_loop.py).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from accelerate.logging import get_logger

from vla.config import to_dict
from vla.io import atomic_write_json
from vla.train import checkpoints
from vla.train.config import TrainConfig
from vla.train.evaluate import evaluate
from vla.train.finetune import has_lora, lora_base_state, merged_copy, save_adapter
from vla.train.order import BatchIndexStream, DataOrder, OrderState
from vla.train.precision import autocast
from vla.train.schedule import make_scheduler
from vla.train.state import (STATE_DIR, capture_rng, gather_optimizer_state, load_optimizer_state,
                             read_progress, read_rng_state, read_scheduler_state, restore_rng,
                             write_train_state)

log = get_logger(__name__)  # Accelerate's: logs on the main process only
LORA_BASE_FILE = "lora_base.safetensors"  # in train_state/: unmerged base weights of the LoRA layers


@dataclass
class Components:
    """What a run trains and on what; built by `vla.train.setup.build_components` (or a test).

    `model(batch)` returns an object with `.loss` (scalar) and `.action_accuracy`; `collate` turns a list
    of samples into a batch (picklable: DataLoader workers get it); `save_model(model, dir)` writes the
    loadable model files (weights, config, tokenizers, norm stats) of a plain (merged) model into `dir`;
    `unnormalize_actions` maps normalized action chunks (..., A) back to data units for the held-out L1.
    """

    model: torch.nn.Module
    collate: Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]]
    train_set: Any  # map-style dataset of samples
    eval_set: Any | None
    save_model: Callable[[torch.nn.Module, Path], None]
    unnormalize_actions: Callable[[Any], Any] | None = None
    resume_from: Path | None = None  # the checkpoint whose train_state this run continues, if any


@dataclass
class TrainResult:
    """Where the run ended: the last checkpoint, its step, and per-step / per-evaluation metrics."""

    checkpoint: Path
    step: int
    losses: dict[int, float] = field(default_factory=dict)  # optimizer step -> mean loss of its micro-batches
    evals: dict[int, dict[str, float]] = field(default_factory=dict)
    is_main_process: bool = True


def make_accelerator(cfg: TrainConfig) -> Any:
    """The Accelerator for `cfg`: device and process group, TensorBoard logs under `<output_dir>/tensorboard`.

    Gradient accumulation is done by the loop itself (no_sync on all but the last micro-batch), so the
    Accelerator's own accumulation stays at 1 and never rescales the loss behind our back.
    """
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, is_mps_available, is_npu_available, is_xpu_available

    project = ProjectConfiguration(project_dir=cfg.output_dir, logging_dir=str(Path(cfg.output_dir) / "tensorboard"))
    # Accelerate treats torchrun's processes as a CPU process group only when told `cpu=True`; without it,
    # a CPU-only machine silently runs N independent single-process copies that overwrite each other.
    cpu = cfg.cpu or not (torch.cuda.is_available() or is_xpu_available() or is_npu_available() or is_mps_available())
    # mixed_precision stays "no": the loop autocasts itself per cfg.bf16 (see vla.train.precision).
    return Accelerator(cpu=cpu, mixed_precision="no", log_with="tensorboard", project_config=project)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: weight decay on matrices and embeddings only, never on biases and norm gains (nanoGPT)."""
    decay, plain = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else plain).append(param)
    if not decay and not plain:
        raise ValueError("the model has no trainable parameters (check train.freeze and train.finetune)")
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


class Trainer:
    """Runs `cfg.steps` optimizer steps of `parts.model` on `parts.train_set`; see the module docstring."""

    def __init__(self, cfg: TrainConfig, parts: Components, accelerator: Any) -> None:
        self.cfg, self.parts, self.acc = cfg, parts, accelerator
        _check_supported(accelerator)
        groups = param_groups(parts.model, cfg.optim.weight_decay)
        optimizer = torch.optim.AdamW(groups, lr=cfg.optim.lr, betas=(cfg.optim.beta1, cfg.optim.beta2),
                                      eps=cfg.optim.eps, fused=_fused_adamw_ok(groups))
        self.scheduler = make_scheduler(optimizer, cfg.optim.warmup_steps, cfg.steps, cfg.optim.min_lr_ratio)
        self.model, self.optimizer = accelerator.prepare(parts.model, optimizer)
        self.order = DataOrder(len(parts.train_set), cfg.batch_size, cfg.seed, accelerator.num_processes)
        self.step, self.position = 0, OrderState()
        if parts.resume_from is not None:
            self._restore(parts.resume_from)

    # ----------------------------------------------------------------- resume
    def _restore(self, ckpt: Path) -> None:
        """Continue from `ckpt`'s train_state (weights were loaded into the model by the setup)."""
        progress = read_progress(ckpt)
        if progress["world_size"] != self.acc.num_processes:
            raise ValueError(f"{ckpt} was saved by {progress['world_size']} processes, this run has "
                             f"{self.acc.num_processes}; the data order and RNG streams would not continue "
                             "exactly. Resume with the same number of processes, or start a new output_dir "
                             "with init_from to fine-tune from it")
        if progress.get("train_frames", self.order.num_samples) != self.order.num_samples:
            log.warning("the training split had %d frames when %s was saved and has %d now (data added?); "
                        "training continues, but not in the order the interrupted run would have taken",
                        progress["train_frames"], ckpt, self.order.num_samples)
        load_optimizer_state(ckpt, self.acc.unwrap_model(self.model), self._raw_optimizer())
        self._restore_schedule(ckpt)
        self.step, self.position = int(progress["step"]), OrderState.from_dict(progress["order"])
        restore_rng(read_rng_state(ckpt, self.acc.process_index))

    def _restore_schedule(self, ckpt: Path) -> None:
        """The step count from the checkpoint, the schedule's shape from this run's config: the same numbers
        unless `steps` / `optim` changed (e.g. to extend a finished run), then the new curve from here on."""
        saved = read_scheduler_state(ckpt)
        self.scheduler.load_state_dict({**saved, "lr_lambdas": [None] * len(saved["lr_lambdas"])})
        schedule = self.scheduler.lr_lambdas[0].__dict__
        if saved["lr_lambdas"][0] != schedule:
            log.warning("the lr schedule changed since %s (%s -> %s); it continues on the new one", ckpt,
                        saved["lr_lambdas"][0], schedule)
            # The restored optimizer still holds the old curve's lr for the next step; LambdaLR's own rule.
            groups = self._raw_optimizer().param_groups
            for group, base, fn in zip(groups, self.scheduler.base_lrs, self.scheduler.lr_lambdas):
                group["lr"] = base * fn(self.scheduler.last_epoch)
            self.scheduler._last_lr = [group["lr"] for group in groups]  # what get_last_lr() reports

    def _raw_optimizer(self) -> torch.optim.Optimizer:
        return getattr(self.optimizer, "optimizer", self.optimizer)  # AcceleratedOptimizer wraps it

    # ----------------------------------------------------------------- data
    def batches(self) -> Iterator[dict[str, torch.Tensor]]:
        """Micro-batches from the saved position on, moved to this process's device.

        The loader gets its own generator: creating a DataLoader iterator otherwise draws a seed from the
        global torch RNG, and a resumed run (which creates one more iterator) would drift from the original.
        """
        loader = torch.utils.data.DataLoader(
            self.parts.train_set,
            batch_sampler=BatchIndexStream(self.order, self.position, self.acc.process_index),
            collate_fn=self.parts.collate,
            num_workers=self.cfg.data.num_workers,
            pin_memory=self.acc.device.type == "cuda",
            generator=torch.Generator().manual_seed(self.cfg.seed),
        )
        for batch in loader:
            yield {k: v.to(self.acc.device, non_blocking=True) for k, v in batch.items()}

    # ----------------------------------------------------------------- one step
    def train_step(self, batches: Iterator[dict[str, torch.Tensor]]) -> tuple[float, float, float]:
        """One optimizer step over `grad_accum` micro-batches; returns (loss, action accuracy, grad norm)."""
        self.model.train()
        accum, loss_sum, acc_sum = self.cfg.grad_accum, 0.0, 0.0
        for micro in range(accum):
            batch = next(batches)
            sync = contextlib.nullcontext() if micro == accum - 1 else self.acc.no_sync(self.model)
            with sync:
                with autocast(self.acc.device, self.cfg.bf16):
                    out = self.model(batch)
                if not torch.isfinite(out.loss):
                    raise FloatingPointError(f"loss is {out.loss.item()} at step {self.step + 1}, micro-batch "
                                             f"{micro}; lower optim.lr or check the data's normalization")
                self.acc.backward(out.loss / accum)
            self.position = self.order.advance(self.position)
            loss_sum += out.loss.item()
            acc_sum += float(out.action_accuracy)
        grad_norm = float("nan")
        if self.cfg.optim.max_grad_norm > 0:
            grad_norm = float(self.acc.clip_grad_norm_(self.model.parameters(), self.cfg.optim.max_grad_norm))
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return loss_sum / accum, acc_sum / accum, grad_norm

    # ----------------------------------------------------------------- the loop
    def run(self) -> TrainResult:
        """Train to `cfg.steps`, evaluating and checkpointing on the configured intervals; returns where it ended."""
        from tqdm.contrib.logging import logging_redirect_tqdm

        with logging_redirect_tqdm():  # log lines print above the progress bar instead of through it
            return self._run()

    def _run(self) -> TrainResult:
        from tqdm.auto import tqdm

        cfg, result = self.cfg, TrainResult(checkpoint=Path(), step=self.step)
        batches = self.batches()
        bar = tqdm(total=cfg.steps, initial=self.step, desc="train", dynamic_ncols=True,
                   disable=not (cfg.progress and self.acc.is_local_main_process))
        window: list[tuple[float, float]] = []
        tick = time.perf_counter()
        while self.step < cfg.steps:
            loss, accuracy, grad_norm = self.train_step(batches)
            result.losses[self.step] = loss
            window.append((loss, accuracy))
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", acc=f"{accuracy:.3f}")
            last = self.step == cfg.steps
            if self.step % cfg.log_every == 0 or last:
                self._log(window, grad_norm, time.perf_counter() - tick)
                window, tick = [], time.perf_counter()
            if self.parts.eval_set is not None and (self.step % cfg.eval_every == 0 or last):
                result.evals[self.step] = self._evaluate()
            if self.step % cfg.save_every == 0 or last:
                result.checkpoint = self.save()
                log.info("step %d: saved %s", self.step, result.checkpoint)
        batches.close()  # stops DataLoader workers now rather than at garbage collection
        bar.close()
        if not result.checkpoint.name:  # resumed at the final step: nothing was left to do
            result.checkpoint = checkpoints.latest_checkpoint(cfg.output_dir) or Path()
        result.step = self.step
        return result

    def _log(self, window: list[tuple[float, float]], grad_norm: float, seconds: float) -> None:
        """Mean loss / accuracy since the last log, averaged over processes, to TensorBoard."""
        local = torch.tensor([[l, a] for l, a in window], device=self.acc.device).mean(0)  # (2,)
        mean = self.acc.reduce(local, reduction="mean")
        frames = len(window) * self.cfg.grad_accum * self.order.global_batch
        metrics = {"train/loss": mean[0].item(), "train/action_accuracy": mean[1].item(),
                   "train/lr": self.scheduler.get_last_lr()[0], "train/samples_per_s": frames / max(seconds, 1e-9)}
        if grad_norm == grad_norm:  # not NaN: clipping is on
            metrics["train/grad_norm"] = grad_norm
        self.acc.log(metrics, step=self.step)

    def _evaluate(self) -> dict[str, float]:
        """Held-out metrics; the RNG is forked so evaluating never changes the training stream."""
        with torch.random.fork_rng(devices=[]):
            metrics = evaluate(self.acc, self.model, self.parts, self.cfg)
        self.acc.log({f"eval/{k}": v for k, v in metrics.items()}, step=self.step)
        return metrics

    # ----------------------------------------------------------------- checkpoints
    def save(self) -> Path:
        """Commit a checkpoint of the current step (collective: every process calls it); returns its dir."""
        model = self.acc.unwrap_model(self.model)
        optimizer_state = gather_optimizer_state(model, self._raw_optimizer())
        rng_states = _gather_rng(self.acc)
        target = checkpoints.step_dir(self.cfg.output_dir, self.step)
        if self.acc.is_main_process:
            target = checkpoints.commit_checkpoint(
                self.cfg.output_dir, self.step,
                lambda tmp: self._write(tmp, model, optimizer_state, rng_states), self.cfg.keep_last)
        self.acc.wait_for_everyone()
        return target

    def _write(self, tmp: Path, model: torch.nn.Module, optimizer_state: dict, rng_states: list[dict]) -> None:
        lora = has_lora(model)
        self.parts.save_model(merged_copy(model) if lora else model, tmp)
        progress = {"step": self.step, "order": self.position.to_dict(), "world_size": self.acc.num_processes,
                    "frames_seen": self.step * self.cfg.grad_accum * self.order.global_batch,
                    "train_frames": self.order.num_samples}
        write_train_state(tmp, optimizer_state, self.scheduler.state_dict(), rng_states, progress)
        if lora:
            from safetensors.torch import save_file

            save_adapter(tmp, model, self.cfg.lora)
            save_file(lora_base_state(model), str(tmp / STATE_DIR / LORA_BASE_FILE))
        atomic_write_json(tmp / STATE_DIR / "train_config.json", to_dict(self.cfg))


def _fused_adamw_ok(groups: list[dict[str, Any]]) -> bool:
    """Whether torch's fused AdamW kernel takes these params (float tensors on CPU or CUDA): one kernel per
    step instead of a dozen foreach ops, about 10 % of a tiny model's CPU training step."""
    params = [p for group in groups for p in group["params"]]
    return bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)


def _check_supported(accelerator: Any) -> None:
    """Refuse process setups whose checkpoints this loop cannot write whole: it saves the unwrapped module's
    weights, which under FSDP / DeepSpeed are shards. One process, CPU process groups and DDP are fine."""
    kind = str(accelerator.distributed_type).rsplit(".", 1)[-1]
    if kind not in ("NO", "MULTI_CPU", "MULTI_GPU", "MULTI_XPU", "MULTI_NPU"):
        raise NotImplementedError(f"vla-train runs in one process or data-parallel (DDP) processes; {kind} "
                                  "shards the weights, which its checkpoints do not gather yet. Launch without "
                                  "--use_fsdp / --use_deepspeed (the models here fit one device)")


def _gather_rng(accelerator: Any) -> list[dict[str, Any]]:
    """Every process's RNG state, in rank order (on every process)."""
    if accelerator.num_processes == 1:
        return [capture_rng()]
    from accelerate.utils import gather_object

    return list(gather_object([capture_rng()]))
