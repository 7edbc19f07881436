"""Vision towers: SigLIP, CLIP or DINOv2 from transformers, built from a config dict or a local folder.

Each tower maps uint8 images to patch features `(B, N, Dv)`; the CLS / register tokens of CLIP and DINOv2
are dropped, so every type hands the projector patch tokens only (LLaVA also drops CLIP's CLS). Pixel
normalization uses the mean/std each family was trained with, so a pretrained tower sees what it expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vla.model.config import VisionConfig


@dataclass(frozen=True)
class TowerSpec:
    """How to build one family of vision tower and feed it."""

    config_cls: str
    model_cls: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    defaults: tuple[tuple[str, Any], ...]  # from-config defaults that drop heads the VLA never uses
    module: str = "transformers"  # where config_cls and model_cls live


_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_CLIP = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))

TOWERS: dict[str, TowerSpec] = {
    "siglip": TowerSpec("SiglipVisionConfig", "SiglipVisionModel", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5),
                        (("vision_use_head", False),)),
    "clip": TowerSpec("CLIPVisionConfig", "CLIPVisionModel", *_CLIP, ()),
    "dinov2": TowerSpec("Dinov2Config", "Dinov2Model", *_IMAGENET, (("use_mask_token", False),)),
    # Our small CNN, trained from scratch only (vla/model/conv_vision.py explains why it is here).
    "conv": TowerSpec("ConvVisionConfig", "ConvVisionModel", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), (),
                      "vla.model.conv_vision"),
}


def _num_prefix_tokens(kind: str, config: Any) -> int:
    """Non-patch tokens at the start of the tower's output: CLS (CLIP, DINOv2) and DINOv2 registers."""
    if kind in ("siglip", "conv"):
        return 0
    if kind == "clip":
        return 1
    return 1 + int(getattr(config, "num_register_tokens", 0) or 0)


class VisionTower(nn.Module):
    """uint8 images `(B, H, W, 3)` -> patch features `(B, N, Dv)`; `num_patches` and `hidden_size` say N, Dv."""

    def __init__(self, kind: str, model: nn.Module, image_size: int):
        super().__init__()
        spec = TOWERS[kind]
        self.kind = kind
        self.model = model
        self.image_size = image_size
        self.prefix = _num_prefix_tokens(kind, model.config)
        self.hidden_size = int(model.config.hidden_size)
        # towers that say how many tokens they make (the conv tower's readout) are taken at their word
        self.num_patches = int(getattr(model.config, "num_tokens", 0)) or (image_size // int(model.config.patch_size)) ** 2
        self.register_buffer("mean", torch.tensor(spec.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec.std).view(1, 3, 1, 1), persistent=False)

    @property
    def conditioned(self) -> bool:
        """True when the tower takes a text `condition` (the conv tower with FiLM)."""
        return bool(getattr(self.model, "conditioned", False))

    def forward(self, images: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Patch features `(B, N, Dv)` for uint8 images `(B, H, W, 3)` of the configured size; `condition`
        (B, Dc) goes to towers that are `conditioned` and must be None for the others."""
        dtype = self.mean.dtype if self.mean.is_floating_point() else torch.float32
        pixels = images.permute(0, 3, 1, 2).to(dtype) / 255.0  # (B, 3, H, W) in [0, 1]
        pixels = (pixels - self.mean) / self.std  # (B, 3, H, W)
        pixels = pixels.to(next(self.model.parameters()).dtype)
        extra = {} if condition is None else {"condition": condition}
        hidden = self.model(pixel_values=pixels, **extra).last_hidden_state  # (B, prefix + N, Dv)
        return hidden[:, self.prefix:]  # (B, N, Dv)


def build_vision_tower(cfg: VisionConfig, image_size: int, trust_remote_code: bool = False) -> VisionTower:
    """A vision tower per `cfg`: random init from `cfg.config`, or the weights in `cfg.pretrained_path`.

    From a config, `image_size` is set to the VLA's; a pretrained tower must already match it (its
    position embeddings are sized for one resolution). Loading is local-only and safetensors-only.
    """
    import importlib

    spec = TOWERS[cfg.type]
    source = importlib.import_module(spec.module)
    model_cls = getattr(source, spec.model_cls)
    if cfg.pretrained_path is not None and spec.module != "transformers":
        raise ValueError(f"vision.type={cfg.type!r} is trained from scratch and has no pretrained_path loader; "
                         f"got pretrained_path={cfg.pretrained_path!r} (give a `config` instead)")
    if cfg.pretrained_path is not None:
        model = model_cls.from_pretrained(cfg.pretrained_path, local_files_only=True, use_safetensors=True,
                                          trust_remote_code=trust_remote_code)
        _drop_unused_head(cfg.type, model)
        if int(model.config.image_size) != image_size:
            raise ValueError(f"vision tower at {cfg.pretrained_path} expects image_size={model.config.image_size}, "
                             f"but the VLA config has image_size={image_size}; set image_size to match")
    else:
        kwargs = dict(spec.defaults)
        kwargs.update(cfg.config)
        kwargs["image_size"] = image_size
        model = model_cls(getattr(source, spec.config_cls)(**kwargs))
        _drop_unused_head(cfg.type, model)
    patch = int(model.config.patch_size)
    if image_size % patch:
        raise ValueError(f"image_size={image_size} is not a multiple of the vision patch_size={patch}")
    tower = VisionTower(cfg.type, model, image_size)
    if cfg.freeze:
        tower.model.requires_grad_(False)
    return tower


def _drop_unused_head(kind: str, model: nn.Module) -> None:
    """Remove or freeze what only the pooled output uses: the VLA reads patch tokens, and parameters
    without gradients break DDP. SigLIP: the attention-pool head; CLIP: the post-layernorm of the CLS."""
    inner = getattr(model, "vision_model", model)  # transformers 4 nests the transformer, 5 does not
    if kind == "siglip" and getattr(inner, "use_head", False):
        inner.use_head = False
        inner.head = None
        model.config.vision_use_head = False
    if kind == "clip":
        inner.post_layernorm.requires_grad_(False)


def tower_config_dict(tower: VisionTower) -> dict[str, Any]:
    """The tower's full transformers config as a plain dict, so a checkpoint rebuilds it without the source."""
    data = tower.model.config.to_dict()
    for key in ("_name_or_path", "transformers_version", "architectures", "dtype", "torch_dtype", "model_type"):
        data.pop(key, None)
    attn = getattr(tower.model.config, "_attn_implementation", None)
    if attn is not None:  # to_dict leaves it out; a reloaded tower must run the same attention kernels
        data["attn_implementation"] = attn
    return data
