"""`VLAPolicy`: a trained VLA behind the Policy protocol (sim, ROS nodes and the benchmark runner use it).

One observation goes through the same input transforms as training (`vla.transforms`: repack -> validate
-> normalize -> tokenize), the model decodes an action chunk (constrained to action ids), and the mirrored
output transforms turn the ids back into float32 actions (H, A) in the env's units.

Bad input is refused before the model runs: non-uint8 images, NaN/inf state, unknown or missing cameras
raise ValueError. Images of another size are resized (bilinear) to the model's `image_size`, with a
warning the first time per camera, because cameras at other resolutions are common and resizing is
what training's data pipeline does too.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vla.transforms import apply, make_input_transforms, make_output_transforms, resize_image


class VLAPolicy:
    """Policy over a loaded `VLA`; build it with `VLAPolicy.from_pretrained(checkpoint_dir, ...)`."""

    def __init__(self, model: Any, normalizer: Any, text_tokenizer: Any, *, device: str = "cpu",
                 dtype: Any = None):
        import torch

        cfg = model.cfg
        self.model = model.to(device=device, dtype=dtype).eval() if dtype is not None else model.to(device).eval()
        self.device = torch.device(device)
        self.cfg = cfg
        self.collate = model.collator()
        self.inputs = make_input_transforms(cameras=cfg.cameras, normalizer=normalizer, text_tokenizer=text_tokenizer,
                                            state_dim=cfg.state_dim)
        self.outputs = make_output_transforms(action_tokenizer=model.action_tokenizer, normalizer=normalizer,
                                              action_dim=cfg.action_dim)
        self.instruction: str | None = None
        self._warned_resize: set[str] = set()

    @classmethod
    def from_pretrained(cls, checkpoint: str | Path, *, device: str = "cpu", dtype: Any = None,
                        quantize: str | None = None, trust_remote_code: bool = False) -> "VLAPolicy":
        """Load a checkpoint directory (`vla.checkpoint`) for inference.

        `dtype` (torch dtype or its name) defaults to bfloat16 on CUDA and float32 on CPU; `quantize="int8"`
        applies dynamic int8 quantization to the Linear layers (CPU only).
        """
        import torch

        from vla.checkpoint import load_pretrained
        from vla.model.quantize import quantize_dynamic_int8

        if quantize not in (None, "int8"):
            raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
        on_cuda = str(device).startswith("cuda")
        if quantize and on_cuda:
            raise ValueError("quantize='int8' is dynamic CPU quantization; use dtype=bfloat16/float16 on CUDA")
        dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
        if isinstance(dtype, str):
            if dtype not in dtypes:
                raise ValueError(f"dtype must be one of {sorted(dtypes)}, got {dtype!r}")
            dtype = dtypes[dtype]
        dtype = dtype or (torch.bfloat16 if on_cuda else torch.float32)
        if quantize and dtype != torch.float32:
            raise ValueError(f"quantize='int8' runs on float32 weights, got dtype={dtype}")
        model, normalizer, tokenizers = load_pretrained(checkpoint, trust_remote_code=trust_remote_code)
        if quantize == "int8":
            model = quantize_dynamic_int8(model)
        return cls(model, normalizer, tokenizers.text, device=device, dtype=None if quantize else dtype)

    def reset(self, instruction: str) -> None:
        """Start an episode: `instruction` is used when an observation carries none."""
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError(f"instruction must be a non-empty str, got {instruction!r}")
        self.instruction = instruction

    def predict_action_chunk(self, obs: dict[str, Any]) -> np.ndarray:
        """float32 (H, A) in env units for one observation (see the module doc for what is refused)."""
        return self.predict_action_chunk_batch([obs])[0]

    def predict_action_chunk_batch(self, observations: Sequence[dict[str, Any]]) -> list[np.ndarray]:
        """One model call for many observations (e.g. many envs in lock-step): a list of float32 (H, A)."""
        if not observations:
            return []
        samples = [apply(self.inputs, self._prepare(obs)) for obs in observations]
        ids = self.model.predict_action_ids(self.collate(samples))  # (B, La)
        return [apply(self.outputs, {"action_ids": self.model.strip_eos(row)})["actions"] for row in ids.cpu().numpy()]

    def _prepare(self, obs: dict[str, Any]) -> dict[str, Any]:
        """The observation with its instruction filled in and images at the model's size (a new dict)."""
        if not isinstance(obs, dict) or not isinstance(obs.get("images"), dict):
            raise ValueError(f"observation must be a dict with an 'images' dict, got {type(obs).__name__}")
        instruction = obs.get("instruction") or self.instruction
        if not instruction:
            raise ValueError("no instruction: call reset(instruction) or pass obs['instruction']")
        images = {cam: self._sized(cam, img) for cam, img in obs["images"].items()}
        return {**obs, "images": images, "instruction": instruction}

    def _sized(self, cam: str, image: Any) -> np.ndarray:
        img = np.asarray(image)
        if img.dtype != np.uint8:
            raise ValueError(f"image {cam!r} must be uint8 RGB, got dtype {img.dtype}")
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"image {cam!r} must have shape (H, W, 3), got {img.shape}")
        size = self.cfg.image_size
        if img.shape[:2] == (size, size):
            return img
        if cam not in self._warned_resize:
            self._warned_resize.add(cam)
            warnings.warn(f"image {cam!r} is {img.shape[1]}x{img.shape[0]}, resizing to the model's {size}x{size} "
                          f"(warned once per camera)", stacklevel=3)
        return resize_image(img, size)
