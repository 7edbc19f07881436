"""A lean one-token decoding step for Llama-layout LMs (Llama, SmolLM, Qwen2 without sliding window).

Hugging Face's decoder forward spends most of a small model's step in Python: kwargs plumbing, mask
construction, cache bookkeeping, output capture. Greedy action decoding needs none of it, so after the
prefix has run through the regular HF forward (which fills a DynamicCache), `LlamaStepper` copies the
keys/values into preallocated buffers and runs each later step with as few tensor ops as the math allows
(gpt-fast and nanoGPT decode the same way):

- q, k and v come from one matmul over the three weights concatenated once per decode, and so do the
  MLP's gate and up projections (three weight reads become one call; the bytes read are the same);
- the residual adds ride on the output projections (`addmm`);
- rotary embeddings for every action position are computed once per decode, and the rotation is
  `x * cos + roll(x) * sin'` over q and k together (`sin'` carries `rotate_half`'s sign), not a cat per step;
- RMSNorm is LlamaRMSNorm's own few ops on the (B, D) row (`F.rms_norm` dispatches more at this size);
- KV buffers are written and read through `narrow` views of per-layer buffers (no chains of slices).

It is the same math as `LlamaAttention` / `LlamaDecoderLayer`; `tests/vla/test_model_decoding.py`
checks it emits the ids the HF path emits. In a model quantized to int8 (`vla.model.quantize`) the steps
multiply by the int8 weights directly with bf16 activations (weight-only int8, as llama.cpp's Q8 and
torchao's int8 weight-only do): a one-token step is bound by reading the weights, and int8 reads a quarter
of the bytes; the prefix keeps torch's dynamic-int8 kernels. Other projection modules are called one by
one. Other LM families fall back to the HF forward (`supports_stepper`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

STEPPER_TYPES = ("llama", "qwen2")
_INT8_MATMUL = hasattr(torch.ops.aten, "_weight_int8pack_mm")


def supports_stepper(lm: nn.Module) -> bool:
    """True when `lm` has the plain Llama layer layout this stepper reproduces exactly."""
    cfg = lm.config.get_text_config()
    if cfg.model_type not in STEPPER_TYPES or getattr(cfg, "use_sliding_window", False):
        return False
    if getattr(cfg, "pretraining_tp", 1) != 1 or getattr(cfg, "hidden_act", "silu") != "silu":
        return False
    decoder = lm.get_decoder()
    return all(hasattr(decoder, name) for name in ("layers", "norm", "rotary_emb"))


def _int8_weights(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None:
    """(int8 weight (N, K), per-row scale (N,), bias or None) of a dynamically quantized Linear with
    symmetric weights (`vla.model.quantize`), or None for any other module."""
    if type(module).__module__ != "torch.ao.nn.quantized.dynamic.modules.linear":
        return None
    weight = module.weight()  # quantized (N, K)
    if weight.qscheme() != torch.per_tensor_affine or weight.q_zero_point() != 0:
        return None
    scale = torch.full((weight.shape[0],), weight.q_scale(), dtype=torch.float32)  # (N,)
    return weight.int_repr(), scale, module.bias()


def _int8_matmul(parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]):
    """`x (B, K) -> x @ W.T + b` over the int8 weights of `parts` concatenated: a weight-only int8 GEMV
    (bf16 activations) reads a quarter of the fp32 bytes, which is what a one-token step is bound by."""
    weight = torch.cat([w for w, _, _ in parts])  # (sum N, K) int8
    scale = torch.cat([s for _, s, _ in parts]).to(torch.bfloat16)  # (sum N,)
    biases = [b if b is not None else w.new_zeros(w.shape[0], dtype=torch.float32) for w, _, b in parts]
    bias = None if all(b is None for _, _, b in parts) else torch.cat(biases)  # (sum N,)

    def matmul(x: torch.Tensor) -> torch.Tensor:
        out = torch.ops.aten._weight_int8pack_mm(x.to(torch.bfloat16), weight, scale).to(x.dtype)  # (B, sum N)
        return out if bias is None else out + bias

    return matmul


def _fuse(modules: list[nn.Module]) -> Callable[[torch.Tensor], torch.Tensor]:
    """`x (B, D) -> cat([m(x) for m in modules], -1)`: one matmul over concatenated weights when every
    module is a plain float nn.Linear (or every one a symmetric dynamic-int8 Linear: then a weight-only
    int8 matmul), else the modules one by one."""
    if all(type(m) is nn.Linear for m in modules):
        weight = torch.cat([m.weight for m in modules], dim=0)  # (sum out, D)
        biases = [m.bias for m in modules]
        if all(b is None for b in biases):
            return lambda x: F.linear(x, weight)
        bias = torch.cat([b if b is not None else m.weight.new_zeros(m.out_features)
                          for m, b in zip(modules, biases)])  # (sum out,)
        return lambda x: F.linear(x, weight, bias)
    int8 = [_int8_weights(m) for m in modules]
    if _INT8_MATMUL and all(part is not None for part in int8):
        return _int8_matmul(int8)
    return lambda x: torch.cat([m(x) for m in modules], dim=-1)


def _residual(module: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """`(x (B, D), h (B, I)) -> x + module(h)`, as one `addmm` for a bias-free float nn.Linear."""
    if type(module) is nn.Linear and module.bias is None:
        weight_t = module.weight.t()  # (I, D) view
        return lambda x, h: torch.addmm(x, h, weight_t)
    project = _fuse([module])
    return lambda x, h: x + project(h)


@dataclass
class _Layer:
    """One decoder layer's step-time callables and constants."""

    norm1: tuple[torch.Tensor, float]
    qkv: Callable[[torch.Tensor], torch.Tensor]
    attn_out: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    norm2: tuple[torch.Tensor, float]
    gate_up: Callable[[torch.Tensor], torch.Tensor]
    mlp_out: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    scaling: float


def _norm_params(norm: nn.Module) -> tuple[torch.Tensor, float]:
    eps = getattr(norm, "variance_epsilon", getattr(norm, "eps", 1e-6))
    return norm.weight, float(eps)


def _layer(layer: nn.Module) -> _Layer:
    attn, mlp = layer.self_attn, layer.mlp
    return _Layer(norm1=_norm_params(layer.input_layernorm),
                  qkv=_fuse([attn.q_proj, attn.k_proj, attn.v_proj]),
                  attn_out=_residual(attn.o_proj),
                  norm2=_norm_params(layer.post_attention_layernorm),
                  gate_up=_fuse([mlp.gate_proj, mlp.up_proj]),
                  mlp_out=_residual(mlp.down_proj),
                  scaling=float(attn.scaling))


_PLANS: "weakref.WeakKeyDictionary[nn.Module, tuple[tuple, list[_Layer]]]" = weakref.WeakKeyDictionary()


def _layers(decoder: nn.Module) -> list[_Layer]:
    """The decoder's step plans, kept between decodes (concatenating weights costs about a prefix's time)
    and rebuilt when any parameter was replaced or changed in place (training bumps `_version`)."""
    key = tuple((p.data_ptr(), p._version) for p in decoder.parameters())
    cached = _PLANS.get(decoder)
    if cached is None or cached[0] != key:
        cached = (key, [_layer(layer) for layer in decoder.layers])
        _PLANS[decoder] = cached
    return cached[1]


class LlamaStepper:
    """KV buffers for `max_new` more tokens after a prefix, and the single-token step over them.

    `positions` (B, max_new) are the positions the new tokens will take, in order (their rotary
    embeddings are computed here, once).
    """

    def __init__(self, lm: nn.Module, cache: Any, max_new: int, positions: torch.Tensor):
        self.decoder = lm.get_decoder()
        cfg = lm.config.get_text_config()
        self.layers = _layers(self.decoder)
        keys = [layer.keys for layer in cache.layers]  # each (B, n_kv, P, hd)
        values = [layer.values for layer in cache.layers]
        b, n_kv, p, hd = keys[0].shape
        self.n_heads, self.n_kv, self.head_dim = int(cfg.num_attention_heads), n_kv, hd
        self.length, self.step_index = p, 0
        self.k = keys[0].new_empty(len(keys), b, n_kv, p + max_new, hd)  # (L, B, n_kv, T, hd)
        self.v = torch.empty_like(self.k)
        for i, (k, v) in enumerate(zip(keys, values)):
            self.k[i, :, :, :p] = k
            self.v[i, :, :, :p] = v
        self.layer_k, self.layer_v = list(self.k.unbind(0)), list(self.v.unbind(0))  # views (B, n_kv, T, hd)
        cos, sin = self.decoder.rotary_emb(keys[0], positions)  # (B, max_new, hd) each
        half = hd // 2
        sin = torch.cat([-sin[..., :half], sin[..., half:]], dim=-1)  # rotate_half's sign folded in
        self.cos = cos.to(keys[0].dtype).unsqueeze(2)  # (B, max_new, 1, hd)
        self.sin = sin.to(keys[0].dtype).unsqueeze(2)  # (B, max_new, 1, hd)
        self.norm = _norm_params(self.decoder.norm)

    def step(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        """Final hidden state (B, 1, D) of the next new token's embedding `x` (B, 1, D).

        `key_mask` (B, T) bool marks real keys including this one; None means all are real.
        """
        b, t, j = x.shape[0], self.length, self.step_index
        nh, nkv, hd = self.n_heads, self.n_kv, self.head_dim
        cos, sin = self.cos[:, j: j + 1], self.sin[:, j: j + 1]  # (B, 1, 1, hd) each
        mask = None if key_mask is None else key_mask[:, None, None, : t + 1]  # (B, 1, 1, t+1) bool
        x = x.reshape(b, -1)  # (B, D)
        for layer, keys, values in zip(self.layers, self.layer_k, self.layer_v):  # keys/values (B, n_kv, T, hd)
            qk, v = layer.qkv(_rms_norm(x, *layer.norm1)).split([(nh + nkv) * hd, nkv * hd], dim=-1)
            qk = qk.view(b, 1, nh + nkv, hd)  # (B, 1, nh + n_kv, hd)
            qk = torch.addcmul(qk * cos, qk.roll(hd // 2, dims=-1), sin).transpose(1, 2)  # (B, nh + n_kv, 1, hd)
            q, k = qk.split([nh, nkv], dim=1)  # (B, nh, 1, hd), (B, n_kv, 1, hd)
            keys.narrow(2, t, 1).copy_(k)
            values.narrow(2, t, 1).copy_(v.view(b, nkv, 1, hd))
            out = F.scaled_dot_product_attention(q, keys.narrow(2, 0, t + 1), values.narrow(2, 0, t + 1),
                                                 attn_mask=mask, scale=layer.scaling,
                                                 enable_gqa=nh != nkv)  # (B, nh, 1, hd)
            x = layer.attn_out(x, out.reshape(b, nh * hd))  # (B, D)
            gate, up = layer.gate_up(_rms_norm(x, *layer.norm2)).chunk(2, dim=-1)  # (B, I) each
            x = layer.mlp_out(x, F.silu(gate) * up)  # (B, D)
        self.length, self.step_index = t + 1, j + 1
        return _rms_norm(x, *self.norm).unsqueeze(1)  # (B, 1, D)


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """LlamaRMSNorm's math, op for op (for fp32 activations): fewer dispatches than `F.rms_norm` at (B, D)."""
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))
