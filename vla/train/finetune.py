"""What a run trains: freezing named model parts, and LoRA adapters (peft) in one part.

The literature's stages map onto `freeze` and `finetune`: projector-only alignment (LLaVA stage 1) freezes
the vision encoder and the language model; full fine-tuning freezes nothing (or the vision encoder, as
OpenVLA does); LoRA fine-tuning (OpenVLA, Hu et al. 2021) puts rank-r adapters on the LM's linear layers
and freezes its base weights, while the small parts (projector, state encoder) stay trainable.

A part is a direct child module of the model (`model.named_children()`), e.g. `vision`, `projector`, `lm`.

LoRA checkpoints hold the merged weights in `model.safetensors` (any loader reads them as a plain model)
and the adapter itself under `adapter/` (peft's `adapter_model.safetensors` + `adapter_config.json`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from vla.io import atomic_write_json
from vla.train.config import LoraSettings

ADAPTER_DIR = "adapter"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PART_FILE = "vla_lora.json"


def model_parts(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The model's named top-level parts, the units that `freeze` and `lora.part` refer to."""
    return dict(model.named_children())


def _part(model: torch.nn.Module, name: str, field: str) -> torch.nn.Module:
    parts = model_parts(model)
    if name not in parts:
        raise ValueError(f"{field}: the model has no part {name!r}; its parts are {sorted(parts)}")
    return parts[name]


def freeze_parts(model: torch.nn.Module, names: list[str]) -> list[str]:
    """Turn off gradients of every parameter in the named parts; returns the frozen parameter names."""
    frozen = []
    for name in names:
        for pname, param in _part(model, name, "train.freeze").named_parameters(prefix=name):
            param.requires_grad_(False)
            frozen.append(pname)
    return frozen


def peft_config(settings: LoraSettings) -> Any:
    """peft's LoraConfig for our settings (imported here: peft is heavy and only LoRA runs need it)."""
    from peft import LoraConfig

    return LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.targets),
    )


def apply_lora(model: torch.nn.Module, settings: LoraSettings) -> torch.nn.Module:
    """Inject LoRA adapters into part `settings.part` in place; that part's base weights are frozen.

    Returns `model`. Raises when no module of the part matches `settings.targets`.
    """
    from peft import inject_adapter_in_model

    part = _part(model, settings.part, "lora.part")
    try:
        inject_adapter_in_model(peft_config(settings), part)
    except ValueError as err:
        names = sorted({n.rsplit(".", 1)[-1] for n, m in part.named_modules() if isinstance(m, torch.nn.Linear)})
        raise ValueError(f"lora.targets {settings.targets!r} match nothing in part {settings.part!r}; "
                         f"its linear layers are named {names}") from err
    return model


def _lora_layers(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    from peft.tuners.lora import LoraLayer

    return [(name, m) for name, m in model.named_modules() if isinstance(m, LoraLayer)]


def has_lora(model: torch.nn.Module) -> bool:
    """Whether LoRA adapters are injected anywhere in `model`."""
    return bool(_lora_layers(model))


def merged_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model` with every LoRA layer merged into its base layer and removed (W + s*B@A).

    The trained model itself is left untouched: merging in place and unmerging later would change the
    base weights by rounding, and a resumed run would no longer match the uninterrupted one.
    """
    merged = copy.deepcopy(model)
    for name, layer in _lora_layers(merged):
        layer.merge()
        parent_name, _, child = name.rpartition(".")
        parent = merged.get_submodule(parent_name) if parent_name else merged
        setattr(parent, child, layer.get_base_layer())
    return merged


def lora_base_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The unmerged base weights of every LoRA layer, keyed by their names in the merged model."""
    out = {}
    for name, layer in _lora_layers(model):
        for pname, tensor in layer.get_base_layer().state_dict().items():
            out[f"{name}.{pname}"] = tensor.detach().to("cpu").clone()
    return out


def save_adapter(ckpt_dir: str | Path, model: torch.nn.Module, settings: LoraSettings) -> Path:
    """Write `ckpt_dir/adapter/` (peft weights + config, and which part holds them); returns that dir."""
    from peft import get_peft_model_state_dict

    out = Path(ckpt_dir) / ADAPTER_DIR
    out.mkdir(parents=True, exist_ok=True)
    part = _part(model, settings.part, "lora.part")
    weights = {k: v.detach().to("cpu").contiguous() for k, v in get_peft_model_state_dict(part).items()}
    save_file(weights, str(out / ADAPTER_WEIGHTS))
    peft_config(settings).save_pretrained(str(out))
    atomic_write_json(out / PART_FILE, {"part": settings.part})
    return out


def load_adapter(model: torch.nn.Module, adapter_dir: str | Path) -> torch.nn.Module:
    """Inject the adapter saved by `save_adapter` into `model` (a model WITHOUT it merged) and load its
    weights; returns `model`. Raises naming the file when the adapter does not fit the model."""
    from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict

    src = Path(adapter_dir)
    part = _part(model, json.loads((src / PART_FILE).read_text())["part"], f"{src / PART_FILE}")
    inject_adapter_in_model(LoraConfig.from_pretrained(str(src)), part)
    result = set_peft_model_state_dict(part, load_file(str(src / ADAPTER_WEIGHTS)))
    unexpected = list(getattr(result, "unexpected_keys", []) or [])
    if unexpected:
        raise ValueError(f"{src / ADAPTER_WEIGHTS} has weights the model lacks: {unexpected[:5]}")
    return model
