"""Transforms: both sample formats, validation errors, no input mutation, and the input/output mirror."""

import copy

import numpy as np
import pytest

from vla.actions import ActionDecodeError, BinActionTokenizer, FastActionTokenizer
from vla.normalize import NormStats, Normalizer
from vla.text_tokenizer import TINY_ACTION_TOKENS, action_token_offset, load_text_tokenizer
from vla.transforms import (
    NormalizeInputs,
    RepackInputs,
    apply,
    make_input_transforms,
    make_output_transforms,
)

T, A, S = 4, 7, 8
CAMS = ("front", "wrist")


@pytest.fixture(scope="module")
def text_tok():
    return load_text_tokenizer()


@pytest.fixture(scope="module")
def normalizer():
    rng = np.random.default_rng(0)
    actions = rng.normal(size=(5000, A)) * 0.02
    state = rng.normal(size=(5000, S)) + 3.0
    return Normalizer({"action": NormStats.from_array(actions), "observation.state": NormStats.from_array(state)})


@pytest.fixture(scope="module")
def bins(text_tok):
    return BinActionTokenizer(A, T, token_offset=action_token_offset(text_tok, TINY_ACTION_TOKENS))


def dataset_sample(seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    sample = {f"observation.images.{c}": rng.integers(0, 255, (32, 40, 3), dtype=np.uint8) for c in CAMS}
    sample.update({"observation.state": rng.normal(size=S) + 3.0, "action": rng.normal(size=(T, A)) * 0.01,
                   "task": "Pick up the red block.", "timestamp": 0.1, "episode_index": 3})
    return sample


def env_obs(sample: dict) -> dict:
    return {"images": {c: sample[f"observation.images.{c}"] for c in CAMS}, "state": sample["observation.state"],
            "instruction": sample["task"]}


def inputs(normalizer, text_tok, action_tok, **kw):
    return make_input_transforms(cameras=CAMS, normalizer=normalizer, text_tokenizer=text_tok,
                                 action_tokenizer=action_tok, state_dim=S, **kw)


def test_training_sample_has_the_contract_keys(normalizer, text_tok, bins):
    sample = dataset_sample()
    before = copy.deepcopy(sample)
    out = apply(inputs(normalizer, text_tok, bins), sample)
    assert set(out) == {"images", "state", "prompt_ids", "action_ids", "actions"}
    assert set(out["images"]) == set(CAMS) and out["images"]["front"].dtype == np.uint8
    assert out["state"].dtype == np.float32 and out["state"].shape == (S,) and abs(out["state"]).max() < 5
    assert out["actions"].dtype == np.float32 and out["actions"].shape == (T, A) and abs(out["actions"]).max() <= 1
    assert out["prompt_ids"].dtype == np.int64 and out["action_ids"].dtype == np.int64
    assert out["action_ids"].shape == (T * A,) and np.isin(out["action_ids"], bins.valid_ids()).all()
    for key, value in before.items():  # steps return new dicts; the input is untouched
        assert np.array_equal(sample[key], value) if isinstance(value, np.ndarray) else sample[key] == value


def test_inference_uses_the_same_list_and_matches_training(normalizer, text_tok, bins):
    steps = inputs(normalizer, text_tok, bins)
    sample = dataset_sample()
    train = apply(steps, sample)
    infer = apply(steps, env_obs(sample))
    assert set(infer) == {"images", "state", "prompt_ids"}
    np.testing.assert_array_equal(infer["prompt_ids"], train["prompt_ids"])
    np.testing.assert_array_equal(infer["state"], train["state"])


@pytest.mark.parametrize("kind", ["bins", "fast"])
def test_outputs_mirror_inputs(normalizer, text_tok, bins, kind):
    tok = bins
    if kind == "fast":
        rng = np.random.default_rng(4)
        chunks = normalizer.normalize("action", rng.normal(size=(300, T, A)) * 0.01)
        tok = FastActionTokenizer(A, T, token_offset=bins.token_offset, bpe_vocab_size=256).fit(chunks)
    sample = dataset_sample(seed=2)
    model_in = apply(inputs(normalizer, text_tok, tok), sample)
    env_out = apply(make_output_transforms(action_tokenizer=tok, normalizer=normalizer, action_dim=A),
                    {"action_ids": model_in["action_ids"]})
    assert set(env_out) == {"actions"} and env_out["actions"].shape == (T, A) and env_out["actions"].dtype == np.float32
    st = normalizer.stats["action"]
    half_range = (st.q99 - st.q01) / 2
    err = np.abs(env_out["actions"] - np.clip(sample["action"], st.q01, st.q99))
    tol = 1 / 256 if kind == "bins" else np.sqrt(T) * 0.5 / tok.scale
    assert (err <= tol * half_range + 1e-6).all()


def test_outputs_refuse_bad_ids(normalizer, bins):
    steps = make_output_transforms(action_tokenizer=bins, normalizer=normalizer, action_dim=A)
    with pytest.raises(ActionDecodeError, match="not an action token"):
        apply(steps, {"action_ids": np.arange(T * A)})


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda s: s.update({"observation.images.side": s["observation.images.front"]}),
         r"unknown camera\(s\) \['side'\]"),
        (lambda s: s.pop("observation.images.wrist"), r"missing camera\(s\) \['wrist'\]"),
        (lambda s: s.update({"observation.images.front": np.zeros((32, 40, 3), np.float32)}), "'front' must be uint8"),
        (lambda s: s.update({"observation.images.front": np.zeros((3, 32, 40), np.uint8)}),
         r"'front' must have shape \(H, W, 3\)"),
        (lambda s: s["observation.state"].__setitem__(2, np.nan), r"state has a non-finite value nan at index \(2,\)"),
        (lambda s: s.update({"observation.state": np.zeros(S + 1)}), "state must have 8 dims, got 9"),
        (lambda s: s["action"].__setitem__((1, 2), np.inf), r"actions has a non-finite value inf at index \(1, 2\)"),
        (lambda s: s.update({"action": np.zeros((T + 1, A))}), r"actions must have shape \(4, 7\)"),
        (lambda s: s.pop("task"), "sample has no instruction"),
        (lambda s: s.update({"task": "  "}), "instruction is empty"),
    ],
)
def test_validation_names_the_bad_key(normalizer, text_tok, bins, edit, match):
    sample = dataset_sample()
    edit(sample)
    with pytest.raises(ValueError, match=match):
        apply(inputs(normalizer, text_tok, bins), sample)


def test_image_shape_check_and_unknown_format(normalizer, text_tok, bins):
    with pytest.raises(ValueError, match=r"'front' must be \(64, 64\) \(H, W\), got \(32, 40\)"):
        apply(inputs(normalizer, text_tok, bins, image_shape=(64, 64)), dataset_sample())
    with pytest.raises(ValueError, match="neither 'images' nor"):
        RepackInputs()({"state": np.zeros(S)})


def test_missing_stats_are_an_error_not_a_no_op(bins):
    only_actions = Normalizer({"action": NormStats(q01=np.full(A, -1.0), q99=np.ones(A))})
    with pytest.raises(KeyError, match="observation.state"):
        NormalizeInputs(only_actions)({"state": np.zeros(S, np.float32), "images": {}, "instruction": "x"})
