"""Mirrored transform pipelines between samples / observations and model inputs / env actions.

Inputs (training AND inference call the same list from `make_input_transforms`, so they cannot drift):
    RepackInputs -> ValidateInputs -> NormalizeInputs -> TokenizeInputs
Outputs (the mirror, from `make_output_transforms`):
    DetokenizeOutputs -> UnnormalizeOutputs -> RepackOutputs

A model input sample is
    {"images": {cam: uint8 (H, W, 3)}, "state": float32 (S,) normalized, "prompt_ids": int64 (Lp,),
     "action_ids": int64 (La,) [training only], "actions": float32 (T, A) normalized [training only]}
and the output pipeline turns {"action_ids": (La,)} into {"actions": float32 (T, A)} in env units.
Each step is a small frozen object whose `__call__` returns a NEW dict and never edits its input
(openpi `policy_config.py`); `apply(steps, sample)` runs a list.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from vla.actions.base import ActionTokenizer
from vla.normalize import Normalizer
from vla.prompt import build_prompt

Sample = dict[str, Any]
Step = Callable[[Mapping[str, Any]], Sample]

# Dataset (LeRobot v3) keys; the normalizer's stats are keyed by these too.
IMAGE_PREFIX = "observation.images."
STATE_KEY = "observation.state"
ACTION_KEY = "action"
TASK_KEY = "task"


def apply(steps: Sequence[Step], sample: Mapping[str, Any]) -> Sample:
    """Run `sample` through `steps` in order and return the final dict (the input is left untouched)."""
    out: Sample = dict(sample)
    for step in steps:
        out = step(out)
    return out


@dataclasses.dataclass(frozen=True)
class RepackInputs:
    """A dataset sample (`observation.images.<cam>`, `observation.state`, `action`, `task`) or an env
    observation (`images`, `state`, `instruction`[, `actions`]) -> {images, state, instruction[, actions]}."""

    def __call__(self, sample: Mapping[str, Any]) -> Sample:
        if "images" in sample:  # env / ROS observation: already in the Observation contract
            out = {
                "images": dict(sample["images"]),
                "state": sample.get("state"),
                "instruction": sample.get("instruction"),
            }
            actions = sample.get("actions")
        else:  # dataset sample
            images = {k[len(IMAGE_PREFIX):]: v for k, v in sample.items() if k.startswith(IMAGE_PREFIX)}
            if not images:
                raise ValueError(f"sample has neither 'images' nor '{IMAGE_PREFIX}<cam>' keys; keys: {sorted(sample)}")
            instruction = sample.get(TASK_KEY, sample.get("instruction"))
            out = {"images": images, "state": sample.get(STATE_KEY), "instruction": instruction}
            actions = sample.get(ACTION_KEY)
        for key in ("state", "instruction"):
            if out[key] is None:
                raise ValueError(f"sample has no {key} (keys: {sorted(sample)})")
        if actions is not None:
            out["actions"] = actions
        return out


def _check_image(cam: str, image: Any, image_shape: tuple[int, int] | None) -> np.ndarray:
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise ValueError(f"image {cam!r} must be uint8 (H, W, 3) RGB, got dtype {img.dtype}")
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"image {cam!r} must have shape (H, W, 3), got {img.shape}")
    if image_shape is not None and img.shape[:2] != tuple(image_shape):
        raise ValueError(f"image {cam!r} must be {tuple(image_shape)} (H, W), got {img.shape[:2]}")
    return img


def _check_finite(name: str, value: Any, ndim: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float32)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name} has a non-finite value {arr[idx]} at index {idx}")
    return arr


@dataclasses.dataclass(frozen=True)
class ValidateInputs:
    """Checks the repacked sample against the model's expectations; raises ValueError naming the key/value.

    Cameras must be exactly `cameras` (unknown and missing names both raise), images uint8 (H, W, 3)
    (of `image_shape` when given), state 1-D finite (of `state_dim`), actions 2-D finite (of
    `action_shape`). A robot never moves on malformed or NaN input.
    """

    cameras: tuple[str, ...]
    state_dim: int | None = None
    image_shape: tuple[int, int] | None = None
    action_shape: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not self.cameras or len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"cameras must be a non-empty tuple of distinct names, got {self.cameras!r}")

    def __call__(self, sample: Mapping[str, Any]) -> Sample:
        given, expected = set(sample["images"]), set(self.cameras)
        if given - expected:
            raise ValueError(f"unknown camera(s) {sorted(given - expected)}; the model expects {list(self.cameras)}")
        if expected - given:
            raise ValueError(f"missing camera(s) {sorted(expected - given)}; got {sorted(given)}")
        out = dict(sample)
        out["images"] = {cam: _check_image(cam, sample["images"][cam], self.image_shape) for cam in self.cameras}
        out["state"] = _check_finite("state", sample["state"], ndim=1)  # (S,)
        if self.state_dim is not None and out["state"].shape[0] != self.state_dim:
            raise ValueError(f"state must have {self.state_dim} dims, got {out['state'].shape[0]}")
        if not isinstance(sample["instruction"], str):
            raise ValueError(f"instruction must be a str, got {sample['instruction']!r}")
        if "actions" in sample:
            out["actions"] = _check_finite("actions", sample["actions"], ndim=2)  # (T, A)
            if self.action_shape is not None and out["actions"].shape != tuple(self.action_shape):
                raise ValueError(f"actions must have shape {tuple(self.action_shape)}, got {out['actions'].shape}")
        return out


@dataclasses.dataclass(frozen=True)
class NormalizeInputs:
    """State with the `observation.state` stats, actions (if present) with the `action` stats."""

    normalizer: Normalizer

    def __call__(self, sample: Mapping[str, Any]) -> Sample:
        out = dict(sample)
        out["state"] = self.normalizer.normalize(STATE_KEY, sample["state"])  # (S,)
        if "actions" in sample:
            out["actions"] = self.normalizer.normalize(ACTION_KEY, sample["actions"])  # (T, A)
        return out


@dataclasses.dataclass(frozen=True)
class TokenizeInputs:
    """Instruction -> `prompt_ids` through `vla.prompt.build_prompt` and the text tokenizer (with its own
    special-token convention, e.g. BOS); normalized actions -> `action_ids` when present. Drops the text."""

    text_tokenizer: Any
    action_tokenizer: ActionTokenizer | None = None

    def __call__(self, sample: Mapping[str, Any]) -> Sample:
        out = {k: v for k, v in sample.items() if k != "instruction"}
        ids = self.text_tokenizer(build_prompt(sample["instruction"]))["input_ids"]
        out["prompt_ids"] = np.asarray(ids, dtype=np.int64)  # (Lp,)
        if "actions" in sample and self.action_tokenizer is not None:
            out["action_ids"] = self.action_tokenizer.encode(sample["actions"])  # (La,)
        return out


@dataclasses.dataclass(frozen=True)
class DetokenizeOutputs:
    """`action_ids` (La,) -> normalized `actions` float32 (T, A); a bad sequence raises ActionDecodeError."""

    action_tokenizer: ActionTokenizer

    def __call__(self, sample: Mapping[str, Any]) -> Sample:
        out = {k: v for k, v in sample.items() if k != "action_ids"}
        out["actions"] = np.asarray(self.action_tokenizer.decode(np.asarray(sample["action_ids"])), dtype=np.float32)
        return out


@dataclasses.dataclass(frozen=True)
class UnnormalizeOutputs:
    """Normalized `actions` -> env units with the `action` stats (the inverse of NormalizeInputs)."""

    normalizer: Normalizer

    def __call__(self, sample: Mapping[str, Any]) -> Sample:
        out = dict(sample)
        out["actions"] = self.normalizer.unnormalize(ACTION_KEY, sample["actions"])  # (T, A)
        return out


@dataclasses.dataclass(frozen=True)
class RepackOutputs:
    """Final check before an env or robot gets the chunk: {"actions": float32 (T, action_dim)}, all finite."""

    action_dim: int

    def __call__(self, sample: Mapping[str, Any]) -> Sample:
        actions = _check_finite("actions", sample["actions"], ndim=2)  # (T, A)
        if actions.shape[1] != self.action_dim:
            raise ValueError(f"actions must have {self.action_dim} dims, got shape {actions.shape}")
        return {"actions": actions}


def make_input_transforms(
    *,
    cameras: Sequence[str],
    normalizer: Normalizer,
    text_tokenizer: Any,
    action_tokenizer: ActionTokenizer | None = None,
    state_dim: int | None = None,
    image_shape: tuple[int, int] | None = None,
) -> list[Step]:
    """The input pipeline used by training AND inference: repack -> validate -> normalize -> tokenize."""
    action_shape = None if action_tokenizer is None else (action_tokenizer.horizon, action_tokenizer.action_dim)
    return [
        RepackInputs(),
        ValidateInputs(tuple(cameras), state_dim=state_dim, image_shape=image_shape, action_shape=action_shape),
        NormalizeInputs(normalizer),
        TokenizeInputs(text_tokenizer, action_tokenizer),
    ]


def make_output_transforms(*, action_tokenizer: ActionTokenizer, normalizer: Normalizer, action_dim: int) -> list[Step]:
    """The mirror of the inputs: detokenize -> unnormalize -> repack to env actions (T, action_dim)."""
    return [DetokenizeOutputs(action_tokenizer), UnnormalizeOutputs(normalizer), RepackOutputs(action_dim)]


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 (H, W, 3) at (size, size), bilinear (PIL); the image itself when it already has that size.

    Training (`vla.train.data`) and inference (`VLAPolicy`) both resize through this one function, so a
    model sees frames resized the same way in both.
    """
    if image.shape[:2] == (size, size):
        return image
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))
