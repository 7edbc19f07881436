"""The conv vision tower: config checks, token grid and positions, and a VLA built on it trains and reloads."""

from __future__ import annotations

import pytest
import torch

from vla.model.config import VisionConfig
from vla.model.conv_vision import ConvVisionConfig, ConvVisionModel
from vla.model.vision import build_vision_tower

from tests.vla.model_helpers import small_config

from tests.vla.model_helpers import SMALL_LM

SMALL_LM_WIDTH = SMALL_LM["hidden_size"]
SMALL_CONV = {"channels": [8, 16], "hidden_size": 16, "patch_size": 4, "groups": 4}


def test_tower_gives_one_token_per_grid_cell():
    tower = build_vision_tower(VisionConfig(type="conv", config=SMALL_CONV), image_size=32)
    images = torch.randint(0, 256, (3, 32, 32, 3), dtype=torch.uint8)
    feats = tower(images)
    assert tower.num_patches == 64 and tower.hidden_size == 16
    assert feats.shape == (3, 64, 16)
    assert torch.isfinite(feats).all()


def test_tokens_say_where_a_blob_is():
    """The same blob in two places gives different tokens where it is, so position survives the tower."""
    torch.manual_seed(0)
    model = ConvVisionModel(ConvVisionConfig(image_size=16, **SMALL_CONV)).eval()
    a = torch.zeros(1, 3, 16, 16)
    b = torch.zeros(1, 3, 16, 16)
    a[..., 1:3, 1:3] = 1.0  # top-left cell
    b[..., 13:15, 13:15] = 1.0  # bottom-right cell
    ta, tb = model(pixel_values=a).last_hidden_state[0], model(pixel_values=b).last_hidden_state[0]  # (16, D)
    assert not torch.allclose(ta[0], tb[0]) and not torch.allclose(ta[-1], tb[-1])


@pytest.mark.parametrize("bad, match", [
    ({"patch_size": 8}, "2\\*\\*len"),
    ({"channels": []}, "at least one"),
    ({"channels": [8, 10]}, "multiples of groups"),
    ({"image_size": 30}, "not a multiple"),
    ({"hidden_size": 0}, "hidden_size"),
])
def test_config_rejects_bad_values(bad, match):
    with pytest.raises(ValueError, match=match):
        ConvVisionConfig(**{"image_size": 32, **SMALL_CONV, **bad})


def test_wrong_image_size_raises():
    model = ConvVisionModel(ConvVisionConfig(image_size=32, **SMALL_CONV))
    with pytest.raises(ValueError, match="32x32"):
        model(pixel_values=torch.zeros(1, 3, 16, 16))


def test_pretrained_path_is_refused():
    with pytest.raises(ValueError, match="trained from scratch"):
        build_vision_tower(VisionConfig(type="conv", pretrained_path="/nowhere"), image_size=32)


def test_vla_with_conv_tower_learns_and_round_trips(tmp_path):
    from vla.checkpoint import load_pretrained, write_pretrained
    from vla.model import VLA
    from vla.model.tokens import load_text_tokenizer_for
    from vla.normalize import Normalizer, stats_from_dict

    cfg = small_config(projector={"type": "mlp"}, cameras=["front", "wrist"])
    cfg.vision = VisionConfig(type="conv", config=SMALL_CONV)  # replaces tiny's SigLIP fields, not merged
    torch.manual_seed(0)
    model = VLA.from_config(cfg)
    assert model.prefix_soft_tokens == 2 * 64 + cfg.num_state_tokens
    batch = cfg.fake_batch(4)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = model(batch).loss.item()
    for _ in range(15):
        loss = model(batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert loss.item() < first * 0.7
    stats = {k: {"min": [-1.0] * d, "max": [1.0] * d, "mean": [0.0] * d, "std": [1.0] * d, "q01": [-1.0] * d,
                 "q99": [1.0] * d, "count": [10]}
             for k, d in (("observation.state", cfg.state_dim), ("action", cfg.action_dim))}
    write_pretrained(tmp_path / "ckpt", model, Normalizer(stats_from_dict(stats)), load_text_tokenizer_for(cfg),
                     model.action_tokenizer)
    loaded, _, _ = load_pretrained(tmp_path / "ckpt")
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.predict_action_ids(batch), model.predict_action_ids(batch))


def test_random_shift_only_in_training():
    torch.manual_seed(0)
    model = ConvVisionModel(ConvVisionConfig(image_size=16, shift=2, **SMALL_CONV))
    pixels = torch.rand(4, 3, 16, 16)
    model.eval()
    first = model(pixel_values=pixels).last_hidden_state
    assert torch.equal(first, model(pixel_values=pixels).last_hidden_state)  # eval: deterministic
    model.train()
    assert not torch.equal(model(pixel_values=pixels).last_hidden_state, model(pixel_values=pixels).last_hidden_state)


def test_random_shift_moves_content_within_pad():
    from vla.model.conv_vision import random_shift

    pixels = torch.zeros(8, 1, 12, 12)
    pixels[:, :, 6, 6] = 1.0
    shifted = random_shift(pixels, 2)
    assert shifted.shape == pixels.shape
    rows, cols = torch.nonzero(shifted[:, 0] == 1.0)[:, 1], torch.nonzero(shifted[:, 0] == 1.0)[:, 2]
    assert ((rows - 6).abs() <= 2).all() and ((cols - 6).abs() <= 2).all() and len(rows) == 8


def test_film_tower_needs_and_uses_the_condition():
    torch.manual_seed(0)
    model = ConvVisionModel(ConvVisionConfig(image_size=16, film_dim=6, **SMALL_CONV)).eval()
    pixels = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match="FiLM"):
        model(pixel_values=pixels)
    with torch.no_grad():
        for layer in model.film:  # FiLM starts as the identity; give it weights so the text matters
            layer.weight.normal_()
        a = model(pixel_values=pixels, condition=torch.zeros(2, 6)).last_hidden_state
        b = model(pixel_values=pixels, condition=torch.ones(2, 6)).last_hidden_state
    assert not torch.allclose(a, b)


def test_vla_with_film_tower_depends_on_the_prompt():
    from vla.model import VLA

    cfg = small_config(projector={"type": "mlp"}, decoding="parallel")
    cfg.vision = VisionConfig(type="conv", config={**SMALL_CONV, "film_dim": SMALL_LM_WIDTH})
    torch.manual_seed(0)
    model = VLA.from_config(cfg)
    for layer in model.vision.model.film:
        torch.nn.init.normal_(layer.weight)
    batch = cfg.fake_batch(2)
    other = {**batch, "prompt_ids": batch["prompt_ids"].roll(1, dims=1)}
    model.eval()
    with torch.no_grad():
        feats = [model.embed_prefix(b)[0][:, : model.prefix_soft_tokens] for b in (batch, other)]
    assert not torch.allclose(feats[0], feats[1])


def test_readout_gives_the_configured_token_count():
    tower = build_vision_tower(VisionConfig(type="conv", config={**SMALL_CONV, "readout_tokens": 3}), image_size=32)
    feats = tower(torch.randint(0, 256, (2, 32, 32, 3), dtype=torch.uint8))
    assert tower.num_patches == 3 and feats.shape == (2, 3, 16)


def test_prompt_pool_starts_as_a_mean_and_learns_to_weigh_words():
    """The FiLM text vector: a masked mean of layer-normed token embeddings while the query is 0 (then
    standardized: over the batch in training, by running statistics in eval); with the query along one
    token's normed embedding that token dominates; padding never counts; the query trains."""
    import torch.nn.functional as F

    from vla.model import VLA

    cfg = small_config(projector={"type": "mlp"}, decoding="parallel")
    cfg.vision = VisionConfig(type="conv", config={**SMALL_CONV, "film_dim": SMALL_LM_WIDTH})
    torch.manual_seed(0)
    model = VLA.from_config(cfg)
    text = torch.randn(2, 5, SMALL_LM_WIDTH)
    mask = torch.tensor([[0, 1, 1, 1, 1], [0, 0, 0, 1, 1]], dtype=torch.bool)  # left padding
    normed = F.layer_norm(text, (SMALL_LM_WIDTH,))
    model.eval()  # running statistics start at mean 0, variance 1: the pool itself
    pooled = model.pool_prompt(text, mask)
    eps = model.film_norm.eps
    torch.testing.assert_close(pooled[1], normed[1, 3:].mean(0) / (1 + eps) ** 0.5)
    changed = text.clone()
    changed[:, 0] = 100.0  # padding positions never reach the pool
    torch.testing.assert_close(model.pool_prompt(changed, mask), pooled)
    with torch.no_grad():
        model.film_query.copy_(normed[0, 2] * 3)
    assert torch.nn.functional.cosine_similarity(model.pool_prompt(text, mask)[0], normed[0, 2], dim=0) > 0.99
    for layer in model.vision.model.film:  # zero-initialized FiLM passes no gradient to its input yet
        torch.nn.init.normal_(layer.weight)
    batch = cfg.fake_batch(2)
    model.train()
    model(batch).loss.backward()
    assert model.film_query.grad is not None and model.film_query.grad.abs().sum() > 0
    train_pool = model.pool_prompt(text, mask)  # training: standardized over the batch
    torch.testing.assert_close(train_pool.mean(0), torch.zeros(SMALL_LM_WIDTH), atol=1e-5, rtol=0)
    assert model.pool_prompt(text[:1], mask[:1]).shape == (1, SMALL_LM_WIDTH)  # a batch of one works too


def test_spatial_softmax_keypoints_find_a_peak():
    """A keypoint map peaked at one cell has its expected position there; keypoints need readout tokens."""
    cfg = ConvVisionConfig(**{**SMALL_CONV, "image_size": 16, "readout_tokens": 2, "keypoints": 3})
    model = ConvVisionModel(cfg)
    with torch.no_grad():
        model.keypoint_maps.weight.zero_()
        model.keypoint_maps.weight[:, 0] = 1.0  # every keypoint map = channel 0
        model.keypoint_maps.bias.zero_()
    maps = torch.zeros(1, 16, 4, 4)
    maps[0, 0, 3, 0] = 50.0  # bottom-left cell
    kp = model.spatial_softmax(maps)
    assert kp.shape == (1, 3, 2)
    torch.testing.assert_close(kp[0, 0], torch.tensor([-1.0, 1.0]), atol=1e-4, rtol=0)
    assert model(torch.randn(2, 3, 16, 16)).last_hidden_state.shape == (2, 2, 16)
    with pytest.raises(ValueError, match="keypoints must be >= 0 and need readout_tokens"):
        ConvVisionConfig(**{**SMALL_CONV, "keypoints": 4})
