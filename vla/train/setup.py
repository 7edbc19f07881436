"""Everything a run needs before its first step, from the config: which checkpoint it resumes, the model
(fresh, fine-tuned from `init_from`, or restored), the tokenizers, the norm stats and the datasets.

Where each piece comes from:

| piece              | fresh run                         | init_from=<ckpt>             | resume (train_state)        |
|--------------------|-----------------------------------|------------------------------|-----------------------------|
| weights            | `VLA.from_config` (seeded)        | the checkpoint's             | the checkpoint's            |
| action tokenizer   | the config's; FAST fitted on the  | the checkpoint's (its ids    | the checkpoint's            |
|                    | training chunks                   | mean what they meant)        |                             |
| norm stats         | the datasets' meta/stats.json     | the datasets' (new data)     | the checkpoint's            |
| LoRA adapters      | injected fresh (B = 0)            | injected fresh               | unmerged base + adapter     |
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate.logging import get_logger

from vla.config import to_dataclass
from vla.train import checkpoints
from vla.train.config import TrainConfig
from vla.train.data import (DataSplit, TransformedFrames, action_chunks, frame_datasets, open_data)
from vla.train.finetune import ADAPTER_DIR, apply_lora, freeze_parts, load_adapter
from vla.train.loop import LORA_BASE_FILE, Components
from vla.train.state import STATE_DIR

log = get_logger(__name__)  # Accelerate's: logs on the main process only


def resolve_resume(cfg: TrainConfig) -> Path | None:
    """The checkpoint this run continues, per `cfg.resume`: auto (the newest, if any), true (must exist),
    false (must not: a fresh run never overwrites another run's checkpoints)."""
    latest = checkpoints.latest_checkpoint(cfg.output_dir)
    if cfg.resume == "true" and latest is None:
        raise FileNotFoundError(f"resume=true but {cfg.output_dir}/checkpoints has no checkpoint")
    if cfg.resume == "false" and latest is not None:
        raise FileExistsError(f"resume=false but {cfg.output_dir} already holds checkpoints (newest {latest.name}); "
                              "use another output_dir, delete it, or resume=auto to continue it")
    return latest if cfg.resume in ("auto", "true") else None


def _restore_model(ckpt: Path) -> tuple[torch.nn.Module, Any, Any]:
    """(model, normalizer, tokenizers) of `ckpt` as it was trained: a LoRA checkpoint's merged weights are
    replaced by the unmerged base and the adapter is injected again, so training continues bit for bit."""
    from safetensors.torch import load_file

    from vla.checkpoint import load_pretrained

    model, normalizer, toks = load_pretrained(ckpt)
    if (ckpt / ADAPTER_DIR).is_dir():
        base = load_file(str(ckpt / STATE_DIR / LORA_BASE_FILE))
        missing = sorted(set(base) - set(model.state_dict()))
        if missing:
            raise ValueError(f"{ckpt}/{STATE_DIR}/{LORA_BASE_FILE} names weights the model lacks: {missing[:5]}")
        model.load_state_dict(base, strict=False)
        load_adapter(model, ckpt / ADAPTER_DIR)
    return model, normalizer, toks


def _fit_fast(action_tokenizer: Any, split: DataSplit, normalizer: Any, horizon: int, accelerator: Any) -> Any:
    """FAST's BPE fitted on the normalized training chunks. The main process fits and the others load its
    result, so every process (and node) holds the same tokenizer."""
    from vla.actions import load_action_tokenizer
    from vla.data.reader import DatasetReader

    fitted_files: list[Any] = [None]
    if accelerator.is_main_process:
        raw = []
        for root, meta, eps in zip(split.roots, split.metas, split.train_episodes):
            reader = DatasetReader(root)
            raw.append(action_chunks(reader.columns, meta, eps, horizon))
        chunks = normalizer.normalize("action", np.concatenate(raw))  # (N, H, A)
        log.info("fitting the FAST action tokenizer on %d training chunks", len(chunks))
        with tempfile.TemporaryDirectory() as tmp:
            action_tokenizer.fit(chunks).save(tmp)
            fitted_files = [{p.name: p.read_text() for p in Path(tmp).iterdir()}]
    if accelerator.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        fitted_files = broadcast_object_list(fitted_files)
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in fitted_files[0].items():
            (Path(tmp) / name).write_text(text)
        return load_action_tokenizer(tmp)


def _new_model(cfg: TrainConfig, model_cfg: Any, split: DataSplit, accelerator: Any) -> tuple[torch.nn.Module, Any]:
    """(model, text tokenizer) for a run that starts from `init_from` or from scratch."""
    from vla.model import VLA, build_action_tokenizer_for
    from vla.model.lm import lm_vocab_size
    from vla.model.tokens import load_text_tokenizer_for

    if cfg.init_from:
        from vla.checkpoint import load_pretrained

        model, _, toks = load_pretrained(Path(cfg.init_from).expanduser())
        return model.train(), toks.text
    action_tokenizer = build_action_tokenizer_for(model_cfg, lm_vocab_size(model_cfg.lm, model_cfg.trust_remote_code))
    if action_tokenizer.num_tokens is None and not getattr(action_tokenizer, "fitted", True):
        action_tokenizer = _fit_fast(action_tokenizer, split, split.normalizer, model_cfg.horizon, accelerator)
    torch.manual_seed(cfg.seed)  # the same initial weights on every process and every run
    return VLA.from_config(model_cfg, action_tokenizer=action_tokenizer), load_text_tokenizer_for(model_cfg)


def build_components(cfg: TrainConfig, accelerator: Any) -> Components:
    """The model, data, transforms and save function of the run `cfg` describes (see the module table)."""
    from vla.checkpoint import write_pretrained
    from vla.model import VLAConfig
    from vla.transforms import make_input_transforms

    resume = resolve_resume(cfg)
    model_cfg = to_dataclass(cfg.model, VLAConfig)
    if resume is not None:
        log.info("resuming from %s", resume)
        model, normalizer, toks = _restore_model(resume)
        model_cfg, text_tokenizer = model.cfg, toks.text
        split = open_data(cfg.data.roots, cfg.data.heldout_fraction, cfg.seed, model_cfg)
    else:
        log.info("fine-tuning from %s" % cfg.init_from if cfg.init_from else "training from scratch")
        split = open_data(cfg.data.roots, cfg.data.heldout_fraction, cfg.seed, model_cfg)
        model, text_tokenizer = _new_model(cfg, model_cfg, split, accelerator)
        model_cfg, normalizer = model.cfg, split.normalizer
        if cfg.finetune == "lora":
            apply_lora(model, cfg.lora)
    freeze_parts(model, cfg.freeze)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info("model: %.2fM parameters, %.2fM trainable (finetune=%s, freeze=%s); episodes train %s, held-out %s",
             sum(p.numel() for p in model.parameters()) / 1e6, trainable / 1e6, cfg.finetune, cfg.freeze,
             [len(e) for e in split.train_episodes], [len(e) for e in split.heldout_episodes])
    model.train()
    action_tokenizer = model.action_tokenizer
    steps = make_input_transforms(cameras=model_cfg.cameras, normalizer=normalizer, text_tokenizer=text_tokenizer,
                                  action_tokenizer=action_tokenizer, state_dim=model_cfg.state_dim,
                                  image_shape=(model_cfg.image_size, model_cfg.image_size))
    size = model_cfg.image_size
    train_set = TransformedFrames(frame_datasets(split, False, model_cfg.horizon), steps, size)
    eval_set = None
    if split.has_heldout:
        eval_set = TransformedFrames(frame_datasets(split, True, model_cfg.horizon), steps, size)

    def save_model(plain_model: torch.nn.Module, directory: Path) -> None:
        write_pretrained(directory, plain_model, normalizer, text_tokenizer, action_tokenizer)

    return Components(model=model, collate=model.collator(), train_set=train_set, eval_set=eval_set,
                      save_model=save_model, unnormalize_actions=lambda a: normalizer.unnormalize("action", a),
                      resume_from=resume)
