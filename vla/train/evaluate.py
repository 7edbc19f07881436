"""Held-out evaluation during training: token loss, action-token accuracy, and the L1 error of the
decoded, unnormalized action chunks on episodes the model never trains on.

The L1 compares the model's greedy chunk with the target chunk, both mapped back to data units by the
checkpoint's own normalizer. The target is the one the model is trained on (normalized, hence clipped
to the [q01, q99] range, then unnormalized), so the metric measures the model, not the clipping.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vla.train.precision import autocast


def eval_batches(num_samples: int, batch_size: int, max_batches: int, rank: int, world: int) -> list[list[int]]:
    """Process `rank`'s share of the fixed evaluation batches.

    Up to `max_batches * batch_size` frames spread evenly over the held-out set (every episode is
    visited, not just the first ones); every process gets the same number of batches (wrapping around
    when needed), because sharded models (FSDP) need all processes in every forward.
    """
    if num_samples <= 0:
        raise ValueError("the held-out split is empty; raise data.heldout_fraction or record more episodes")
    count = min(num_samples, max_batches * batch_size)
    picks = np.linspace(0, num_samples - 1, count).round().astype(int).tolist()
    batches = [picks[i : i + batch_size] for i in range(0, count, batch_size)]
    per_rank = -(-len(batches) // world)  # ceil
    return [batches[(rank + world * k) % len(batches)] for k in range(per_rank)]


def evaluate(accelerator: Any, model: torch.nn.Module, parts: Any, cfg: Any) -> dict[str, float]:
    """Held-out `loss` and `action_accuracy` (means over frames), and when the model decodes, `action_l1`
    (mean over the frames whose greedy ids decode) and `action_decode_failures` (share that do not: a FAST
    sequence of the wrong length early in training). Averaged over all processes; leaves eval mode on."""
    raw = accelerator.unwrap_model(model)
    raw.eval()
    sums = torch.zeros(6, dtype=torch.float64)  # loss*n, accuracy*n, l1 sum, decoded, failed, n
    batches = eval_batches(len(parts.eval_set), cfg.batch_size, cfg.data.max_eval_batches,
                           accelerator.process_index, accelerator.num_processes)
    with torch.no_grad():
        for indices in batches:
            batch = parts.collate([parts.eval_set[i] for i in indices])
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            with autocast(accelerator.device, cfg.bf16):
                out = raw(batch)
                l1_sum, decoded, failed = _action_errors(raw, batch, parts.unnormalize_actions)
            n = len(indices)
            sums += torch.tensor([out.loss.item() * n, float(out.action_accuracy) * n, l1_sum, decoded, failed, n],
                                 dtype=torch.float64)
    total = accelerator.reduce(sums.to(accelerator.device), reduction="sum").cpu().tolist()
    metrics = {"loss": total[0] / total[5], "action_accuracy": total[1] / total[5]}
    if parts.unnormalize_actions is not None:
        metrics["action_decode_failures"] = total[4] / total[5]
        if total[3] > 0:
            metrics["action_l1"] = total[2] / total[3]
    return metrics


def _action_errors(model: torch.nn.Module, batch: dict[str, torch.Tensor], unnormalize: Any) -> tuple[float, int, int]:
    """(sum over decodable frames of mean |pred - target| in data units, frames decoded, frames that failed).

    Rows are decoded one by one so one malformed sequence costs one frame, not the batch."""
    from vla.actions import ActionDecodeError

    if unnormalize is None:
        return 0.0, 0, 0
    inputs = {k: v for k, v in batch.items() if k not in ("action_ids", "action_mask", "actions")}
    ids = model.predict_action_ids(inputs)  # (B, La)
    targets = np.asarray(unnormalize(batch["actions"].float().cpu().numpy()), dtype=np.float64)  # (B, H, A)
    total, decoded, failed = 0.0, 0, 0
    for row in range(ids.shape[0]):
        try:
            pred = model.ids_to_actions(ids[row : row + 1])[0]  # (H, A) normalized
        except ActionDecodeError:
            failed += 1
            continue
        pred = np.asarray(unnormalize(pred), dtype=np.float64)
        if pred.shape != targets[row].shape:
            raise ValueError(f"predicted chunk {pred.shape} and target {targets[row].shape} differ in shape")
        total += float(np.abs(pred - targets[row]).mean())
        decoded += 1
    return total, decoded, failed
