"""VLAPolicy: a checkpoint behind the Policy protocol; batched inference; bad input is refused."""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest
import torch

from policies.base import Policy, check_chunk
from policies.registry import make_policy
from policies.vla import VLAPolicy
from vla.checkpoint import save_pretrained
from vla.model import VLA, load_model_config, load_text_tokenizer_for
from vla.normalize import Normalizer, NormStats

SMALL = {"image_size": 32, "horizon": 2,
         "vision": {"config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                               "num_attention_heads": 2, "patch_size": 8}},
         "projector": {"type": "resampler", "num_queries": 4, "num_heads": 2},
         "lm": {"config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                           "num_attention_heads": 4, "num_key_value_heads": 2}}}
ACTION_LOW, ACTION_HIGH = -0.05, 0.05


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    cfg = load_model_config("tiny", **SMALL)
    model = VLA.from_config(cfg)
    rng = np.random.default_rng(0)
    actions = rng.uniform(ACTION_LOW, ACTION_HIGH, size=(200, 7))
    norm = Normalizer({"observation.state": NormStats.from_array(rng.normal(size=(200, 14))),
                       "action": NormStats.from_array(actions)})
    path = tmp_path_factory.mktemp("vla") / "ckpt"
    save_pretrained(model, path, norm, load_text_tokenizer_for(cfg))
    return path


@pytest.fixture(scope="module")
def policy(checkpoint):
    return VLAPolicy.from_pretrained(checkpoint)


def _obs(seed: int = 0, size: int = 32, instruction: str = "pick up the red block") -> dict:
    rng = np.random.default_rng(seed)
    return {"images": {cam: rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for cam in ("front", "wrist")},
            "state": rng.normal(size=14).astype(np.float32), "instruction": instruction}


def test_predicts_a_chunk_in_env_units(policy):
    assert isinstance(policy, Policy)
    policy.reset("pick up the red block")
    chunk = policy.predict_action_chunk(_obs())
    assert chunk.shape == (2, 7) and chunk.dtype == np.float32
    check_chunk(chunk, 7)
    assert np.all(chunk >= ACTION_LOW - 0.01) and np.all(chunk <= ACTION_HIGH + 0.01)  # within [q01, q99]


def test_batch_matches_single_observations(policy):
    observations = [_obs(0), _obs(1, instruction="push the blue cube to the left"), _obs(2)]
    batched = policy.predict_action_chunk_batch(observations)
    assert len(batched) == 3
    for obs, chunk in zip(observations, batched):
        np.testing.assert_array_equal(chunk, policy.predict_action_chunk(obs))


def test_instruction_comes_from_reset_when_obs_has_none(policy):
    obs = _obs()
    del obs["instruction"]
    fresh = VLAPolicy(policy.model, policy.inputs[2].normalizer, policy.inputs[3].text_tokenizer)
    with pytest.raises(ValueError, match="instruction"):
        fresh.predict_action_chunk(obs)
    fresh.reset("pick up the red block")
    np.testing.assert_array_equal(fresh.predict_action_chunk(obs), policy.predict_action_chunk(_obs()))


@pytest.mark.parametrize("breakage,match", [
    (lambda o: o["images"].update(front=o["images"]["front"].astype(np.float32)), "uint8"),
    (lambda o: o["state"].__setitem__(3, np.nan), "non-finite"),
    (lambda o: o["state"].__setitem__(0, np.inf), "non-finite"),
    (lambda o: o["images"].update(top=o["images"]["front"]), "top"),
    (lambda o: o["images"].pop("wrist"), "wrist"),
    (lambda o: o.update(state=np.zeros(5, np.float32)), "state"),
])
def test_bad_input_is_refused(policy, breakage, match):
    obs = _obs()
    breakage(obs)
    with pytest.raises(ValueError, match=match):
        policy.predict_action_chunk(obs)


def test_other_image_sizes_are_resized_with_one_warning(checkpoint):
    policy = VLAPolicy.from_pretrained(checkpoint)
    with pytest.warns(UserWarning, match="resizing"):
        chunk = policy.predict_action_chunk(_obs(size=48))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert policy.predict_action_chunk(_obs(size=48)).shape == chunk.shape


def test_int8_and_bfloat16_variants_run(checkpoint):
    int8 = VLAPolicy.from_pretrained(checkpoint, quantize="int8")
    quantized = torch.ao.nn.quantized.dynamic.Linear
    assert sum(isinstance(m, quantized) for m in int8.model.modules()) > 10
    assert not isinstance(int8.model.lm.get_output_embeddings(), quantized)  # the action head reads its rows
    check_chunk(int8.predict_action_chunk(_obs()), 7)
    bf16 = VLAPolicy.from_pretrained(checkpoint, dtype="bfloat16")
    assert bf16.model.dtype == torch.bfloat16
    check_chunk(bf16.predict_action_chunk(_obs()), 7)
    with pytest.raises(ValueError, match="quantize"):
        VLAPolicy.from_pretrained(checkpoint, quantize="int4")
    with pytest.raises(ValueError, match="float32"):
        VLAPolicy.from_pretrained(checkpoint, quantize="int8", dtype="bfloat16")
    with pytest.raises(ValueError, match="float8"):
        VLAPolicy.from_pretrained(checkpoint, dtype="float8")


def test_registry_builds_it_and_checks_the_action_space(checkpoint):
    env = types.SimpleNamespace(action_space=types.SimpleNamespace(shape=(7,)))
    policy = make_policy("vla", env, "pick", checkpoint=str(checkpoint))
    assert isinstance(policy, VLAPolicy)
    wrong = types.SimpleNamespace(action_space=types.SimpleNamespace(shape=(4,)))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        make_policy("vla", wrong, "pick", checkpoint=str(checkpoint))
