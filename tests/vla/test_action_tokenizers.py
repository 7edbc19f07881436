"""Action tokenizers: round trips, edges, the vocabulary contract, strict decoding, save/load, registry."""

import numpy as np
import pytest

from vla.actions import (
    ALL_ACTION_TOKENIZERS,
    ActionDecodeError,
    ActionTokenizer,
    BinActionTokenizer,
    FastActionTokenizer,
    build_action_tokenizer,
    load_action_tokenizer,
)

H, A = 8, 7


def smooth_chunks(n: int, seed: int = 0) -> np.ndarray:
    """Sinusoid chunks (n, H, A) in [-1, 1]: the smooth trajectories FAST is designed for."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, H)[None, :, None]  # (1, H, 1)
    freq = rng.uniform(0.1, 1.0, (n, 1, A))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1, A))
    amp = rng.uniform(0.1, 1.0, (n, 1, A))
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)  # (n, H, A)


@pytest.fixture(scope="module")
def fast() -> FastActionTokenizer:
    return FastActionTokenizer(A, H, token_offset=500, bpe_vocab_size=256).fit(smooth_chunks(400))


# ---- bins --------------------------------------------------------------------------------------------
def test_bins_round_trip_within_half_a_bin():
    tok = BinActionTokenizer(A, H, n_bins=256, token_offset=1000)
    a = np.random.default_rng(1).uniform(-1, 1, (H, A))
    ids = tok.encode(a)
    assert ids.dtype == np.int64 and ids.shape == (H * A,) == (tok.num_tokens,)
    assert ids.min() >= 1000 and ids.max() < 1256
    back = tok.decode(ids)
    assert back.dtype == np.float32 and back.shape == (H, A)
    assert np.abs(back - a).max() <= 1 / 256 + 1e-6


def test_bins_edges_and_clipping():
    tok = BinActionTokenizer(2, 1, n_bins=256, token_offset=0)
    assert tok.encode(np.array([[-1.0, 1.0]])).tolist() == [0, 255]
    assert tok.encode(np.array([[-7.0, 3.5]])).tolist() == [0, 255]  # beyond range: clipped to the end bins
    assert tok.encode(np.array([[0.0, -1e-9]])).tolist() == [128, 127]
    np.testing.assert_allclose(tok.decode(np.array([0, 255])), [[-1 + 1 / 256, 1 - 1 / 256]], atol=1e-7)


def test_bins_layout_is_time_major():
    tok = BinActionTokenizer(2, 2, n_bins=4, token_offset=10)
    a = np.array([[-1.0, -0.4], [0.1, 0.9]])  # bins 0,1 / 2,3
    assert tok.encode(a).tolist() == [10, 11, 12, 13]


def test_bins_invalid_ids_raise_or_mask():
    tok = BinActionTokenizer(A, H, token_offset=100)
    ids = tok.encode(np.zeros((H, A)))
    bad = ids.copy()
    bad[5] = 99  # just below the block
    with pytest.raises(ActionDecodeError, match="id 99 at position 5"):
        tok.decode(bad)
    bad[5] = 356  # just past the block
    with pytest.raises(ActionDecodeError, match="356"):
        tok.decode(bad)
    with pytest.raises(ActionDecodeError, match="expected 56"):
        tok.decode(ids[:-1])
    with pytest.raises(ActionDecodeError, match="1-D"):
        tok.decode(ids.reshape(H, A))
    acts, valid = tok.decode_masked(bad)
    assert not valid.reshape(-1)[5] and valid.sum() == H * A - 1
    assert np.isnan(acts.reshape(-1)[5]) and np.isfinite(acts.reshape(-1)[valid.reshape(-1)]).all()


def test_bins_rejects_nan_and_wrong_shape():
    tok = BinActionTokenizer(A, H, token_offset=0)
    a = np.zeros((H, A))
    a[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"non-finite value nan at \(t, dim\)=\(2, 3\)"):
        tok.encode(a)
    with pytest.raises(ValueError, match="shape"):
        tok.encode(np.zeros((H, A + 1)))
    with pytest.raises(ValueError, match="token_offset"):
        BinActionTokenizer(A, H, token_offset=-1)


def test_check_vocab_names_the_ids():
    tok = BinActionTokenizer(A, H, token_offset=768)
    tok.check_vocab(1024, special_ids=[0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"\[768, 1024\) do not fit a vocabulary of 1000"):
        tok.check_vocab(1000)
    with pytest.raises(ValueError, match=r"special token ids \[1000\]"):
        tok.check_vocab(1024, special_ids=[2, 1000])


# ---- FAST --------------------------------------------------------------------------------------------
def test_fast_round_trip_bounded_and_compresses(fast):
    chunks = smooth_chunks(50, seed=7)  # unseen in fit
    bound = np.sqrt(H) * 0.5 / fast.scale  # the rounding bound from the module doc
    lengths = []
    for chunk in chunks:
        ids = fast.encode(chunk)
        assert ids.dtype == np.int64 and ids.min() >= 500 and ids.max() < 500 + 256
        lengths.append(ids.size)
        back = fast.decode(ids)
        assert back.shape == (H, A) and back.dtype == np.float32
        assert np.abs(back - chunk).max() <= bound
    assert fast.num_tokens is None and max(lengths) <= fast.max_tokens
    assert np.mean(lengths) < 0.7 * H * A  # BPE merges smooth-chunk coefficients


def test_fast_encodes_unseen_extremes(fast):
    for chunk in (np.ones((H, A)), -np.ones((H, A)), np.random.default_rng(3).choice([-1.0, 1.0], (H, A))):
        back = fast.decode(fast.encode(chunk))
        assert np.abs(back - chunk).max() <= np.sqrt(H) * 0.5 / fast.scale


def test_fast_invalid_sequences_raise(fast):
    ids = fast.encode(smooth_chunks(1, seed=9)[0])
    with pytest.raises(ActionDecodeError, match="not an action token"):
        fast.decode(np.append(ids, 499))
    with pytest.raises(ActionDecodeError, match="expected horizon\\*action_dim=56"):
        fast.decode(ids[:-1] if ids.size > 1 else np.append(ids, ids))
    with pytest.raises(ActionDecodeError, match="empty"):
        fast.decode(np.array([], dtype=np.int64))
    top = int(fast.valid_ids()[-1])
    if top + 1 < 500 + fast.vocab_size:  # reserved but unused by the trained BPE
        with pytest.raises(ActionDecodeError, match=str(top + 1)):
            fast.decode(np.append(ids, top + 1))


def test_fast_needs_fit_and_checks_inputs():
    raw = FastActionTokenizer(A, H, token_offset=0, bpe_vocab_size=256)
    with pytest.raises(RuntimeError, match="not fitted"):
        raw.encode(np.zeros((H, A)))
    with pytest.raises(ValueError, match="chunks must have shape"):
        raw.fit(np.zeros((10, H, A + 1)))
    with pytest.raises(ValueError, match="smaller than the alphabet"):
        FastActionTokenizer(A, H, token_offset=0, bpe_vocab_size=16)


def test_fast_save_load_identical(fast, tmp_path):
    fast.save(tmp_path)
    again = load_action_tokenizer(tmp_path)
    assert isinstance(again, FastActionTokenizer)
    for chunk in smooth_chunks(20, seed=11):
        assert np.array_equal(again.encode(chunk), fast.encode(chunk))
    assert np.array_equal(again.valid_ids(), fast.valid_ids())


def test_fast_fit_is_deterministic():
    chunks = smooth_chunks(200, seed=5)
    a = FastActionTokenizer(A, H, token_offset=0, bpe_vocab_size=256).fit(chunks)
    b = FastActionTokenizer(A, H, token_offset=0, bpe_vocab_size=256).fit(chunks)
    assert all(np.array_equal(a.encode(c), b.encode(c)) for c in chunks[:20])


# ---- registry and protocol ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ALL_ACTION_TOKENIZERS))
def test_every_registered_tokenizer_keeps_the_contract(name, tmp_path):
    tok = build_action_tokenizer(name, action_dim=A, horizon=H, token_offset=300)
    if name == "fast":
        tok = tok.fit(smooth_chunks(100))
    assert isinstance(tok, ActionTokenizer)
    valid = tok.valid_ids()
    assert valid.dtype == np.int64 and valid[0] == 300 and valid.size <= tok.vocab_size
    chunk = smooth_chunks(1, seed=2)[0]
    ids = tok.encode(chunk)
    assert np.isin(ids, valid).all()
    assert np.abs(tok.decode(ids) - chunk).max() < 0.2
    tok.save(tmp_path)
    assert np.array_equal(load_action_tokenizer(tmp_path).encode(chunk), ids)


def test_registry_errors(tmp_path):
    with pytest.raises(KeyError, match="unknown action tokenizer 'nope'"):
        build_action_tokenizer("nope")
    with pytest.raises(FileNotFoundError, match="action_tokenizer.json"):
        load_action_tokenizer(tmp_path)
    BinActionTokenizer(A, H, token_offset=0).save(tmp_path)
    with pytest.raises(ValueError, match="holds a 'bins' tokenizer, expected 'fast'"):
        FastActionTokenizer.load(tmp_path)
