"""The VLA (PaLM-E / RT-2): images and state become soft tokens in front of the prompt; the LM emits actions.

One row of the LM input is `[image tokens][state tokens][prompt][action tokens]` (layout and padding in
`vla.model.batch`). Training puts the loss on the action tokens only. Two decoders share the weights'
layout but not the training mask, so `cfg.decoding` fixes both:

- "autoregressive" (RT-2): causal mask, teacher forcing; inference is greedy with a KV cache and logits
  masked to the action tokenizer's ids (constrained decoding).
- "parallel" (OpenVLA-OFT, Kim et al. 2025): every action column holds a learned placeholder embedding,
  the action columns attend to each other both ways, and one forward pass yields all action tokens.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vla.model.batch import Collator, attention_mask_4d, position_ids
from vla.model.config import VLAConfig
from vla.model.lm import build_lm, embedding_scale, lm_config_dict, lm_hidden_size
from vla.model.projector import StateEncoder, build_projector
from vla.model.tokens import build_action_tokenizer_for, eos_for
from vla.model.vision import VisionTower, build_vision_tower, tower_config_dict


@dataclass
class Output:
    """What `VLA.forward` returns: scalar `loss`, action-position `logits` (B, La, V), `action_accuracy`
    (share of real action tokens whose constrained argmax is the target; a scalar tensor, no grad)."""

    loss: torch.Tensor
    logits: torch.Tensor
    action_accuracy: torch.Tensor


class VLA(nn.Module):
    """Vision tower + projector + state encoder + causal LM, with an action tokenizer for the action ids.

    Build with `VLA.from_config(cfg)`; the constructor takes already-built parts (STYLE 9).
    """

    def __init__(self, cfg: VLAConfig, vision: VisionTower, projector: nn.Module, state_encoder: nn.Module | None,
                 lm: nn.Module, action_tokenizer: Any, eos_id: int | None):
        super().__init__()
        self.cfg = cfg
        self.vision = vision
        self.projector = projector
        self.state_encoder = state_encoder
        self.lm = lm
        self.action_tokenizer = action_tokenizer
        self.eos_id = eos_id
        dim = lm_hidden_size(lm)
        table_std = float(lm.get_input_embeddings().weight.detach().float().std())
        self.embed_scale = embedding_scale(lm)
        self.tokens_per_image = projector.num_tokens(vision.num_patches)
        # Tells the LM which camera a soft token came from (towers and projector are shared by cameras).
        self.camera_embed = nn.Parameter(torch.randn(len(cfg.cameras), 1, dim) * table_std)  # (C, 1, D)
        # FiLM towers get one text vector per prompt, pooled by attention: weights softmax(LN(e_t) . q) over
        # the prompt's tokens e_t, pooled = sum_t w_t LN(e_t). q starts at 0 (a plain mean). The prompt is
        # 13 template tokens and a few content words, so a mean dilutes the word that matters ("blue") to
        # ~1/18 of the vector, and at the embeddings' init scale (|e| ~ 0.2) FiLM took thousands of steps to
        # pick it out; LN gives every token unit scale and q learns to weigh the words that change the task.
        self.film_query = nn.Parameter(torch.zeros(dim)) if vision.conditioned else None  # (D,)
        # The pooled vector is then standardized per feature over the batch (running statistics at
        # inference): what all prompts share (the template) drops out and what tells them apart (color,
        # verb, direction) reaches FiLM at unit scale; without it the color part was ~0.15 of the vector and
        # FiLM's gamma varied by 0.04 across colors against 2.0 overall after 3,000 steps.
        self.film_norm = nn.BatchNorm1d(dim, affine=False) if vision.conditioned else None
        self.num_action_tokens = action_tokenizer.max_tokens + (eos_id is not None)
        self.action_placeholders = None
        if cfg.decoding == "parallel":
            self.action_placeholders = nn.Parameter(torch.randn(self.num_action_tokens, dim) * table_std)  # (La, D)
        allowed_ids = torch.from_numpy(action_tokenizer.valid_ids()).long()  # (K,)
        if eos_id is not None:
            allowed_ids = torch.cat([allowed_ids, torch.tensor([eos_id])])
        bias = torch.full((lm.config.get_text_config().vocab_size,), float("-inf"))
        bias[allowed_ids] = 0.0
        self.register_buffer("allowed_ids", allowed_ids, persistent=False)  # (K,) ids decoding may emit
        self.register_buffer("action_logit_bias", bias, persistent=False)  # (V,) 0 on allowed ids, -inf else

    @classmethod
    def from_config(cls, cfg: VLAConfig, action_tokenizer: Any = None) -> "VLA":
        """Build every part from `cfg` (pretrained weights from local paths when the config names them).

        `action_tokenizer` defaults to `cfg.action_tokenizer` built with its ids at the end of the LM
        vocabulary; pass a fitted one for FAST (build it with `vla.model.build_action_tokenizer_for`).
        """
        lm = build_lm(cfg.lm, cfg.trust_remote_code)
        vocab = int(lm.config.get_text_config().vocab_size)
        if action_tokenizer is None:
            action_tokenizer = build_action_tokenizer_for(cfg, vocab)
        eos_id = eos_for(cfg, action_tokenizer, lm.config)
        special = [i for i in (eos_id, lm.config.get_text_config().pad_token_id) if i is not None]
        action_tokenizer.check_vocab(vocab, special_ids=special)
        if (action_tokenizer.horizon, action_tokenizer.action_dim) != (cfg.horizon, cfg.action_dim):
            raise ValueError(f"action tokenizer is for (horizon, action_dim)="
                             f"{(action_tokenizer.horizon, action_tokenizer.action_dim)}, "
                             f"config says {(cfg.horizon, cfg.action_dim)}")
        if cfg.decoding == "parallel" and action_tokenizer.num_tokens is None:
            raise ValueError(f"decoding='parallel' needs a fixed-length action tokenizer; "
                             f"{cfg.action_tokenizer!r} has a variable length (use 'autoregressive')")
        dim = lm_hidden_size(lm)
        vision = build_vision_tower(cfg.vision, cfg.image_size, cfg.trust_remote_code)
        projector = build_projector(cfg.projector, vision.hidden_size, dim, vision.num_patches)
        state = StateEncoder(cfg.state_dim, dim, cfg.num_state_tokens) if cfg.num_state_tokens else None
        return cls(cfg, vision, projector, state, lm, action_tokenizer, eos_id)

    # ----- batches -------------------------------------------------------------------------------------
    def collator(self) -> Collator:
        """A picklable `samples -> batch` callable for DataLoader workers (see `vla.model.batch.Collator`)."""
        return Collator(tuple(self.cfg.cameras), self.cfg.image_size, self.cfg.state_dim, pad_id=0, eos_id=self.eos_id,
                        max_prompt_len=self.cfg.max_prompt_len)

    def collate(self, samples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Samples -> batch; prompts LEFT-padded, action ids right-padded (`vla.model.batch` documents it)."""
        return self.collator()(samples)

    @property
    def device(self) -> torch.device:
        return self.camera_embed.device

    @property
    def dtype(self) -> torch.dtype:
        return self.camera_embed.dtype

    @property
    def prefix_soft_tokens(self) -> int:
        """Soft tokens in front of the prompt: images then state."""
        return len(self.cfg.cameras) * self.tokens_per_image + self.cfg.num_state_tokens

    def embed_prefix(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """LM input embeddings of `[image tokens][state tokens][prompt]`: (B, P, D) and key mask bool (B, P)."""
        images = batch["images"].to(self.device)  # (B, C, H, W, 3) uint8
        b, c = images.shape[:2]
        text = self.lm.get_input_embeddings()(batch["prompt_ids"].to(self.device))  # (B, Lp, D)
        condition = None
        if self.vision.conditioned:  # FiLM towers see the prompt, attention-pooled (see __init__)
            condition = self.pool_prompt(text, batch["prompt_mask"].to(self.device)).repeat_interleave(c, dim=0)
            # (B*C, D), rows in images.flatten(0, 1) order
        feats = self.vision(images.flatten(0, 1), condition)  # (B*C, N, Dv)
        soft = self.projector(feats.to(self.dtype))  # (B*C, T, D)
        soft = soft.view(b, c, soft.shape[1], -1) + self.camera_embed  # (B, C, T, D)
        parts = [soft.flatten(1, 2)]  # (B, C*T, D)
        if self.state_encoder is not None:
            parts.append(self.state_encoder(batch["state"].to(self.device, self.dtype)))  # (B, k, D)
        soft = torch.cat(parts, dim=1) * self.embed_scale  # (B, S, D) same scale as text embeddings (Gemma)
        embeds = torch.cat([soft, text.to(soft.dtype)], dim=1)  # (B, P, D)
        soft_mask = torch.ones(b, soft.shape[1], dtype=torch.bool, device=self.device)
        return embeds, torch.cat([soft_mask, batch["prompt_mask"].to(self.device)], dim=1)  # (B, P)

    def pool_prompt(self, text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One vector (B, D) per prompt of token embeddings `text` (B, Lp, D) with key mask `mask` (B, Lp):
        the attention pool over layer-normalized tokens, standardized over the batch (running statistics in
        eval mode), that FiLM towers are conditioned on."""
        normed = F.layer_norm(text.float(), text.shape[-1:])  # (B, Lp, D)
        scores = (normed @ self.film_query.float()).masked_fill(~mask.bool(), float("-inf"))  # (B, Lp)
        weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # (B, Lp); an all-padding row pools to 0
        pooled = (weights.unsqueeze(-1) * normed).sum(1)  # (B, D)
        norm = self.film_norm
        if norm.training and pooled.shape[0] > 1:
            return norm(pooled).to(text.dtype)  # (B, D), batch statistics (running ones updated)
        return F.batch_norm(pooled, norm.running_mean, norm.running_var, training=False,
                            eps=norm.eps).to(text.dtype)  # (B, D); a training batch of one uses the running ones

    def placeholder_embeds(self, batch_size: int, length: int) -> torch.Tensor:
        """The learned parallel-decoding inputs for `length` action columns: (B, length, D)."""
        return (self.action_placeholders[:length] * self.embed_scale).unsqueeze(0).expand(batch_size, -1, -1)

    def run_lm(self, embeds: torch.Tensor, key_mask: torch.Tensor, num_bidirectional: int, logits_to_keep: int):
        """One LM pass over full rows with our 4-D mask; returns the HF output (logits of the last columns)."""
        mask = attention_mask_4d(key_mask, num_bidirectional, embeds.dtype)  # (B, 1, L, L)
        return self.lm(inputs_embeds=embeds, attention_mask=mask, position_ids=position_ids(key_mask),
                       logits_to_keep=logits_to_keep, use_cache=False)

    # ----- training ------------------------------------------------------------------------------------
    def forward(self, batch: dict[str, torch.Tensor]) -> Output:
        """Loss on the action tokens only (cross-entropy over the LM vocabulary), under `cfg.decoding`'s mask."""
        prefix, prefix_mask = self.embed_prefix(batch)  # (B, P, D), (B, P)
        targets = batch["action_ids"].to(self.device)  # (B, La)
        target_mask = batch["action_mask"].to(self.device)  # (B, La)
        b, la = targets.shape
        if self.action_placeholders is not None:
            if la != self.num_action_tokens:
                raise ValueError(f"parallel decoding needs exactly {self.num_action_tokens} action ids, got {la}")
            inputs = self.placeholder_embeds(b, la)  # (B, La, D)
            out = self.run_lm(torch.cat([prefix, inputs], 1), torch.cat([prefix_mask, target_mask], 1), la, la)
            logits = out.logits  # (B, La, V): column i predicts action token i
        else:
            inputs = self.lm.get_input_embeddings()(targets).to(prefix.dtype)  # (B, La, D) teacher forcing
            out = self.run_lm(torch.cat([prefix, inputs], 1), torch.cat([prefix_mask, target_mask], 1), 0, la + 1)
            logits = out.logits[:, :-1]  # (B, La, V): column P-1+i predicts action token i
        labels = targets.masked_fill(~target_mask, -100)  # (B, La)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
        with torch.no_grad():
            pred = (logits.float() + self.action_logit_bias).argmax(-1)  # (B, La)
            accuracy = ((pred == targets) & target_mask).sum() / target_mask.sum().clamp(min=1)
        return Output(loss=loss, logits=logits, action_accuracy=accuracy)

    # ----- inference -----------------------------------------------------------------------------------
    @torch.inference_mode()
    def predict_action_ids(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Greedy, constrained action ids int64 (B, La) by `cfg.decoding`; for a variable-length tokenizer
        rows end with `eos_id` and are padded with it."""
        from vla.model.decoding import decode_autoregressive, decode_parallel

        if self.action_placeholders is not None:
            return decode_parallel(self, batch)
        return decode_autoregressive(self, batch)

    def strip_eos(self, row: np.ndarray) -> np.ndarray:
        """One row of decoded ids (La,) cut before its first end id (variable-length tokenizers only)."""
        if self.eos_id is None:
            return row
        ends = np.flatnonzero(row == self.eos_id)
        return row[: ends[0]] if ends.size else row

    def ids_to_actions(self, ids: torch.Tensor) -> np.ndarray:
        """Action ids (B, La) -> normalized actions float32 (B, H, A); malformed ids raise ActionDecodeError."""
        rows = [self.action_tokenizer.decode(self.strip_eos(row)) for row in ids.cpu().numpy()]
        return np.stack(rows).astype(np.float32)  # (B, H, A)

    def predict_actions(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        """Normalized action chunks float32 (B, H, A) in [-1, 1]; unnormalize them with the checkpoint's stats."""
        return self.ids_to_actions(self.predict_action_ids(batch))

    def export_config(self) -> VLAConfig:
        """This model's config with the LM and vision configs written out in full and no pretrained paths,
        so `VLA.from_config` rebuilds the same network (then filled from model.safetensors) anywhere."""
        cfg = copy.deepcopy(self.cfg)
        cfg.lm.config = lm_config_dict(self.lm)
        cfg.lm.pretrained_path = cfg.lm.pretrained_package = cfg.lm.gguf_file = None
        cfg.vision.config = tower_config_dict(self.vision)
        cfg.vision.pretrained_path = None
        cfg.action_token_offset = int(self.action_tokenizer.token_offset)
        return cfg
