"""Unit tests of the training pieces that need no VLA: config validation, schedule, data order,
train-state round trip, checkpoint directories, freezing and LoRA on a small module."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from vla.config import to_dataclass
from vla.train import checkpoints
from vla.train.config import LoraSettings, TrainConfig
from vla.train.finetune import (apply_lora, freeze_parts, has_lora, load_adapter, lora_base_state,
                                merged_copy, save_adapter)
from vla.train.order import BatchIndexStream, DataOrder, OrderState
from vla.train.schedule import WarmupCosine, make_scheduler
from vla.train.state import (capture_rng, gather_optimizer_state, load_optimizer_state, read_progress,
                             read_rng_state, read_scheduler_state, restore_rng, write_train_state)


class Toy(torch.nn.Module):
    """Two parts like the VLA's: a `projector` and an `lm` with attention-style linear names."""

    def __init__(self) -> None:
        super().__init__()
        self.projector = torch.nn.Linear(3, 8)
        self.lm = torch.nn.ModuleDict({"q_proj": torch.nn.Linear(8, 8), "o_proj": torch.nn.Linear(8, 2)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lm["o_proj"](torch.tanh(self.lm["q_proj"](self.projector(x))))


@pytest.mark.parametrize("override, field", [
    ({"steps": 0}, "train.steps"), ({"resume": "maybe"}, "train.resume"), ({"finetune": "half"}, "train.finetune"),
    ({"optim": {"lr": -1.0}}, "optim.lr"), ({"data": {"heldout_fraction": 1.0}}, "data.heldout_fraction"),
    ({"lora": {"rank": 0}}, "lora.rank"), ({"freeze": ["lm", "lm"]}, "train.freeze"),
    ({"finetune": "lora", "freeze": ["vision", "lm"]}, "train.freeze"),
])
def test_config_names_bad_field(override, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        to_dataclass(override, TrainConfig)


def test_config_resume_accepts_yaml_bool():
    assert to_dataclass({"resume": True}, TrainConfig).resume == "true"


def test_config_rejects_unknown_key():
    with pytest.raises(ValueError, match="stepz"):
        to_dataclass({"stepz": 3}, TrainConfig)


def test_warmup_cosine_shape():
    sched = WarmupCosine(warmup_steps=10, total_steps=110, min_ratio=0.1)
    assert sched(0) == pytest.approx(0.1) and sched(9) == pytest.approx(1.0)
    assert sched(10) == pytest.approx(1.0) and sched(60) == pytest.approx(0.55)
    assert sched(110) == pytest.approx(0.1) and sched(500) == pytest.approx(0.1)
    values = [sched(s) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_data_order_covers_epoch_and_shards_disjointly():
    order = DataOrder(num_samples=10, batch_size=2, seed=3, world_size=2)
    state, seen = OrderState(), []
    for _ in range(2):  # 2 global batches of 4 per epoch; the 2-frame tail is skipped
        for rank in range(2):
            idx, nxt = order.batch(state, rank)
            seen += idx
        state = nxt
    assert len(set(seen)) == 8 and state == OrderState(0, 8)
    idx, state = order.batch(state, 0)
    assert state == OrderState(1, 4) and idx == order.permutation(1)[:2].tolist()
    assert order.advance(OrderState(), 3) == state
    assert not np.array_equal(order.permutation(0), order.permutation(1))


def test_data_order_resumes_the_same_stream():
    order = DataOrder(num_samples=7, batch_size=3, seed=0)
    full = [b for b, _ in zip(BatchIndexStream(order, OrderState()), range(6))]
    resumed = [b for b, _ in zip(BatchIndexStream(order, order.advance(OrderState(), 4)), range(2))]
    assert resumed == full[4:]


def test_data_order_too_few_frames_names_sizes():
    with pytest.raises(ValueError, match="5 frames.*8"):
        DataOrder(num_samples=5, batch_size=4, seed=0, world_size=2)


def _train_steps(model, opt, sched, steps, seed):
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        x = torch.randn(4, 3, generator=gen)
        loss = torch.nn.functional.dropout(model(x), 0.2).pow(2).mean()  # dropout draws from the global RNG
        loss.backward()
        opt.step(), sched.step(), opt.zero_grad()
        losses.append(loss.item())
    return losses


def _fresh(seed=0):
    torch.manual_seed(seed)
    model = Toy()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.95))
    return model, opt, make_scheduler(opt, 2, 10, 0.1)


def test_train_state_round_trip_continues_exactly(tmp_path):
    model, opt, sched = _fresh()
    _train_steps(model, opt, sched, 3, seed=1)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    write_train_state(tmp_path, gather_optimizer_state(model, opt), sched.state_dict(), [capture_rng()],
                      {"step": 3, "order": OrderState(0, 12).to_dict()})
    expected = _train_steps(model, opt, sched, 3, seed=2)

    model2, opt2, sched2 = _fresh(seed=5)
    model2.load_state_dict(weights)
    load_optimizer_state(tmp_path, model2, opt2)
    sched2.load_state_dict(read_scheduler_state(tmp_path))
    restore_rng(read_rng_state(tmp_path, 0))
    assert _train_steps(model2, opt2, sched2, 3, seed=2) == expected
    assert read_progress(tmp_path)["order"] == {"epoch": 0, "position": 12}
    assert read_rng_state(tmp_path, 1) is None
    assert "exp_avg" not in (tmp_path / "train_state" / "optimizer.json").read_text()


def test_train_state_rejects_other_trainable_set(tmp_path):
    model, opt, sched = _fresh()
    _train_steps(model, opt, sched, 1, seed=1)
    write_train_state(tmp_path, gather_optimizer_state(model, opt), sched.state_dict(), [capture_rng()], {"step": 1})
    model2 = Toy()
    freeze_parts(model2, ["projector"])
    opt2 = torch.optim.AdamW([p for p in model2.parameters() if p.requires_grad])
    with pytest.raises(ValueError, match="projector.weight"):
        load_optimizer_state(tmp_path, model2, opt2)


def test_rng_capture_restore():
    state = capture_rng()
    a = (random.random(), np.random.rand(), torch.rand(2))
    json.dumps(state)  # JSON-safe
    restore_rng(state)
    b = (random.random(), np.random.rand(), torch.rand(2))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_checkpoints_commit_prune_and_last(tmp_path):
    for step in (10, 20, 30):
        checkpoints.commit_checkpoint(tmp_path, step, lambda d: (d / "x.txt").write_text("ok"), keep_last=2)
    (tmp_path / "checkpoints" / ".step_00000040.abc.tmp").mkdir()  # a killed save
    assert [s for s, _ in checkpoints.list_checkpoints(tmp_path)] == [20, 30]
    assert checkpoints.latest_checkpoint(tmp_path).name == "step_00000030"
    assert (tmp_path / "checkpoints" / "last" / "x.txt").read_text() == "ok"


def test_freeze_parts_and_unknown_part():
    model = Toy()
    frozen = freeze_parts(model, ["projector"])
    assert frozen == ["projector.weight", "projector.bias"]
    assert not model.projector.weight.requires_grad and model.lm["q_proj"].weight.requires_grad
    with pytest.raises(ValueError, match="'vision'.*\\['lm', 'projector'\\]"):
        freeze_parts(model, ["vision"])


def test_lora_merge_save_load(tmp_path):
    torch.manual_seed(0)
    settings = LoraSettings(rank=2, alpha=4.0, targets=["q_proj"])
    model = apply_lora(Toy(), settings)
    assert has_lora(model) and not model.lm["o_proj"].weight.requires_grad and model.projector.weight.requires_grad
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p)  # B starts at zero; make the adapter matter
    x = torch.randn(5, 3)
    out = model(x)
    merged = merged_copy(model)
    assert not has_lora(merged) and has_lora(model)
    torch.testing.assert_close(merged(x), out, atol=1e-5, rtol=1e-5)
    base = lora_base_state(model)
    assert set(base) == {"lm.q_proj.weight", "lm.q_proj.bias"}
    save_adapter(tmp_path, model, settings)

    restored = Toy()
    restored.load_state_dict(merged.state_dict())
    restored.load_state_dict(base, strict=False)
    load_adapter(restored, tmp_path / "adapter")
    assert torch.equal(restored(x), out)


def test_lora_targets_that_match_nothing():
    with pytest.raises(ValueError, match="match nothing.*q_proj"):
        apply_lora(Toy(), LoraSettings(targets=["nonexistent"]))
