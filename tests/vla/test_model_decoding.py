"""The lean KV-cache stepper decodes exactly what the Hugging Face decoder path decodes."""

from __future__ import annotations

import pytest
import torch

from model_helpers import small_config
from vla.model import VLA
from vla.model import stepper
from vla.model.decoding import decode_autoregressive
from vla.model.fake import fake_samples


@pytest.mark.parametrize("lm_type", ["llama", "qwen2"])
def test_stepper_matches_hf_decoder_on_a_padded_batch(monkeypatch, lm_type):
    torch.manual_seed(0)
    cfg = small_config(decoding="autoregressive", lm={"config": {"model_type": lm_type}})
    model = VLA.from_config(cfg).eval()
    assert stepper.supports_stepper(model.lm)
    batch = model.collate(fake_samples(cfg, 3, 0, model.action_tokenizer))  # prompts of 3 lengths
    with torch.inference_mode():
        fast = decode_autoregressive(model, batch)
        monkeypatch.setattr(stepper, "supports_stepper", lambda lm: False)
        slow = decode_autoregressive(model, batch)
    assert torch.equal(fast, slow)


def test_other_lm_families_use_the_hf_decoder():
    gemma = {"model_type": "gemma", "vocab_size": 1024, "hidden_size": 64, "intermediate_size": 128,
             "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32}
    cfg = small_config(decoding="autoregressive", lm={"config": gemma})
    model = VLA.from_config(cfg).eval()
    assert not stepper.supports_stepper(model.lm)
    ids = model.predict_action_ids(cfg.fake_batch(2))
    assert ids.shape == (2, 14) and bool((ids >= model.action_tokenizer.token_offset).all())


@pytest.mark.parametrize("mode", ["parallel", "generate_nocache"])
def test_speed_benchmark_measures_one_mode(mode):
    from benchmarks.vla_speed import main

    row = main(["--one", mode, "--steps", "1", "--warmup", "0"])
    assert row["mode"] == mode and row["median_ms"] > 0 and row["chunk_shape"] == [4, 7]


def test_int8_steps_multiply_by_the_quantized_weights():
    """The stepper's weight-only int8 matmul over fused q/k/v equals the dequantized weights' product (to
    bf16 rounding of the activations), and an int8 model decodes valid action ids through it."""
    from vla.model.quantize import quantize_dynamic_int8

    torch.manual_seed(0)
    cfg = small_config(decoding="autoregressive")
    model = quantize_dynamic_int8(VLA.from_config(cfg).eval())
    attn = model.lm.get_decoder().layers[0].self_attn
    parts = [stepper._int8_weights(m) for m in (attn.q_proj, attn.k_proj, attn.v_proj)]
    assert all(part is not None for part in parts)
    x = torch.randn(3, parts[0][0].shape[1])
    expected = torch.cat([x @ (w.float() * s[:, None]).T for w, s, _ in parts], dim=-1)
    torch.testing.assert_close(stepper._fuse([attn.q_proj, attn.k_proj, attn.v_proj])(x), expected,
                               rtol=2e-2, atol=2e-2)
    batch = model.collate(fake_samples(cfg, 2, 0, model.action_tokenizer))
    with torch.inference_mode():
        ids = decode_autoregressive(model, batch)
    assert ids.shape == (2, model.num_action_tokens)
    assert bool((ids >= model.action_tokenizer.token_offset).all())
