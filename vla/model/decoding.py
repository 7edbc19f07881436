"""Greedy, constrained action decoding for `VLA`: parallel (one pass), autoregressive with a KV cache, and
Hugging Face `generate` as a reference baseline.

Constrained decoding: before each argmax the logits get `model.action_logit_bias` (0 on the action
tokenizer's ids and the end id, -inf elsewhere), so the model can only emit ids that decode to actions.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import torch

from vla.model.batch import attention_mask_4d, position_ids, step_mask_4d

if TYPE_CHECKING:
    from vla.model.vla import VLA


def _constrained_argmax(model: "VLA", logits: torch.Tensor) -> torch.Tensor:
    return (logits.float() + model.action_logit_bias).argmax(-1)  # (..., V) -> (...)


def cache_kwarg(module: torch.nn.Module) -> str:
    """The keyword this transformers version's decoder takes its KV cache under ('cache' replaced
    'past_key_values' in 5.x; the old name still works but warns on every step)."""
    params = inspect.signature(module.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


class ActionHead:
    """Greedy action ids from final hidden states (..., D), scoring only the allowed ids.

    Multiplying by the allowed rows of the output embedding (256 of a 1k-49k vocabulary) gives the argmax
    of the constrained full logits: every LM's final logit transform (Gemma-2 soft-capping, logit scaling)
    is monotonic, so it cannot change which allowed id is largest. The rows are gathered once per decode.
    """

    def __init__(self, model: "VLA"):
        head = model.lm.get_output_embeddings()
        self.ids = model.allowed_ids  # (K,)
        self.weight_t = head.weight[self.ids].T.contiguous()  # (D, K)
        bias = getattr(head, "bias", None)
        self.bias = None if bias is None else bias[self.ids]  # (K,)

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        scores = hidden.to(self.weight_t.dtype) @ self.weight_t  # (..., K)
        if self.bias is not None:
            scores = scores + self.bias
        return self.ids[scores.argmax(-1)]  # (...)


def decode_parallel(model: "VLA", batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """All action ids (B, La) from one forward pass over prefix + placeholders (OpenVLA-OFT)."""
    prefix, prefix_mask = model.embed_prefix(batch)  # (B, P, D), (B, P)
    b, la = prefix.shape[0], model.num_action_tokens
    embeds = torch.cat([prefix, model.placeholder_embeds(b, la)], dim=1)  # (B, P + La, D)
    key_mask = torch.cat([prefix_mask, prefix_mask.new_ones(b, la)], dim=1)  # (B, P + La)
    hidden = model.lm.get_decoder()(inputs_embeds=embeds, attention_mask=attention_mask_4d(key_mask, la, embeds.dtype),
                                    position_ids=position_ids(key_mask), use_cache=False).last_hidden_state
    return ActionHead(model)(hidden[:, -la:])  # (B, La)


def decode_autoregressive(model: "VLA", batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Greedy action ids (B, La) one token per step, reusing the keys/values of earlier columns.

    The prefix is one HF pass under the causal 4-D mask that fills a KV cache; later steps feed one token
    per row through `LlamaStepper` (Llama-layout LMs) or the HF decoder. With no pad column in the batch
    the step mask is omitted (each query may see every key). Variable-length tokenizers stop once every
    row has emitted `model.eos_id`; finished rows repeat it.
    """
    from transformers import DynamicCache

    decoder = model.lm.get_decoder()
    prefix, key_mask = model.embed_prefix(batch)  # (B, P, D), (B, P)
    b, la = prefix.shape[0], model.num_action_tokens
    cache = DynamicCache(config=model.lm.config)
    hidden = decoder(inputs_embeds=prefix, attention_mask=attention_mask_4d(key_mask, 0, prefix.dtype),
                     position_ids=position_ids(key_mask), use_cache=True,
                     **{cache_kwarg(decoder): cache}).last_hidden_state  # (B, P, D)
    padded = not bool(key_mask.all())
    key_mask = torch.cat([key_mask, key_mask.new_ones(b, la)], dim=1)  # (B, P + La) keys as they will be
    pos = position_ids(key_mask)[:, prefix.shape[1]:]  # (B, La) position of each action column
    step = _stepper(model, cache, pos[:, :-1], padded, dtype=prefix.dtype)  # fed tokens: all but the last
    head = ActionHead(model)
    token = head(hidden[:, -1])  # (B,)
    tokens = [token]
    done = token == model.eos_id if model.eos_id is not None else torch.zeros_like(token, dtype=torch.bool)
    embed = model.lm.get_input_embeddings()
    for i in range(la - 1):
        if bool(done.all()):
            break
        width = prefix.shape[1] + i + 1  # keys after this step
        hidden = step(embed(token[:, None]).to(prefix.dtype), pos[:, i: i + 1], key_mask[:, :width])  # (B, 1, D)
        token = head(hidden[:, -1])  # (B,)
        if model.eos_id is not None:
            token = torch.where(done, torch.full_like(token, model.eos_id), token)
            done = done | (token == model.eos_id)
        tokens.append(token)
    return torch.stack(tokens, dim=1)  # (B, La)


def _stepper(model: "VLA", cache: object, positions: torch.Tensor, padded: bool, dtype: torch.dtype):
    """`step(x (B, 1, D), pos (B, 1), key_mask (B, K)) -> hidden (B, 1, D)` continuing from `cache`, for
    new tokens at `positions` (B, N) in order."""
    from vla.model.stepper import LlamaStepper, supports_stepper

    if supports_stepper(model.lm):  # same math whichever attention implementation the HF path uses
        fast = LlamaStepper(model.lm, cache, positions.shape[1], positions)
        return lambda x, pos, key_mask: fast.step(x, key_mask.bool() if padded else None)
    decoder = model.lm.get_decoder()
    kwarg = cache_kwarg(decoder)

    def hf_step(x: torch.Tensor, pos: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        mask = step_mask_4d(key_mask, dtype) if padded else None  # (B, 1, 1, K)
        return decoder(inputs_embeds=x, attention_mask=mask, position_ids=pos, use_cache=True,
                       **{kwarg: cache}).last_hidden_state

    return hf_step


class _ActionOnly:
    """A `generate` logits processor adding the constrained-decoding bias."""

    def __init__(self, bias: torch.Tensor):
        self.bias = bias

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores + self.bias.to(scores.dtype)


def decode_generate(model: "VLA", batch: dict[str, torch.Tensor], use_cache: bool = False) -> torch.Tensor:
    """Action ids (B, La) from Hugging Face `generate` on the same prefix embeddings (benchmark baseline).

    Without the cache every step re-runs the whole sequence, which is what our KV-cache loop avoids.
    Needs an unpadded batch: `generate` derives positions from a 2-D mask, which our mid-row prompt
    padding would shift.
    """
    from transformers import LogitsProcessorList

    prefix, key_mask = model.embed_prefix(batch)  # (B, P, D), (B, P)
    if not bool(key_mask.all()):
        raise ValueError("decode_generate needs prompts of equal length (no pad columns)")
    la = model.num_action_tokens
    out = model.lm.generate(inputs_embeds=prefix, attention_mask=key_mask.long(), max_new_tokens=la,
                            min_new_tokens=la if model.eos_id is None else 1, do_sample=False, use_cache=use_cache,
                            logits_processor=LogitsProcessorList([_ActionOnly(model.action_logit_bias)]),
                            eos_token_id=model.eos_id, pad_token_id=model.eos_id or 0)
    return out[:, -la:] if out.shape[1] >= la else out  # (B, La)
