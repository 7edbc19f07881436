"""The learned affordance: rollout collection (both labels), the value model (skill codes, save/load, bad
inputs), training (loss falls, held-out rollouts beat chance), `LearnedAffordance` in a real scene, and the
CLI. The fast tier collects one small set of rollouts per module; the slow test trains on a larger one."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
pytest.importorskip("mujoco")

from policies.saycan.affordances import make_affordance  # noqa: E402
from policies.saycan.scene import scene_from_env  # noqa: E402
from policies.saycan.skills import Skill, enumerate_skills  # noqa: E402
from policies.saycan.train_value import TrainConfig, evaluate, main, train  # noqa: E402
from policies.saycan.value_data import CollectConfig, ValueData, collect  # noqa: E402
from policies.saycan.value_model import LearnedAffordance, ValueModel, ValueModelConfig, encode_skill  # noqa: E402
from sim.registry import make_env  # noqa: E402

SIZE = 32  # small images keep the fast tier fast


@pytest.fixture(scope="module")
def rollouts() -> ValueData:
    return collect(CollectConfig(episodes=40, skills_per_episode=5, image_size=SIZE, seed=0))


@pytest.fixture(scope="module")
def trained(rollouts):
    train_data, val_data = rollouts.split_by_episode(0.25, seed=0)
    model, history = train(train_data, ValueModelConfig(image_size=SIZE), TrainConfig(epochs=25, batch_size=32))
    return model, history, train_data, val_data


@pytest.fixture
def env():
    e = make_env("tabletop/put_all_in_bowl", seed=5, cameras=("front",), image_size=SIZE)
    yield e
    e.close()


def test_collection_has_both_labels_and_aligned_arrays(rollouts, tmp_path):
    n = len(rollouts)
    assert n >= 40
    assert rollouts.images.shape == (n, SIZE, SIZE, 3) and rollouts.images.dtype == np.uint8
    assert rollouts.states.shape == (n, 14) and np.isfinite(rollouts.states).all()
    assert set(np.unique(rollouts.labels)) == {0.0, 1.0}
    assert set(np.unique(rollouts.geometric)) == {0.0, 1.0}
    assert {str(s).split()[0] for s in rollouts.skills} >= {"pick", "place", "done"}
    # placing with an empty gripper never succeeds when executed, as the geometric model says
    place_empty = [i for i, s in enumerate(rollouts.skills) if str(s).startswith("place") and rollouts.geometric[i] == 0
                   and rollouts.states[i, 6] > 0.07]  # gripper wide open: nothing held
    assert place_empty and all(rollouts.labels[i] == 0 for i in place_empty)
    rollouts.save(tmp_path / "d.npz")
    back = ValueData.load(tmp_path / "d.npz")
    assert np.array_equal(back.images, rollouts.images) and list(back.skills) == list(rollouts.skills)


def test_split_keeps_episodes_whole(rollouts):
    train_data, val_data = rollouts.split_by_episode(0.25, seed=0)
    assert len(train_data) + len(val_data) == len(rollouts)
    assert not set(train_data.episodes) & set(val_data.episodes) and len(val_data) > 0


def test_collect_config_rejects_bad_values():
    with pytest.raises(ValueError, match="episodes"):
        CollectConfig(episodes=0)
    with pytest.raises(ValueError, match="tasks"):
        CollectConfig(tasks=("juggle",))
    with pytest.raises(ValueError, match="infeasible_frac"):
        CollectConfig(infeasible_frac=1.5)


def test_encode_skill_codes_verb_and_colors():
    colors = ValueModelConfig().colors
    code = encode_skill(Skill("place_on", target="blue block"), colors)
    assert code.sum() == 2 and code[2] == 1  # verb place_on, target blue
    assert np.array_equal(encode_skill("place it on the blue block", colors), code)
    with pytest.raises(ValueError, match="'pink'"):
        encode_skill(Skill("pick", obj="pink block"), colors)


def test_training_reduces_loss_and_beats_chance_on_held_out(trained):
    model, history, train_data, val_data = trained
    assert history[-1] < 0.6 * history[0]
    held = evaluate(model, val_data)
    majority = max(held["positive_rate"], 1 - held["positive_rate"])
    assert held["accuracy"] > 0.5 and held["accuracy"] >= majority, held


def test_learned_affordance_prefers_pick_over_place_with_an_empty_gripper(trained, env):
    obs, _ = env.reset()
    scene = scene_from_env(env)
    assert scene.held is None
    skills = enumerate_skills(scene)
    values = LearnedAffordance(trained[0])(skills, scene, obs)
    assert values.shape == (len(skills),) and np.all((values >= 0) & (values <= 1))
    picks = [v for s, v in zip(skills, values) if s.verb == "pick"]
    places = [v for s, v in zip(skills, values) if s.verb.startswith("place")]
    assert min(picks) > max(places), dict(zip([s.text for s in skills], values.round(3)))


def test_save_load_gives_identical_outputs(trained, env, tmp_path):
    model = trained[0]
    obs, _ = env.reset()
    skills = enumerate_skills(scene_from_env(env))
    model.save(tmp_path / "vm")
    assert sorted(p.name for p in (tmp_path / "vm").iterdir()) == ["config.json", "model.safetensors"]
    loaded = ValueModel.load(tmp_path / "vm")
    assert loaded.config == model.config
    assert np.array_equal(loaded.predict(obs, skills), model.predict(obs, skills))
    assert np.array_equal(LearnedAffordance.from_pretrained(tmp_path / "vm")(skills, None, obs),
                          model.predict(obs, skills))
    wired = make_affordance("learned", str(tmp_path / "vm"))  # what SayCanConfig(affordance="learned") builds
    assert isinstance(wired, LearnedAffordance) and np.array_equal(wired(skills, None, obs), model.predict(obs, skills))


def test_bad_inputs_raise_clear_errors(env, tmp_path):
    model = ValueModel(ValueModelConfig(image_size=SIZE))
    obs, _ = env.reset()
    skills = [Skill("pick", obj="red block")]
    with pytest.raises(ValueError, match="obs=None"):
        model.predict(None, skills)
    with pytest.raises(ValueError, match=r"obs\['images'\]\['front'\].*cameras \[\]"):
        model.predict({**obs, "images": {}}, skills)
    nan_state = obs["state"].copy()
    nan_state[2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        model.predict({**obs, "state": nan_state}, skills)
    with pytest.raises(ValueError, match=r"shape \(14,\)"):
        model.predict({**obs, "state": obs["state"][:7]}, skills)
    with pytest.raises(ValueError, match="uint8"):
        model.predict({**obs, "images": {"front": obs["images"]["front"].astype(np.float32)}}, skills)
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        ValueModel.load(tmp_path)
    with pytest.raises(ValueError, match="image_size"):
        ValueModelConfig(image_size=4)


def test_cli_collects_trains_and_resumes_from_cached_data(tmp_path):
    argv = ["--out", str(tmp_path / "run"), "--episodes", "2", "--skills-per-episode", "3", "--image-size",
            str(SIZE), "--epochs", "2", "--val-frac", "0.5"]
    metrics = main(argv)
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["samples"] == metrics["samples"] > 0
    again = main(argv)  # data.npz is reused: nothing collected the second time
    assert again["collect_s"] == 0.0 and again["samples"] == metrics["samples"]
    with pytest.raises(ValueError, match="episodes"):  # cached data of other settings is never reused silently
        main(argv[:3] + ["3"] + argv[4:])


@pytest.mark.slow
def test_larger_training_run_is_accurate_on_held_out_rollouts():
    data = collect(CollectConfig(episodes=60, skills_per_episode=6, image_size=48, seed=100))
    train_data, val_data = data.split_by_episode(0.25, seed=0)
    model, _ = train(train_data, ValueModelConfig(image_size=48), TrainConfig(epochs=30))
    held = evaluate(model, val_data)
    assert held["accuracy"] >= 0.8 and held["accuracy"] > held["positive_rate"], held
