"""Train the learned affordance (`value_model.ValueModel`) on tabletop rollouts, on CPU in a few minutes.

Collects rollouts (`value_data.collect`; cached as `<out>/data.npz`, so a killed run does not collect
again), splits them by episode into train and held-out, trains with binary cross-entropy, and writes the
model directory (`model.safetensors`, `config.json`) and `metrics.json` (held-out accuracy against the
executed outcomes and against the geometric model's verdicts, the geometric model's own accuracy, times).

    python -m policies.saycan.train_value --out runs/value      # 300 rollouts (~1,800 samples), 40 epochs
    python -m policies.saycan.train_value --out runs/value-small --episodes 60 --epochs 30 --workers 2
    vla-run planner=learned planner.affordance_checkpoint=runs/value/model    # plan with it
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from policies.saycan.value_data import CollectConfig, ValueData, collect
from policies.saycan.value_model import ValueModel, ValueModelConfig, encode_skill


@dataclass
class TrainConfig:
    """Optimization settings; validated on construction."""

    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    shift: int = 4  # random image shift (pixels, pad-and-crop as DrQ): cheap augmentation for few samples
    val_frac: float = 0.2  # share of episodes held out
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.weight_decay < 0 or self.shift < 0:
            raise ValueError(f"TrainConfig lr > 0, weight_decay >= 0, shift >= 0 required, got "
                             f"{self.lr}, {self.weight_decay}, {self.shift}")
        if not 0.0 <= self.val_frac < 1.0:
            raise ValueError(f"TrainConfig.val_frac must be in [0, 1), got {self.val_frac}")


def tensors(data: ValueData, model_cfg: ValueModelConfig) -> tuple[torch.Tensor, ...]:
    """(images uint8 (N, s, s, 3), states (N, S), skill codes (N, K), labels (N,)) for the model."""
    from vla.transforms import resize_image

    images = np.stack([resize_image(im, model_cfg.image_size) for im in data.images]) if len(data) else \
        np.zeros((0, model_cfg.image_size, model_cfg.image_size, 3), np.uint8)
    codes = np.stack([encode_skill(str(s), model_cfg.colors) for s in data.skills]) if len(data) else \
        np.zeros((0, model_cfg.skill_dim), np.float32)
    return (torch.from_numpy(images), torch.from_numpy(data.states.astype(np.float32)), torch.from_numpy(codes),
            torch.from_numpy(data.labels.astype(np.float32)))


def random_shift(images: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Each image (B, H, W, 3) moved by up to `pad` pixels (edge-padded, then cropped back)."""
    if pad == 0:
        return images
    b, h, w, _ = images.shape
    padded = F.pad(images.permute(0, 3, 1, 2).float(), (pad,) * 4, mode="replicate")  # (B, 3, H+2p, W+2p)
    dx, dy = torch.randint(0, 2 * pad + 1, (2, b), generator=gen)
    out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])  # (B, 3, H, W)
    return out.permute(0, 2, 3, 1)  # (B, H, W, 3)


def evaluate(model: ValueModel, data: ValueData) -> dict[str, float]:
    """Loss and accuracy (threshold 0.5) of `model` on `data`, against the executed outcomes and against the
    geometric model's verdicts; and the geometric model's own accuracy on the outcomes, for comparison."""
    if len(data) == 0:
        return {"n": 0}
    images, states, codes, labels = tensors(data, model.config)
    model.eval()
    with torch.no_grad():
        logits = model(images, states, codes)  # (N,)
    pred = (logits > 0).float().numpy()
    verbs = np.array([str(s).split()[0] for s in data.skills])  # "pick", "place", "done"
    return {"n": len(data), "loss": float(F.binary_cross_entropy_with_logits(logits, labels)),
            "accuracy": float(np.mean(pred == data.labels)),
            "accuracy_vs_geometric": float(np.mean(pred == data.geometric)),
            "geometric_accuracy": float(np.mean(data.geometric == data.labels)),
            "positive_rate": float(np.mean(data.labels)),
            "accuracy_by_verb": {str(v): float(np.mean(pred[verbs == v] == data.labels[verbs == v]))
                                 for v in np.unique(verbs)}}


def train(train_data: ValueData, model_cfg: ValueModelConfig | None = None,
          cfg: TrainConfig | None = None) -> tuple[ValueModel, list[float]]:
    """A ValueModel fit to `train_data`; returns it (eval mode) and the mean training loss of every epoch."""
    model_cfg, cfg = model_cfg or ValueModelConfig(), cfg or TrainConfig()
    if len(train_data) == 0:
        raise ValueError("train_data is empty: collect some rollouts first")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = ValueModel(model_cfg)
    model.set_state_stats(train_data.states)
    images, states, codes, labels = tensors(train_data, model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    history = []
    model.train()
    for _ in range(cfg.epochs):
        order = torch.randperm(len(labels), generator=gen)
        total = 0.0
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            logits = model(random_shift(images[idx], cfg.shift, gen), states[idx], codes[idx])  # (b,)
            loss = F.binary_cross_entropy_with_logits(logits, labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history.append(total / len(order))
    return model.eval(), history


def collect_cached(out: Path, collect_cfg: CollectConfig) -> tuple[ValueData, float]:
    """The rollouts in `out/data.npz` when present (a resumed run), else freshly collected and saved;
    returns them and the seconds spent collecting (0 when cached). Cached data collected with another
    config (`out/collect.json`) raises rather than being reused silently."""
    from vla.io import atomic_write_json

    path, cfg_path = out / "data.npz", out / "collect.json"
    wanted = json.loads(json.dumps(dataclasses.asdict(collect_cfg)))  # tuples as JSON lists
    wanted.pop("workers")  # the data does not depend on it
    if path.is_file() and cfg_path.is_file():
        cached = json.loads(cfg_path.read_text())
        if cached != wanted:
            diff = {k: (cached.get(k), v) for k, v in wanted.items() if cached.get(k) != v}
            raise ValueError(f"{path} was collected with other settings (cached, requested): {diff}; "
                             f"use another --out or delete it")
        return ValueData.load(path), 0.0
    start = time.perf_counter()
    data = collect(collect_cfg)
    atomic_write_json(cfg_path, wanted)
    data.save(path)
    return data, time.perf_counter() - start


def run(out: str | Path, collect_cfg: CollectConfig, model_cfg: ValueModelConfig,
        cfg: TrainConfig) -> dict[str, Any]:
    """Collect (or reuse), train, evaluate on held-out episodes, save model + metrics.json; returns metrics."""
    from vla.io import atomic_write_json

    out = Path(out)
    data, collect_s = collect_cached(out, collect_cfg)
    train_data, val_data = data.split_by_episode(cfg.val_frac, cfg.seed)
    start = time.perf_counter()
    model, history = train(train_data, model_cfg, cfg)
    train_s = time.perf_counter() - start
    model.save(out / "model")
    metrics = {"samples": len(data), "train_samples": len(train_data), "collect_s": round(collect_s, 1),
               "train_s": round(train_s, 1), "torch_threads": torch.get_num_threads(),
               "train_loss_first": history[0], "train_loss_last": history[-1],
               "train": evaluate(model, train_data), "held_out": evaluate(model, val_data),
               "data_agreement_with_geometric": data.agreement()}
    atomic_write_json(out / "metrics.json", metrics)
    return metrics


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m policies.saycan.train_value", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output directory (data.npz, model/, metrics.json)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    seen = {"tasks"}  # tasks takes several values; seed is shared by both configs
    for schema in (CollectConfig, TrainConfig):
        for f in fields(schema):
            if f.name in seen:
                continue
            seen.add(f.name)
            p.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    p.add_argument("--tasks", nargs="+", default=list(CollectConfig.tasks), help="tabletop tasks to collect on")
    return p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = vars(_parser().parse_args(argv))
    torch.set_num_threads(args.pop("threads"))
    out = args.pop("out")
    collect_cfg = CollectConfig(**{f.name: args[f.name] for f in fields(CollectConfig)})
    train_cfg = TrainConfig(**{f.name: args[f.name] for f in fields(TrainConfig) if f.name != "seed"},
                            seed=args["seed"])
    metrics = run(out, collect_cfg, ValueModelConfig(image_size=collect_cfg.image_size), train_cfg)
    held = metrics["held_out"]
    print(f"{metrics['samples']} samples (collect {metrics['collect_s']} s), train {metrics['train_s']} s; "
          f"held-out n={held.get('n')}: accuracy {held.get('accuracy', float('nan')):.3f} "
          f"(vs geometric labels {held.get('accuracy_vs_geometric', float('nan')):.3f}; geometric model's own "
          f"accuracy {held.get('geometric_accuracy', float('nan')):.3f}) -> {Path(out) / 'model'}")
    return metrics


if __name__ == "__main__":
    main()
