"""The `train_state/` of a checkpoint: everything besides the weights that a resumed run needs to continue
exactly where the interrupted one stopped, written without pickle.

    train_state/
      optimizer.safetensors  AdamW moments and step counters, keyed "<param name>/<slot>"
      optimizer.json         param groups (hyper-parameters, param names per group)
      scheduler.json         LambdaLR state (step count, base lrs, the WarmupCosine numbers)
      rng.json               python / numpy / torch (CPU, CUDA) generator states, one entry per process
      progress.json          optimizer step, data order (epoch, position), world size, frames seen

Optimizer state is keyed by parameter name rather than by position (torch's own state dict numbers the
params), so it is checked against the model on load and a mismatch is an error naming the parameter. It
goes through `torch.distributed.checkpoint.state_dict`, which gives full (unsharded) state under DDP and
FSDP alike and works on a plain module.
"""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from vla.io import atomic_write_json

STATE_DIR = "train_state"
FORMAT_VERSION = 1


def _options(full: bool = True, offload: bool = False) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=full, cpu_offload=offload)


def gather_optimizer_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The full optimizer state keyed by parameter name; collective, so every process calls it.

    Under a process group only rank 0 receives the values (cpu_offload), the others an empty dict.
    """
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    return get_optimizer_state_dict(model, optimizer, options=_options(offload=distributed))


def _split_optimizer_state(osd: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for name, slots in osd["state"].items():
        for slot, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"{name}/{slot}"] = value.detach().to("cpu").contiguous()
            else:
                scalars.setdefault(name, {})[slot] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in osd["param_groups"]]
    return tensors, {"param_groups": groups, "non_tensor_state": scalars}


def _join_optimizer_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, dict[str, Any]] = {}
    for key, value in tensors.items():
        name, _, slot = key.rpartition("/")
        state.setdefault(name, {})[slot] = value
    for name, slots in meta["non_tensor_state"].items():
        state.setdefault(name, {}).update(slots)
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def capture_rng() -> dict[str, Any]:
    """This process's generator states as a JSON-safe dict (torch byte states base64-encoded)."""

    def b64(t: torch.Tensor) -> str:
        return base64.b64encode(t.numpy().tobytes()).decode("ascii")

    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(mt), gauss],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch_cpu": b64(torch.get_rng_state()),
        "cuda": [b64(s) for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
    }
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Set this process's generators to a state made by `capture_rng`."""

    def unb64(text: str) -> torch.Tensor:
        return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8).clone()

    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(unb64(state["torch_cpu"]))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([unb64(s) for s in state["cuda"]])


def write_train_state(
    ckpt_dir: str | Path,
    optimizer_state: dict[str, Any],
    scheduler_state: dict[str, Any],
    rng_states: list[dict[str, Any]],
    progress: dict[str, Any],
) -> Path:
    """Write `ckpt_dir/train_state/` (main process only; `ckpt_dir` is the checkpoint's temporary dir)."""
    out = Path(ckpt_dir) / STATE_DIR
    out.mkdir(parents=True, exist_ok=True)
    tensors, meta = _split_optimizer_state(optimizer_state)
    save_file(tensors, str(out / "optimizer.safetensors"))
    atomic_write_json(out / "optimizer.json", meta)
    atomic_write_json(out / "scheduler.json", scheduler_state)
    atomic_write_json(out / "rng.json", {"per_process": rng_states})
    atomic_write_json(out / "progress.json", {"format_version": FORMAT_VERSION, **progress})
    return out


def read_progress(ckpt_dir: str | Path) -> dict[str, Any]:
    """The progress record of a checkpoint (step, order, world size); a missing train_state is an error."""
    path = Path(ckpt_dir) / STATE_DIR / "progress.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: {ckpt_dir} has no train_state to resume from")
    progress = json.loads(path.read_text())
    if progress.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format_version {progress.get('format_version')!r}, expected {FORMAT_VERSION}")
    return progress


def load_optimizer_state(ckpt_dir: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Load the saved optimizer state into `optimizer` (every process calls it; names must match)."""
    from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

    src = Path(ckpt_dir) / STATE_DIR
    meta = json.loads((src / "optimizer.json").read_text())
    osd = _join_optimizer_state(load_file(str(src / "optimizer.safetensors")), meta)
    expected = {name for name, p in _named_trainable(model)}
    saved = {name for group in osd["param_groups"] for name in group["params"]}
    if expected != saved:
        missing, extra = sorted(expected - saved)[:5], sorted(saved - expected)[:5]
        raise ValueError(
            f"optimizer state in {src} does not match the model's trainable parameters: "
            f"missing {missing}, unexpected {extra} (was the run started with another finetune/freeze?)"
        )
    set_optimizer_state_dict(model, optimizer, osd, options=_options())


def _named_trainable(model: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    inner = getattr(model, "module", model)  # DDP wraps the model as .module
    return [(n, p) for n, p in inner.named_parameters() if p.requires_grad]


def read_scheduler_state(ckpt_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(ckpt_dir) / STATE_DIR / "scheduler.json").read_text())


def read_rng_state(ckpt_dir: str | Path, rank: int) -> dict[str, Any] | None:
    """Process `rank`'s saved generator states, or None when the saving run had fewer processes."""
    states = json.loads((Path(ckpt_dir) / STATE_DIR / "rng.json").read_text())["per_process"]
    return states[rank] if rank < len(states) else None
