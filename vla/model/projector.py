"""Projectors from vision features and robot state into the LM's embedding space (soft tokens).

`MLPProjector` is LLaVA-1.5's two-layer GELU MLP, one soft token per patch. `Resampler` is a Perceiver
Resampler (Flamingo; BLIP-2's Q-Former plays the same role): learned queries cross-attend to the patches,
so an image costs `num_queries` tokens however many patches the tower makes. `StateEncoder` is PaLM-E's
state MLP: proprioception -> k soft tokens.
"""

from __future__ import annotations

import torch
from torch import nn

from vla.model.config import ProjectorConfig


class MLPProjector(nn.Module):
    """Patch features `(B, N, Dv)` -> soft tokens `(B, N, D)`."""

    def __init__(self, vision_dim: int, lm_dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(vision_dim, lm_dim), nn.GELU(), nn.Linear(lm_dim, lm_dim))

    def num_tokens(self, num_patches: int) -> int:
        """Soft tokens per image: one per patch."""
        return num_patches

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)  # (B, N, D)


class ResamplerBlock(nn.Module):
    """One Perceiver block: latents attend to [patches; latents] (Flamingo), then a feed-forward layer."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.norm_kv = nn.LayerNorm(dim)
        self.norm_q = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, latents: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        q = self.norm_q(latents)  # (B, Q, Dv)
        kv = torch.cat([self.norm_kv(features), q], dim=1)  # (B, N + Q, Dv)
        latents = latents + self.attn(q, kv, kv, need_weights=False)[0]  # (B, Q, Dv)
        return latents + self.ff(self.norm_ff(latents))  # (B, Q, Dv)


class Resampler(nn.Module):
    """Patch features `(B, N, Dv)` -> `num_queries` soft tokens `(B, Q, D)`."""

    def __init__(self, vision_dim: int, lm_dim: int, num_patches: int, cfg: ProjectorConfig):
        super().__init__()
        if vision_dim % cfg.num_heads:
            raise ValueError(f"projector.num_heads={cfg.num_heads} must divide the vision width {vision_dim}")
        self.queries = nn.Parameter(torch.randn(cfg.num_queries, vision_dim) * vision_dim**-0.5)  # (Q, Dv)
        # Patch positions: pretrained towers already encode them, but a learned table keeps the resampler's
        # queries able to tell patches apart even when the tower's position signal is weak.
        self.pos = nn.Parameter(torch.zeros(num_patches, vision_dim))  # (N, Dv)
        self.blocks = nn.ModuleList(ResamplerBlock(vision_dim, cfg.num_heads) for _ in range(cfg.num_layers))
        self.norm = nn.LayerNorm(vision_dim)
        self.out = nn.Linear(vision_dim, lm_dim)

    def num_tokens(self, num_patches: int) -> int:
        """Soft tokens per image: the number of learned queries."""
        return self.queries.shape[0]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        features = features + self.pos  # (B, N, Dv)
        latents = self.queries.unsqueeze(0).expand(features.shape[0], -1, -1)  # (B, Q, Dv)
        for block in self.blocks:
            latents = block(latents, features)  # (B, Q, Dv)
        return self.out(self.norm(latents))  # (B, Q, D)


def build_projector(cfg: ProjectorConfig, vision_dim: int, lm_dim: int, num_patches: int) -> nn.Module:
    """The projector named by `cfg.type` ('mlp' or 'resampler')."""
    if cfg.type == "mlp":
        return MLPProjector(vision_dim, lm_dim)
    return Resampler(vision_dim, lm_dim, num_patches, cfg)


class StateEncoder(nn.Module):
    """Robot state `(B, S)` -> `k` soft tokens `(B, k, D)` (PaLM-E's state MLP)."""

    def __init__(self, state_dim: int, lm_dim: int, num_tokens: int):
        super().__init__()
        self.num_tokens = num_tokens
        self.net = nn.Sequential(nn.Linear(state_dim, lm_dim), nn.GELU(), nn.Linear(lm_dim, num_tokens * lm_dim))

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        out = self.net(state)  # (B, k * D)
        return out.view(state.shape[0], self.num_tokens, -1)  # (B, k, D)
