"""A lean one-token decoding step for Llama-layout LMs (Llama, SmolLM, Qwen2 without sliding window).

Hugging Face's decoder forward spends most of a small model's step in Python: kwargs plumbing, mask
construction, cache bookkeeping, output capture. Greedy action decoding needs none of it, so after the
prefix has run through the regular HF forward (which fills a DynamicCache), `LlamaStepper` copies the
keys/values into preallocated buffers and runs each later step by calling the layers' own submodules
(norms, projections, MLP, rotary embedding) with `F.scaled_dot_product_attention`, the same math in the
same order as `LlamaAttention` / `LlamaDecoderLayer` (gpt-fast and nanoGPT decode the same way).
`tests/vla/test_model_decoding.py` checks it emits the ids the HF path emits. Other LM families fall back
to the HF forward (`supports_stepper`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

STEPPER_TYPES = ("llama", "qwen2")


def supports_stepper(lm: nn.Module) -> bool:
    """True when `lm` has the plain Llama layer layout this stepper reproduces exactly."""
    cfg = lm.config.get_text_config()
    if cfg.model_type not in STEPPER_TYPES or getattr(cfg, "use_sliding_window", False):
        return False
    if getattr(cfg, "pretraining_tp", 1) != 1:
        return False
    decoder = lm.get_decoder()
    return all(hasattr(decoder, name) for name in ("layers", "norm", "rotary_emb"))


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class LlamaStepper:
    """KV buffers for `max_new` more tokens after a prefix, and the single-token step over them."""

    def __init__(self, lm: nn.Module, cache: Any, max_new: int):
        self.decoder = lm.get_decoder()
        keys = [layer.keys for layer in cache.layers]  # each (B, n_kv, P, hd)
        values = [layer.values for layer in cache.layers]
        b, n_kv, p, hd = keys[0].shape
        self.length = p
        self.k = keys[0].new_empty(len(keys), b, n_kv, p + max_new, hd)  # (L, B, n_kv, T, hd)
        self.v = torch.empty_like(self.k)
        for i, (k, v) in enumerate(zip(keys, values)):
            self.k[i, :, :, :p] = k
            self.v[i, :, :, :p] = v

    def step(self, x: torch.Tensor, pos: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        """Final hidden state (B, 1, D) of one new token embedding `x` (B, 1, D) at positions `pos` (B, 1).

        `key_mask` (B, T) bool marks real keys including this one; None means all are real.
        """
        cos, sin = self.decoder.rotary_emb(x, pos)  # (B, 1, hd) each
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)  # (B, 1, 1, hd)
        t = self.length
        mask = None if key_mask is None else key_mask[:, None, None, : t + 1]  # (B, 1, 1, t+1) bool
        b = x.shape[0]
        for i, layer in enumerate(self.decoder.layers):
            attn = layer.self_attn
            h = layer.input_layernorm(x)  # (B, 1, D)
            q = attn.q_proj(h).view(b, 1, -1, attn.head_dim).transpose(1, 2)  # (B, nh, 1, hd)
            k = attn.k_proj(h).view(b, 1, -1, attn.head_dim).transpose(1, 2)  # (B, n_kv, 1, hd)
            v = attn.v_proj(h).view(b, 1, -1, attn.head_dim).transpose(1, 2)  # (B, n_kv, 1, hd)
            q = q * cos + _rotate_half(q) * sin
            self.k[i, :, :, t: t + 1] = k * cos + _rotate_half(k) * sin
            self.v[i, :, :, t: t + 1] = v
            out = F.scaled_dot_product_attention(q, self.k[i, :, :, : t + 1], self.v[i, :, :, : t + 1],
                                                 attn_mask=mask, scale=attn.scaling,
                                                 enable_gqa=q.shape[1] != k.shape[1])  # (B, nh, 1, hd)
            x = x + attn.o_proj(out.transpose(1, 2).reshape(b, 1, -1))  # (B, 1, D)
            x = x + layer.mlp(layer.post_attention_layernorm(x))  # (B, 1, D)
        self.length = t + 1
        return self.decoder.norm(x)  # (B, 1, D)
