"""A small convolutional vision tower trained from scratch: pixels -> a coarse grid of position-tagged tokens.

Why a CNN next to the transformer towers: with no pretrained encoder on the machine, the tower learns from
a few thousand frames in minutes of CPU. Convolutions share weights across positions and see neighbouring
pixels from the first layer on, so they learn to find a 3-4 px colored block from little data far faster
than a ViT from scratch (the same reason Levine et al. 2016 and Diffusion Policy's from-scratch ResNet
encoders use convolutions), and each stride-2 stage cuts the grid, so an image costs (size / patch_size)^2
LM tokens: 16 at 64 px with patch_size 16, instead of 64 for 8-px ViT patches.

`ConvVisionModel` mimics the slice of the transformers vision-model interface `VisionTower` uses: a
`config` with `hidden_size`, `patch_size`, `image_size` and `to_dict()`, and
`forward(pixel_values=...)` returning an object with `last_hidden_state` (B, N, D), so the tower wrapper,
the projectors and the checkpoint code (which stores `config.to_dict()`) treat it like SigLIP.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ConvVisionConfig:
    """Stage widths and output width of the conv tower.

    `len(channels)` stride-2 stages give a grid of `image_size / 2**len(channels)` per side, so
    `patch_size` (the pixels per output token, per side) must equal `2**len(channels)`; it is stored so the
    tower wrapper reads the token count the same way for every tower type. Each stage is one stride-2 3x3
    convolution followed by `blocks_per_stage` residual 3x3 blocks; GroupNorm (not BatchNorm), so training
    with batches of 8 and single-frame inference normalize alike. The output tokens get a learned
    position embedding per grid cell, so where a block is stays explicit after the projector; with
    `coords`, two pixel-coordinate channels are stacked onto the RGB input (CoordConv, Liu et al. 2018), so
    the features can also say where inside its cell a block sits, which translation-equivariant
    convolutions alone encode poorly. `shift` > 0 turns on random-shift augmentation in training mode only
    (DrQ, Kostrikov et al. 2021; Diffusion Policy's random crop): each image is padded by `shift` pixels
    (edge replicated) and cropped back at a random offset, so a few thousand frames stop being memorized
    pixel for pixel. Inference (eval mode) never shifts.

    `film_dim` > 0 conditions every stage on a text vector of that width (FiLM, Perez et al. 2018; the
    way RT-1 and BC-Z condition their from-scratch image encoders on the instruction): after each stage's
    normalization the features are scaled by (1 + gamma) and shifted by beta, both linear in the text
    vector. The VLA passes an attention pool of the prompt's token embeddings (`VLA.pool_prompt`), so
    `film_dim` must equal the LM's hidden size. Early fusion lets the tower mark *the named* block in its tokens, instead of leaving the
    LM to learn, from a few thousand frames, to match a color word to one of 32 image tokens.

    `readout_tokens` > 0 replaces the grid tokens by that many tokens read out of the whole flattened grid
    by one linear layer (a spatial readout: each output unit weighs every cell's features by where the
    cell is, as the fully connected layers after the conv stack of Levine et al. 2016 and DQN do). The LM
    then gets a few tokens that already say where the named block is, not a grid it must search.

    `keypoints` > 0 adds a spatial softmax (Levine et al. 2016; robomimic's and Diffusion Policy's
    from-scratch encoders): a 1x1 convolution makes that many maps of the last stage, each is
    softmaxed over its cells, and its expected (x, y) in [-1, 1] is a keypoint; the 2 * keypoints
    coordinates go through one linear layer and are added to the readout tokens. A keypoint is a
    position by construction and its gradient moves it straight towards where the loss wants it, so
    "where is the named block" is learned from far fewer samples than through a flattened grid alone.
    """

    image_size: int = 64
    channels: list[int] = field(default_factory=lambda: [32, 64, 128, 128])
    hidden_size: int = 128
    patch_size: int = 16
    blocks_per_stage: int = 0
    groups: int = 8
    coords: bool = True
    shift: int = 0
    film_dim: int = 0
    readout_tokens: int = 0
    keypoints: int = 0

    def __post_init__(self) -> None:
        self.channels = [int(c) for c in self.channels]
        if not self.channels:
            raise ValueError("conv vision channels must list at least one stage width, got []")
        for name in ("image_size", "hidden_size", "patch_size", "groups"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"conv vision {name} must be >= 1, got {getattr(self, name)!r}")
        if self.readout_tokens < 0:
            raise ValueError(f"conv vision readout_tokens must be >= 0 (0: one token per grid cell), "
                             f"got {self.readout_tokens!r}")
        if self.keypoints < 0 or (self.keypoints and not self.readout_tokens):
            raise ValueError(f"conv vision keypoints must be >= 0 and need readout_tokens > 0 (they are added to "
                             f"the readout tokens), got keypoints={self.keypoints!r}, "
                             f"readout_tokens={self.readout_tokens!r}")
        if self.film_dim < 0:
            raise ValueError(f"conv vision film_dim must be >= 0 (0: no text conditioning), got {self.film_dim!r}")
        if self.shift < 0 or self.shift >= self.image_size:
            raise ValueError(f"conv vision shift must be in [0, image_size), got {self.shift!r}")
        if self.blocks_per_stage < 0:
            raise ValueError(f"conv vision blocks_per_stage must be >= 0, got {self.blocks_per_stage!r}")
        if self.patch_size != 2 ** len(self.channels):
            raise ValueError(f"conv vision patch_size={self.patch_size} must be 2**len(channels) = "
                             f"{2 ** len(self.channels)} (one stride-2 stage per entry of channels={self.channels})")
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size={self.image_size} is not a multiple of the conv patch_size={self.patch_size}")
        bad = [c for c in self.channels if c % self.groups]
        if bad:
            raise ValueError(f"conv vision channels {bad} are not multiples of groups={self.groups}")

    @property
    def grid(self) -> int:
        """Output tokens per side."""
        return self.image_size // self.patch_size

    @property
    def num_tokens(self) -> int:
        """Tokens per image: the readout's, or one per grid cell."""
        return self.readout_tokens or self.grid * self.grid

    def to_dict(self) -> dict:
        """Plain fields, for the checkpoint's config.json (the same call as a transformers config)."""
        return asdict(self)


@dataclass
class ConvVisionOutput:
    """What `ConvVisionModel.forward` returns: `last_hidden_state` (B, N, D), as transformers towers do."""

    last_hidden_state: torch.Tensor


def random_shift(pixels: torch.Tensor, pad: int) -> torch.Tensor:
    """Each image of `pixels` (B, C, H, W) moved by its own random offset in [-pad, pad] per axis, edges
    replicated (DrQ's augmentation); returns a new tensor of the same shape."""
    b, _, h, w = pixels.shape
    padded = F.pad(pixels, (pad, pad, pad, pad), mode="replicate")  # (B, C, H+2p, W+2p)
    offsets = torch.randint(0, 2 * pad + 1, (b, 2)).tolist()
    crops = [padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets)]  # each (C, H, W)
    return torch.stack(crops)  # (B, C, H, W)


def _conv_norm_act(c_in: int, c_out: int, stride: int, groups: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                         nn.GroupNorm(groups, c_out), nn.GELU())


class ResidualBlock(nn.Module):
    """x + GN(conv(GELU(GN(conv(x))))), then GELU: the basic ResNet block with GroupNorm."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.body = nn.Sequential(_conv_norm_act(channels, channels, 1, groups),
                                  nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                                  nn.GroupNorm(groups, channels))
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))  # (B, C, h, w)


class ConvVisionModel(nn.Module):
    """Normalized pixels `(B, 3, H, W)` -> tokens `(B, N, hidden_size)`: one per grid cell (row-major),
    N = (H/p) * (W/p), or `readout_tokens` read out of the whole grid."""

    def __init__(self, config: ConvVisionConfig):
        super().__init__()
        self.config = config
        stages: list[nn.Module] = []
        c_in = 5 if config.coords else 3
        for width in config.channels:
            blocks = [ResidualBlock(width, config.groups) for _ in range(config.blocks_per_stage)]
            stages.append(nn.Sequential(_conv_norm_act(c_in, width, 2, config.groups), *blocks))
            c_in = width
        self.stages = nn.ModuleList(stages)
        self.film = None
        if config.film_dim:
            self.film = nn.ModuleList(nn.Linear(config.film_dim, 2 * w) for w in config.channels)
            for layer in self.film:  # start as the identity: gamma = beta = 0
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        cells = config.grid * config.grid
        self.readout = None
        if config.readout_tokens:
            self.readout = nn.Linear(cells * c_in, config.readout_tokens * config.hidden_size)
        self.keypoint_maps = self.keypoint_proj = None
        if config.keypoints:
            self.keypoint_maps = nn.Conv2d(c_in, config.keypoints, 1)
            self.keypoint_proj = nn.Linear(2 * config.keypoints, config.readout_tokens * config.hidden_size)
        self.proj = nn.Linear(c_in, config.hidden_size)
        self.pos = nn.Parameter(torch.randn(config.num_tokens, config.hidden_size) * 0.02)  # (N, D)
        self.norm = nn.LayerNorm(config.hidden_size)

    @property
    def conditioned(self) -> bool:
        """True when `forward` needs a text `condition` (FiLM)."""
        return self.film is not None

    def forward(self, pixel_values: torch.Tensor, condition: torch.Tensor | None = None) -> ConvVisionOutput:
        """Tokens (B, N, D) of normalized pixels (B, 3, H, W), FiLM-conditioned on `condition` (B, film_dim)
        when the config has film_dim (then it is required)."""
        if self.conditioned and (condition is None or condition.shape != (pixel_values.shape[0], self.config.film_dim)):
            got = None if condition is None else tuple(condition.shape)
            raise ValueError(f"this conv tower is FiLM-conditioned (film_dim must equal the LM hidden size): "
                             f"pass condition of shape "
                             f"({pixel_values.shape[0]}, {self.config.film_dim}), got {got}")
        size = self.config.image_size
        if pixel_values.shape[-2:] != (size, size):
            raise ValueError(f"conv vision tower expects {size}x{size} images, got {tuple(pixel_values.shape[-2:])}")
        if self.training and self.config.shift > 0:
            pixel_values = random_shift(pixel_values, self.config.shift)  # (B, 3, H, W)
        if self.config.coords:
            pixel_values = torch.cat([pixel_values, self._coords(pixel_values)], dim=1)  # (B, 5, H, W)
        maps = pixel_values
        for i, stage in enumerate(self.stages):
            maps = stage(maps)  # (B, C_i, H / 2**(i+1), W / 2**(i+1))
            if self.film is not None:
                gamma, beta = self.film[i](condition.to(maps.dtype)).chunk(2, dim=-1)  # (B, C_i) each
                maps = maps * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
        if self.readout is not None:
            flat = maps.flatten(1)  # (B, C*g*g)
            tokens = self.readout(flat)  # (B, N*D)
            if self.keypoint_maps is not None:
                tokens = tokens + self.keypoint_proj(self.spatial_softmax(maps).flatten(1))
            tokens = tokens.view(flat.shape[0], self.config.readout_tokens, -1)  # (B, N, D)
        else:
            tokens = self.proj(maps.flatten(2).transpose(1, 2))  # (B, g*g, D) row-major grid cells
        return ConvVisionOutput(self.norm(tokens + self.pos))  # (B, N, D)

    def spatial_softmax(self, maps: torch.Tensor) -> torch.Tensor:
        """Expected (x, y) in [-1, 1] of each keypoint map's softmax over the cells of `maps` (B, C, h, w):
        (B, K, 2)."""
        logits = self.keypoint_maps(maps).float()  # (B, K, h, w)
        b, k, h, w = logits.shape
        probs = torch.softmax(logits.flatten(2), dim=-1).view(b, k, h, w)  # (B, K, h, w)
        ys = torch.linspace(-1.0, 1.0, h, device=maps.device)  # (h,)
        xs = torch.linspace(-1.0, 1.0, w, device=maps.device)  # (w,)
        x = (probs.sum(2) * xs).sum(-1)  # (B, K)
        y = (probs.sum(3) * ys).sum(-1)  # (B, K)
        return torch.stack([x, y], dim=-1).to(maps.dtype)  # (B, K, 2)

    def _coords(self, pixels: torch.Tensor) -> torch.Tensor:
        """Row and column coordinates in [-1, 1] as two image channels: (B, 2, H, W)."""
        b, _, h, w = pixels.shape
        ys = torch.linspace(-1.0, 1.0, h, device=pixels.device, dtype=pixels.dtype)  # (H,)
        xs = torch.linspace(-1.0, 1.0, w, device=pixels.device, dtype=pixels.dtype)  # (W,)
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"))  # (2, H, W)
        return grid.unsqueeze(0).expand(b, -1, -1, -1)  # (B, 2, H, W)
