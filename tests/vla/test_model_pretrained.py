"""Backbones from local folders (as real pretrained weights would come), and the offline SmolLM2 GGUF."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_helpers import SMALL_LM, small_config
from vla.checkpoint import load_pretrained, save_pretrained
from vla.model import VLA, load_model_config, load_text_tokenizer_for
from vla.normalize import Normalizer, NormStats


def _normalizer() -> Normalizer:
    rng = np.random.default_rng(0)
    return Normalizer({"observation.state": NormStats.from_array(rng.normal(size=(50, 14))),
                       "action": NormStats.from_array(rng.normal(size=(50, 7)))})


@pytest.fixture(scope="module")
def local_backbones(tmp_path_factory):
    """A tiny SigLIP tower and a tiny Llama (+ the tiny tokenizer) saved as Hugging Face folders."""
    from transformers import LlamaConfig, LlamaForCausalLM, SiglipVisionConfig, SiglipVisionModel

    from vla.text_tokenizer import TINY_TOKENIZER_DIR, load_text_tokenizer

    root = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)
    vision = SiglipVisionModel(SiglipVisionConfig(image_size=32, hidden_size=32, intermediate_size=64,
                                                  num_hidden_layers=1, num_attention_heads=2, patch_size=8))
    vision.save_pretrained(root / "siglip")
    lm = LlamaForCausalLM(LlamaConfig(**SMALL_LM, tie_word_embeddings=True, eos_token_id=2, pad_token_id=0))
    lm.save_pretrained(root / "llama")
    load_text_tokenizer(TINY_TOKENIZER_DIR).save_pretrained(root / "llama")
    return root, lm


def test_builds_from_local_folders_and_saves_self_contained(local_backbones, tmp_path):
    root, lm = local_backbones
    cfg = small_config(vision={"pretrained_path": str(root / "siglip"), "config": {}},
                       lm={"pretrained_path": str(root / "llama"), "config": {}}, text_tokenizer="lm")
    model = VLA.from_config(cfg).eval()
    torch.testing.assert_close(model.lm.get_input_embeddings().weight, lm.get_input_embeddings().weight)
    tokenizer = load_text_tokenizer_for(cfg)
    assert len(tokenizer) == 1024
    save_pretrained(model, tmp_path / "ckpt", _normalizer(), tokenizer)
    (root / "llama").rename(root / "llama.away")  # the checkpoint must not need the source folders
    try:
        loaded, _, _ = load_pretrained(tmp_path / "ckpt")
    finally:
        (root / "llama.away").rename(root / "llama")
    assert loaded.cfg.lm.pretrained_path is None and loaded.cfg.vision.pretrained_path is None
    batch = cfg.fake_batch(2)
    assert torch.equal(loaded.predict_action_ids(batch), model.predict_action_ids(batch))


def test_pretrained_tower_of_another_resolution_is_refused(local_backbones):
    root, _ = local_backbones
    cfg = small_config(image_size=64, vision={"pretrained_path": str(root / "siglip"), "config": {}})
    with pytest.raises(ValueError, match="image_size=32"):
        VLA.from_config(cfg)


def test_missing_lm_folder_is_named(tmp_path):
    cfg = small_config(lm={"pretrained_path": str(tmp_path / "nope"), "config": {}})
    with pytest.raises(FileNotFoundError, match="nope"):
        VLA.from_config(cfg)


@pytest.mark.slow
def test_smollm2_gguf_checkpoint_round_trip(tmp_path):
    cfg = load_model_config("smollm2")
    model = VLA.from_config(cfg).eval()
    assert model.action_tokenizer.token_offset == 49152 - 256
    tokenizer = load_text_tokenizer_for(cfg)
    assert len(tokenizer) == 49152
    save_pretrained(model, tmp_path / "ckpt", _normalizer(), tokenizer)
    loaded, _, toks = load_pretrained(tmp_path / "ckpt")
    batch = cfg.fake_batch(1)
    assert torch.equal(loaded.predict_action_ids(batch), model.predict_action_ids(batch))
    assert toks.text("pick up the cup")["input_ids"] == tokenizer("pick up the cup")["input_ids"]
