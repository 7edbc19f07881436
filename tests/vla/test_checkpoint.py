"""Checkpoints: save -> load gives identical outputs; missing files and mismatched stats fail loudly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from model_helpers import small_config
from vla.checkpoint import REQUIRED_FILES, load_pretrained, save_pretrained, write_pretrained
from vla.model import VLA, load_text_tokenizer_for
from vla.normalize import Normalizer, NormStats


def _normalizer(state_dim: int = 14, action_dim: int = 7) -> Normalizer:
    rng = np.random.default_rng(0)
    return Normalizer({"observation.state": NormStats.from_array(rng.normal(size=(50, state_dim))),
                       "action": NormStats.from_array(rng.normal(size=(50, action_dim)))})


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    cfg = small_config(decoding="autoregressive")
    model = VLA.from_config(cfg).eval()
    path = tmp_path_factory.mktemp("ckpt") / "run"
    save_pretrained(model, path, _normalizer(), load_text_tokenizer_for(cfg))
    return cfg, model, path


def test_save_load_gives_identical_outputs(saved):
    cfg, model, path = saved
    loaded, normalizer, tokenizers = load_pretrained(path)
    batch = cfg.fake_batch(2)
    torch.testing.assert_close(loaded(batch).logits, model(batch).logits, rtol=0, atol=0)
    assert torch.equal(loaded.predict_action_ids(batch), model.predict_action_ids(batch))
    assert normalizer.stats["action"].dim == 7
    assert tokenizers.action.token_offset == model.action_tokenizer.token_offset
    assert tokenizers.text("pick up the cup")["input_ids"] == load_text_tokenizer_for(cfg)("pick up the cup")["input_ids"]


def test_checkpoint_layout_and_no_pickles(saved):
    _, _, path = saved
    for name in REQUIRED_FILES:
        assert (path / name).is_file(), name
    config = json.loads((path / "config.json").read_text())
    assert config["lm"]["config"]["model_type"] == "llama" and config["lm"]["pretrained_path"] is None
    assert not list(path.rglob("*.bin")) and not list(path.rglob("*.pt")) and not list(path.rglob("*.pkl"))


@pytest.mark.parametrize("missing", REQUIRED_FILES)
def test_missing_file_is_named(saved, tmp_path, missing):
    import shutil

    _, _, path = saved
    copy = tmp_path / "ckpt"
    shutil.copytree(path, copy)
    (copy / missing).unlink()
    with pytest.raises(FileNotFoundError, match=missing.split("/")[-1]):
        load_pretrained(copy)


def test_norm_stats_without_the_state_key_are_refused(saved, tmp_path):
    import shutil

    _, _, path = saved
    copy = tmp_path / "ckpt"
    shutil.copytree(path, copy)
    data = json.loads((copy / "norm_stats.json").read_text())
    data["stats"]["observation.joints"] = data["stats"].pop("observation.state")
    (copy / "norm_stats.json").write_text(json.dumps(data))
    with pytest.raises(KeyError, match="observation.state"):
        load_pretrained(copy)


def test_save_refuses_stats_of_the_wrong_dimension(tmp_path):
    cfg = small_config()
    model = VLA.from_config(cfg)
    with pytest.raises(ValueError, match="'action' have 6 dims"):
        save_pretrained(model, tmp_path / "bad", _normalizer(action_dim=6), load_text_tokenizer_for(cfg))
    assert not (tmp_path / "bad").exists()  # nothing half-written


def test_trust_remote_code_stays_off_unless_asked(saved, tmp_path):
    import shutil

    _, _, path = saved
    copy = tmp_path / "ckpt"
    shutil.copytree(path, copy)
    data = json.loads((copy / "config.json").read_text())
    data["trust_remote_code"] = True
    (copy / "config.json").write_text(json.dumps(data))
    model, _, _ = load_pretrained(copy)
    assert model.cfg.trust_remote_code is False


def test_extra_hook_and_overwrite_are_atomic(saved, tmp_path):
    cfg, model, _ = saved
    target = tmp_path / "ckpt"
    tokenizer = load_text_tokenizer_for(cfg)

    def add_train_state(tmp):
        (tmp / "train_state").mkdir()
        (tmp / "train_state" / "step.json").write_text('{"step": 3}')

    save_pretrained(model, target, _normalizer(), tokenizer, extra=add_train_state)
    assert (target / "train_state" / "step.json").is_file()

    def crash(tmp):
        raise RuntimeError("killed mid-save")

    with pytest.raises(RuntimeError):
        save_pretrained(model, target, _normalizer(), tokenizer, extra=crash)
    assert (target / "train_state" / "step.json").is_file()  # the old checkpoint survives
    write_pretrained(tmp_path, model, _normalizer(), tokenizer)  # the hook for callers' own atomic commit
    assert (tmp_path / "model.safetensors").is_file()
