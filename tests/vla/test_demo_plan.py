"""vla-demo's config, plan, estimate and stage runner (no simulator, no training: fast)."""

from __future__ import annotations

import dataclasses
import json
import sys

import pytest

from vla.config import to_dataclass
from vla.demo.config import DemoConfig, EvalStage, RecordStage, TrainStage
from vla.demo.estimate import DEFAULT_RATES, STARTUP_S, estimate
from vla.demo.plan import EVAL, RECORD, TRAIN, build_plan, hydra_value
from vla.demo.runner import is_finished, marker_path, run_subprocess, stage_environ


def _cfg(tmp_path, **kw) -> DemoConfig:
    return DemoConfig(out_dir=str(tmp_path / "demo"), **kw)


def _by_name(stages):
    return {s.name: s for s in stages}


def test_conf_demo_yaml_composes_into_the_schema():
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="vla_conf", version_base=None):
        full = to_dataclass(compose("demo"), DemoConfig)
        smoke = to_dataclass(compose("demo", overrides=["demo=smoke"]), DemoConfig)
    assert full.tasks[:3] == ["tabletop/touch", "tabletop/pick", "tabletop/push"]
    assert full.eval.policies == ["vla", "scripted", "random", "noop"]
    assert smoke.train.steps < full.train.steps and smoke.record.episodes < full.record.episodes


@pytest.mark.parametrize("make, field", [
    (lambda: RecordStage(episodes=0), "record.episodes"),
    (lambda: TrainStage(steps=0), "train.steps"),
    (lambda: TrainStage(overrides=["lr"]), "train.overrides"),
    (lambda: EvalStage(policies=["vla", "vla"]), "eval.policies"),
    (lambda: EvalStage(replan_every=0), "eval.replan_every"),
    (lambda: DemoConfig(tasks=["pick"]), "demo.tasks"),
    (lambda: DemoConfig(image_size=4), "demo.image_size"),
    (lambda: DemoConfig(targets={"tabletop/pick": 1.5}), "demo.targets"),
    (lambda: DemoConfig(record=RecordStage(seed=7), eval=EvalStage(seed=7)), "eval.seed"),
])
def test_bad_settings_name_the_field_and_value(make, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        make()


def test_plan_order_and_commands(tmp_path):
    cfg = _cfg(tmp_path, tasks=["tabletop/touch", "tabletop/pick"], cameras=["front"], image_size=48)
    stages = build_plan(cfg)
    assert [s.kind for s in stages] == [RECORD, RECORD, TRAIN, EVAL, EVAL, EVAL, EVAL]
    train = stages[2]
    assert f"data.roots=[{stages[0].out},{stages[1].out}]" in train.args
    assert "model.image_size=48" in train.args and "model.cameras=[front]" in train.args
    vla = _by_name(stages)["eval/vla"]
    assert f"+policy_kwargs.checkpoint={train.out}/checkpoints/last" in vla.args
    assert not any("policy_kwargs" in a for a in _by_name(stages)["eval/noop"].args)
    assert vla.argv("/py")[:3] == ["/py", "-m", "sim.bench.cli"] and vla.command().startswith("vla-bench ")
    assert train.units == cfg.train.steps * cfg.train.batch_size


def test_fingerprints_follow_what_decides_each_result(tmp_path):
    base = _by_name(build_plan(_cfg(tmp_path)))
    more_steps = _by_name(build_plan(_cfg(tmp_path, train=TrainStage(steps=10))))
    changed = {n for n in base if base[n].fingerprint != more_steps[n].fingerprint}
    assert changed == {"train", "eval/vla"}  # data and baselines are reused
    faster = _by_name(build_plan(_cfg(tmp_path, threads=1, record=RecordStage(workers=1),
                                      eval=EvalStage(workers=0))))
    assert all(base[n].fingerprint == faster[n].fingerprint for n in base)  # speed settings change nothing
    more_data = _by_name(build_plan(_cfg(tmp_path, record=RecordStage(episodes=3))))
    assert {n for n in base if base[n].fingerprint != more_data[n].fingerprint} == \
        {n for n in base if n.startswith("record/")} | {"train", "eval/vla"}
    assert all(base[n].fingerprint in str(base[n].out) for n in base)


@pytest.mark.parametrize("value, text", [
    ("outputs/demo", "outputs/demo"), (["a", "b/c"], "[a,b/c]"), (None, "null"), (True, "true"),
    ("my dir/x", "'my dir/x'"), ("a=b,c", "'a=b,c'"), ("it's", "'it\\'s'"), ("null", "'null'"), ("", "''"),
])
def test_hydra_values_are_quoted_only_when_needed(value, text):
    assert hydra_value(value) == text


def test_estimate_uses_this_machines_measured_rates(tmp_path):
    cfg = _cfg(tmp_path, train=TrainStage(steps=100, batch_size=4))
    train = _by_name(build_plan(cfg))["train"]
    first = estimate([train], cfg.out_dir)["train"]
    assert first == pytest.approx(STARTUP_S["train"] + DEFAULT_RATES["train"] * 400)
    marker = marker_path(cfg.out_dir, train)
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"kind": "train", "units": 400, "wall_s": STARTUP_S["train"] + 40.0,
                                  "finished_utc": "2026-01-01T00:00:00+00:00"}))
    assert estimate([train], cfg.out_dir)["train"] == pytest.approx(STARTUP_S["train"] + 40.0)


def test_a_stage_is_finished_only_with_its_marker_and_its_outputs(tmp_path):
    cfg = _cfg(tmp_path)
    noop = _by_name(build_plan(cfg))["eval/noop"]
    marker = marker_path(cfg.out_dir, noop)
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"fingerprint": noop.fingerprint, "wall_s": 1.0}))
    assert not is_finished(cfg.out_dir, noop)  # no results.json yet
    noop.out.mkdir(parents=True)
    (noop.out / "results.json").write_text("{}")
    assert is_finished(cfg.out_dir, noop)
    other = dataclasses.replace(noop, fingerprint="0" * 10)
    assert not is_finished(cfg.out_dir, other)  # a marker of other settings does not count


def test_subprocess_output_is_teed_to_the_log_and_the_code_returned(tmp_path):
    log = tmp_path / "logs" / "x.log"
    code = run_subprocess([sys.executable, "-c", "import sys; print('hello'); sys.exit(3)"],
                          stage_environ(threads=1), log, echo=False)
    assert code == 3
    assert "hello" in log.read_text()
    assert stage_environ(2)["OMP_NUM_THREADS"] == "2"


def test_training_fingerprint_follows_the_preset_files(tmp_path, monkeypatch):
    from vla.demo import plan

    base = _by_name(build_plan(_cfg(tmp_path)))
    original = plan.preset_values
    monkeypatch.setattr(plan, "preset_values", lambda group, name: {**original(group, name), "seed": 123})
    edited = _by_name(build_plan(_cfg(tmp_path)))
    changed = {n for n in base if base[n].fingerprint != edited[n].fingerprint}
    assert changed == {"train", "eval/vla"}  # an edited model/train preset retrains; data and baselines stay


def test_unknown_model_preset_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="conf/model/nope.yaml"):
        build_plan(_cfg(tmp_path, train=TrainStage(model="nope")))
