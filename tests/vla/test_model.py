"""The VLA model: every shipped config builds from its fake batch, training signal, decoding contracts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from model_helpers import small_config
from vla.model import VLA, load_model_config
from vla.model.config import model_config_names
from vla.model.decoding import decode_autoregressive, decode_generate, decode_parallel

PRETRAINED_ONLY = {"siglip_qwen2", "paligemma_like"}  # documented configs: weights are not on this machine


def _check_builds(name: str) -> None:
    cfg = load_model_config(name)
    torch.manual_seed(0)
    model = VLA.from_config(cfg)
    batch = cfg.fake_batch(2)
    out = model(batch)
    assert torch.isfinite(out.loss) and out.loss.item() > 0
    assert out.logits.shape[:2] == batch["action_ids"].shape
    actions = model.eval().predict_actions(batch)
    assert actions.shape == (2, cfg.horizon, cfg.action_dim) and actions.dtype == np.float32
    assert np.all(np.abs(actions) <= 1.0)


@pytest.mark.parametrize("name", [n for n in model_config_names() if n not in PRETRAINED_ONLY | {"smollm2"}])
def test_config_builds_from_fake_batch(name):
    _check_builds(name)


@pytest.mark.slow
def test_smollm2_config_builds_from_fake_batch():
    _check_builds("smollm2")


@pytest.mark.parametrize("name", model_config_names())
def test_every_config_validates(name):
    cfg = load_model_config(name)
    assert cfg.horizon >= 1 and cfg.cameras


def test_tiny_config_size():
    model = VLA.from_config(load_model_config("tiny"))
    params = sum(p.numel() for p in model.parameters())
    assert 5e6 <= params <= 15e6, params
    assert model.tokens_per_image == 8  # the resampler cuts 64 patches to 8 tokens


@pytest.mark.parametrize("decoding", ["parallel", "autoregressive"])
def test_loss_falls_on_a_fixed_batch(decoding):
    torch.manual_seed(0)
    cfg = small_config(decoding=decoding)
    model = VLA.from_config(cfg)
    batch = cfg.fake_batch(2, seed=1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        out = model(batch)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize("decoding", ["parallel", "autoregressive"])
def test_both_decodings_give_chunks_of_action_ids(decoding):
    cfg = small_config(decoding=decoding)
    model = VLA.from_config(cfg).eval()
    batch = cfg.fake_batch(3)
    ids = model.predict_action_ids(batch)
    assert ids.shape == (3, cfg.horizon * cfg.action_dim)
    valid = set(model.action_tokenizer.valid_ids().tolist())
    assert set(ids.flatten().tolist()) <= valid
    assert model.predict_actions(batch).shape == (3, cfg.horizon, cfg.action_dim)


@pytest.mark.parametrize("decoding", ["parallel", "autoregressive"])
def test_constrained_decoding_never_emits_text_ids(decoding):
    cfg = small_config(decoding=decoding)
    model = VLA.from_config(cfg).eval()
    offset = model.action_tokenizer.token_offset
    with torch.no_grad():  # shrink the action rows of the LM head: unconstrained argmax becomes a text id
        model.lm.get_output_embeddings().weight[offset:] *= 1e-3
    batch = cfg.fake_batch(2)
    prefix, _ = model.embed_prefix(batch)
    unconstrained = model.lm(inputs_embeds=prefix).logits[:, -1].argmax(-1)
    assert (unconstrained < offset).all()  # the trap is set
    ids = model.predict_action_ids(batch)
    assert ((ids >= offset) & (ids < offset + 256)).all()


def test_kv_cache_decoding_matches_generate_without_cache():
    torch.manual_seed(0)
    cfg = small_config(decoding="autoregressive")
    model = VLA.from_config(cfg).eval()
    batch = cfg.fake_batch(1)
    with torch.inference_mode():
        assert torch.equal(decode_autoregressive(model, batch), decode_generate(model, batch, use_cache=False))


@pytest.mark.parametrize("decoding", ["parallel", "autoregressive"])
def test_padded_batch_decodes_like_single_samples(decoding):
    """Left-padded prompts of different lengths must not change any row's actions."""
    torch.manual_seed(0)
    cfg = small_config(decoding=decoding)
    model = VLA.from_config(cfg).eval()
    from vla.model.fake import fake_samples

    samples = fake_samples(cfg, 3, 0, model.action_tokenizer)  # prompt lengths 8, 11, 14
    together = model.predict_action_ids(model.collate(samples))
    for i, sample in enumerate(samples):
        alone = model.predict_action_ids(model.collate([sample]))
        assert torch.equal(together[i], alone[0]), i


def test_parallel_training_uses_bidirectional_action_mask():
    """Under parallel decoding, the first action column's output depends on later placeholders."""
    torch.manual_seed(0)
    cfg = small_config(decoding="parallel")
    model = VLA.from_config(cfg).eval()
    batch = cfg.fake_batch(1)
    before = model(batch).logits[0, 0].clone()
    with torch.no_grad():
        model.action_placeholders[-1] += 1.0
    assert not torch.allclose(model(batch).logits[0, 0], before)


def test_gemma_soft_tokens_share_the_text_embedding_scale():
    """Gemma multiplies token embeddings by sqrt(hidden); a soft token equal to an embedding-table row
    must enter the LM exactly like that text token."""
    gemma = {"model_type": "gemma", "vocab_size": 1024, "hidden_size": 64, "intermediate_size": 128,
             "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32}
    cfg = small_config(lm={"config": gemma})
    model = VLA.from_config(cfg).eval()
    assert model.embed_scale == pytest.approx(64**0.5)
    row = model.lm.get_input_embeddings().weight[7].detach()  # raw table row of token 7

    class ConstantState(torch.nn.Module):
        def forward(self, state):
            return row.expand(state.shape[0], 1, -1)  # (B, 1, D)

    model.state_encoder = ConstantState()
    batch = cfg.fake_batch(1)
    batch["prompt_ids"][0, -1] = 7
    embeds, _ = model.embed_prefix(batch)
    state_col = len(cfg.cameras) * model.tokens_per_image
    torch.testing.assert_close(embeds[0, state_col], embeds[0, -1])
    torch.testing.assert_close(embeds[0, -1], row * 64**0.5)
    assert torch.isfinite(model(cfg.fake_batch(2)).loss)


def test_fast_tokenizer_decodes_autoregressively_with_an_end_id():
    from vla.model import build_action_tokenizer_for

    cfg = small_config(action_tokenizer="fast", decoding="autoregressive", action_tokenizer_kwargs={})
    rng = np.random.default_rng(0)
    chunks = np.cumsum(rng.normal(0, 0.1, (64, cfg.horizon, cfg.action_dim)), axis=1).clip(-1, 1)
    tokenizer = build_action_tokenizer_for(cfg, 1024).fit(chunks)
    model = VLA.from_config(cfg, action_tokenizer=tokenizer).eval()
    assert model.eos_id == 2
    batch = cfg.fake_batch(2, action_tokenizer=tokenizer)
    assert (batch["action_ids"][batch["action_mask"]] == 2).sum() == 2  # one end id per row
    assert torch.isfinite(model.train()(batch).loss)
    ids = model.eval().predict_action_ids(batch)
    allowed = set(tokenizer.valid_ids().tolist()) | {2}
    assert set(ids.flatten().tolist()) <= allowed


def test_parallel_decoding_refuses_variable_length_tokens():
    from vla.model import build_action_tokenizer_for

    cfg = small_config(action_tokenizer="fast", decoding="parallel", action_tokenizer_kwargs={})
    rng = np.random.default_rng(0)
    tokenizer = build_action_tokenizer_for(cfg, 1024).fit(rng.uniform(-1, 1, (16, 2, 7)))
    with pytest.raises(ValueError, match="fixed-length"):
        VLA.from_config(cfg, action_tokenizer=tokenizer)


@pytest.mark.parametrize("field,value,match", [
    ("decoding", "beam", "decoding"), ("cameras", [], "cameras"), ("horizon", 0, "horizon"),
    ("projector", {"type": "qformer"}, "projector.type"), ("vision", {"type": "vit"}, "vision.type"),
    ("action_tokenizer", "bin", "action_tokenizer"), ("max_prompt_len", 0, "max_prompt_len"),
])
def test_config_errors_name_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        small_config(**{field: value})


def test_export_config_rebuilds_the_same_network():
    cfg = small_config()
    model = VLA.from_config(cfg)
    exported = model.export_config()
    assert exported.lm.pretrained_path is None and exported.action_token_offset == 768
    rebuilt = VLA.from_config(dataclasses.replace(exported))
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}


def test_parallel_and_autoregressive_decoders_are_separate_functions():
    cfg = small_config(decoding="parallel")
    model = VLA.from_config(cfg).eval()
    batch = cfg.fake_batch(1)
    with torch.inference_mode():
        assert decode_parallel(model, batch).shape == (1, 14)


def test_too_long_prompts_are_refused_not_cut():
    cfg = small_config(max_prompt_len=10)
    model = VLA.from_config(cfg)
    from vla.model.fake import fake_samples

    samples = fake_samples(cfg, 2, 0, model.action_tokenizer)  # prompt lengths 8 and 10 (capped)
    samples[1]["prompt_ids"] = np.arange(3, 15)
    with pytest.raises(ValueError, match="12 tokens"):
        model.collate(samples)


@pytest.mark.parametrize("kind,config", [
    ("siglip", {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                "patch_size": 8}),
    ("clip", {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
              "patch_size": 8}),
    ("dinov2", {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                "patch_size": 8, "num_register_tokens": 2}),
])
def test_vision_towers_feed_patch_tokens_and_train_every_parameter(kind, config):
    cfg = small_config(vision={"type": kind, "config": config}, projector={"type": "mlp"})
    model = VLA.from_config(cfg)
    assert model.tokens_per_image == (32 // 8) ** 2  # CLS / registers dropped
    out = model(cfg.fake_batch(2))
    out.loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, no_grad  # DDP needs every trainable parameter used


@pytest.mark.parametrize("decoding", ["parallel", "autoregressive"])
def test_learns_actions_that_depend_on_the_image(decoding):
    """Red scene -> +0.5 on every action dim, blue scene -> -0.5: the answer is only in the pixels."""
    torch.manual_seed(0)
    cfg = small_config(decoding=decoding)
    model = VLA.from_config(cfg)
    rng = np.random.default_rng(0)
    prompt = np.arange(3, 15)

    def sample(red: bool) -> dict:
        color = np.array([200, 30, 30] if red else [30, 30, 200], dtype=np.int16)
        img = np.clip(color + rng.integers(-20, 21, (32, 32, 3)), 0, 255).astype(np.uint8)
        actions = np.full((cfg.horizon, cfg.action_dim), 0.5 if red else -0.5, dtype=np.float32)
        return {"images": {"front": img, "wrist": img}, "state": rng.normal(size=14).astype(np.float32),
                "prompt_ids": prompt, "action_ids": model.action_tokenizer.encode(actions), "actions": actions}

    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(40):
        batch = model.collate([sample(red=i % 2 == 0) for i in range(8)])
        loss = model(batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    test = model.collate([sample(red=True), sample(red=False)])
    pred = model.predict_actions(test)  # (2, H, A)
    np.testing.assert_allclose(pred[0], 0.5, atol=0.05)
    np.testing.assert_allclose(pred[1], -0.5, atol=0.05)
