"""The learned affordance: a small value network P(success | front image, robot state, skill), as SayCan
learns its value functions from rollouts instead of reading privileged state (Ahn et al. 2022, Sec. 4).

`ValueModel`: a CNN over the front camera (resized to `image_size`), an MLP over the normalized robot
state, and a skill code (verb one-hot + the picked block's color + the target's color, `encode_skill`). The
skill also modulates the CNN's feature maps (FiLM, as RT-1 conditions its image tokens on the instruction),
so the image features can look for the colors the skill names. Output: one logit per (observation, skill).

`LearnedAffordance` wraps a trained model behind the `Affordance` interface of `affordances.py`.
A model directory holds `model.safetensors` (weights and the state's mean/std) and `config.json`
(`ValueModelConfig`); loading never unpickles. Training lives in `policies.saycan.train_value`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from policies.base import Observation
from policies.saycan.scene import SceneState
from policies.saycan.skills import VERBS, Skill, parse_skill

WEIGHTS, CONFIG = "model.safetensors", "config.json"


@dataclass
class ValueModelConfig:
    """Sizes and vocabularies of a ValueModel; validated on construction (and stored as config.json)."""

    image_size: int = 64  # the camera image is resized to (image_size, image_size)
    camera: str = "front"
    state_dim: int = 14  # the tabletop's STATE_NAMES
    colors: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange")
    channels: tuple[int, ...] = (16, 32, 32, 32)  # conv layers, stride 2 each
    hidden: int = 128

    def __post_init__(self):
        self.colors, self.channels = tuple(self.colors), tuple(int(c) for c in self.channels)
        if not 16 <= self.image_size <= 256:
            raise ValueError(f"ValueModelConfig.image_size must be in [16, 256], got {self.image_size}")
        if self.state_dim < 1 or self.hidden < 1:
            raise ValueError(f"ValueModelConfig.state_dim and hidden must be >= 1, got {self.state_dim}, {self.hidden}")
        if not self.channels or min(self.channels) < 1:
            raise ValueError(f"ValueModelConfig.channels must be positive ints, got {self.channels}")
        if not self.colors or len(set(self.colors)) != len(self.colors):
            raise ValueError(f"ValueModelConfig.colors must be unique and non-empty, got {self.colors}")

    @property
    def skill_dim(self) -> int:
        return len(VERBS) + 2 * len(self.colors)


def encode_skill(skill: Skill | str, colors: Sequence[str]) -> np.ndarray:
    """float32 (len(VERBS) + 2 len(colors),): verb one-hot, the picked block's color, the target's color.

    Objects are named "<color> block|bowl"; place_in and place_on already say whether the target is a bowl
    or a block. A color outside `colors` raises (the model has never seen it)."""
    skill = parse_skill(skill) if isinstance(skill, str) else skill
    code = np.zeros(len(VERBS) + 2 * len(colors), np.float32)
    code[VERBS.index(skill.verb)] = 1.0
    for slot, name in enumerate((skill.obj, skill.target)):
        if name is None:
            continue
        color = name.split()[0]
        if color not in colors:
            raise ValueError(f"skill {skill.text!r} names color {color!r}; the value model knows {tuple(colors)}")
        code[len(VERBS) + slot * len(colors) + list(colors).index(color)] = 1.0
    return code


class ValueModel(nn.Module):
    """(images uint8 (B, H, W, 3), states (B, S), skill codes (B, K)) -> success logits (B,)."""

    def __init__(self, config: ValueModelConfig):
        super().__init__()
        self.config = config
        chans = (3,) + config.channels
        self.convs = nn.ModuleList(nn.Conv2d(cin, cout, 5 if i == 0 else 3, stride=2, padding=2 if i == 0 else 1)
                                   for i, (cin, cout) in enumerate(zip(chans, chans[1:])))
        self.pool = nn.AdaptiveAvgPool2d(4)  # any image size gives a (C, 4, 4) map
        self.image_fc = nn.Linear(config.channels[-1] * 16, config.hidden)
        self.skill_fc = nn.Sequential(nn.Linear(config.skill_dim, 64), nn.ReLU())
        self.film = nn.Linear(64, 2 * sum(config.channels))  # per-channel scale and shift of every conv
        self.state_fc = nn.Sequential(nn.Linear(config.state_dim, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(config.hidden + 128, config.hidden), nn.ReLU(), nn.Linear(config.hidden, 1))
        self.register_buffer("state_mean", torch.zeros(config.state_dim))
        self.register_buffer("state_std", torch.ones(config.state_dim))

    def set_state_stats(self, states: np.ndarray) -> None:
        """Normalize the state by these samples' mean and std (stored with the weights)."""
        s = torch.as_tensor(np.asarray(states, np.float32))  # (N, S)
        self.state_mean.copy_(s.mean(0))
        self.state_std.copy_(s.std(0).clamp_min(1e-3))

    def forward(self, images: torch.Tensor, states: torch.Tensor, skills: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float() / 255.0 - 0.5  # (B, 3, H, W)
        z = self.skill_fc(skills)  # (B, 64)
        film = self.film(z).split([2 * c for c in self.config.channels], dim=1)
        for conv, fc in zip(self.convs, film):
            x = conv(x)  # (B, C, H', W')
            scale, shift = fc.chunk(2, dim=1)  # (B, C) each
            x = torch.relu(x * (1 + scale[:, :, None, None]) + shift[:, :, None, None])
        img = torch.relu(self.image_fc(self.pool(x).flatten(1)))  # (B, hidden)
        st = self.state_fc((states - self.state_mean) / self.state_std)  # (B, 64)
        return self.head(torch.cat([img, st, z], dim=1)).squeeze(1)  # (B,)

    # ---- inference on observations -----------------------------------------------------------------
    def inputs(self, obs: Observation | None, skills: Sequence[Skill | str]) -> tuple[torch.Tensor, ...]:
        """Validated model inputs for one observation and N skills: images (N, s, s, 3), states (N, S),
        codes (N, K). Raises ValueError naming what is missing or malformed (a missing camera, a state of
        the wrong size or with NaN/inf)."""
        from vla.transforms import resize_image

        cfg = self.config
        if obs is None:
            raise ValueError("the learned affordance needs the observation (images and state), got obs=None")
        image = (obs.get("images") or {}).get(cfg.camera)
        if image is None:
            raise ValueError(f"the value model needs obs['images'][{cfg.camera!r}]; the observation has cameras "
                             f"{sorted(obs.get('images') or {})}")
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"obs['images'][{cfg.camera!r}] must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
        state = np.asarray(obs.get("state"), dtype=np.float32)
        if state.shape != (cfg.state_dim,):
            raise ValueError(f"obs['state'] must have shape ({cfg.state_dim},), got {state.shape}")
        if not np.all(np.isfinite(state)):
            raise ValueError(f"obs['state'] has non-finite values {state.tolist()}")
        n = len(skills)
        img = torch.from_numpy(resize_image(image, cfg.image_size).copy())[None].expand(n, -1, -1, -1)  # (N, s, s, 3)
        st = torch.from_numpy(state)[None].expand(n, -1)  # (N, S)
        codes = torch.from_numpy(np.stack([encode_skill(s, cfg.colors) for s in skills])) if n else \
            torch.zeros(0, cfg.skill_dim)  # (N, K)
        return img, st, codes

    @torch.no_grad()
    def predict(self, obs: Observation | None, skills: Sequence[Skill | str]) -> np.ndarray:
        """P(success) (N,) float64 in [0, 1] for each skill from this observation."""
        if not skills:
            return np.zeros(0)
        was_training = self.training
        self.eval()
        probs = torch.sigmoid(self(*self.inputs(obs, skills)))  # (N,)
        self.train(was_training)
        return probs.double().numpy()

    # ---- I/O ---------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write `model.safetensors` and `config.json` into directory `path`, atomically (whole or not at all)."""
        from safetensors.torch import save_file

        from vla.io import atomic_dir

        with atomic_dir(path) as tmp:
            save_file({k: v.detach().contiguous() for k, v in self.state_dict().items()}, str(tmp / WEIGHTS))
            (tmp / CONFIG).write_text(json.dumps(dataclasses.asdict(self.config), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "ValueModel":
        """The model saved in directory `path` (safetensors + JSON; never unpickles), in eval mode."""
        from safetensors.torch import load_file

        path = Path(path)
        for name in (WEIGHTS, CONFIG):
            if not (path / name).is_file():
                raise FileNotFoundError(f"value model directory {path} has no {name}")
        config = ValueModelConfig(**json.loads((path / CONFIG).read_text()))
        model = cls(config)
        model.load_state_dict(load_file(str(path / WEIGHTS)), strict=True)  # a key mismatch raises
        return model.eval()


class LearnedAffordance:
    """Affordance from a trained ValueModel: P(success) of each skill from the observation's image and
    state (the symbolic `scene` is not read; that is the point of learning it)."""

    def __init__(self, model: ValueModel):
        self.model = model.eval()

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "LearnedAffordance":
        """Load the value model directory written by `ValueModel.save` / `train_value`."""
        return cls(ValueModel.load(path))

    def __call__(self, skills: Sequence[Skill], scene: SceneState,
                 obs: Observation | None = None) -> np.ndarray:
        return self.model.predict(obs, skills)
