"""Normalizer: modes, inverses, constant dimensions, missing keys, LeRobot / openpi / checkpoint files."""

import json

import numpy as np
import pytest

from vla.normalize import NORM_STATS_FILE, NormStats, Normalizer, stats_from_dict


@pytest.fixture()
def data() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 4)) * [1.0, 5.0, 0.1, 1.0] + [0.0, 2.0, -1.0, 0.0]
    x[:, 3] = 0.25  # a constant dimension (e.g. a gripper never used in the data)
    return x


def test_quantile_maps_q01_q99_to_unit_range_and_clips(data):
    st = NormStats.from_array(data)
    n = Normalizer({"action": st}, {"action": "quantile"})
    np.testing.assert_allclose(n.normalize("action", st.q01)[:3], -1.0, atol=1e-6)
    np.testing.assert_allclose(n.normalize("action", st.q99)[:3], 1.0, atol=1e-6)
    y = n.normalize("action", data)
    assert y.dtype == np.float32 and y.min() == -1.0 and y.max() == 1.0
    inside = (data >= st.q01).all(1) & (data <= st.q99).all(1)
    np.testing.assert_allclose(n.unnormalize("action", y[inside]), data[inside], atol=1e-5)


@pytest.mark.parametrize("mode", ["quantile", "mean_std", "min_max"])
def test_constant_dimension_is_safe(data, mode):
    n = Normalizer({"k": NormStats.from_array(data)}, {"k": mode})
    with np.errstate(all="raise"):  # no division by zero anywhere
        y = n.normalize("k", data)
        back = n.unnormalize("k", y)
    assert np.all(y[:, 3] == 0.0)
    np.testing.assert_allclose(back[:, 3], 0.25, atol=1e-7)


def test_mean_std_inverse_and_batch_dims(data):
    n = Normalizer({"observation.state": NormStats.from_array(data)}, {"observation.state": "mean_std"})
    y = n.normalize("observation.state", data)
    np.testing.assert_allclose(y[:, :3].mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(y[:, :3].std(0), 1.0, atol=1e-4)
    chunks = data[:30].reshape(3, 10, 4)  # (B, T, D): stats broadcast over the last axis
    back = n.unnormalize("observation.state", n.normalize("observation.state", chunks))
    np.testing.assert_allclose(back, chunks, atol=1e-4)


def test_missing_key_names_key_and_keys_present(data):
    n = Normalizer({"action": NormStats.from_array(data)})  # default modes also name observation.state
    with pytest.raises(KeyError, match=r"stats for key 'observation.state'; stats present: \['action'\]"):
        n.normalize("observation.state", data[0])
    with pytest.raises(KeyError, match="no normalization mode for key 'observation.velocity'"):
        n.normalize("observation.velocity", data[0])
    with pytest.raises(ValueError, match=r"'action' has shape \(5,\), expected last dimension 4"):
        n.normalize("action", np.zeros(5))


def test_mode_needs_its_fields_and_valid_names():
    n = Normalizer({"action": NormStats(mean=[0.0], std=[1.0])}, {"action": "quantile"})
    with pytest.raises(KeyError, match=r"lack \['q01', 'q99'\]"):
        n.normalize("action", np.zeros(1))
    with pytest.raises(ValueError, match="unknown normalization mode 'zscore'"):
        Normalizer({}, {"action": "zscore"})
    with pytest.raises(ValueError, match="disagree in length"):
        NormStats(mean=[0.0, 1.0], std=[1.0])
    with pytest.raises(ValueError, match="finite"):
        NormStats(mean=[np.nan], std=[1.0])


def test_lerobot_stats_json_and_openpi_formats():
    lerobot = {
        "action": {"min": [-1, -2], "max": [1, 2], "mean": [0, 0], "std": [1, 1], "count": [10],
                   "q01": [-0.9, -1.8], "q99": [0.9, 1.8]},
        "observation.images.front": {"min": [[[0]], [[0]], [[0]]], "max": [[[1]], [[1]], [[1]]],
                                     "mean": [[[0.5]], [[0.5]], [[0.5]]], "std": [[[0.2]], [[0.2]], [[0.2]]]},
        "timestamp": {"count": [10]},
    }
    stats = stats_from_dict(lerobot)
    assert set(stats) == {"action", "observation.images.front"} and stats["observation.images.front"].dim == 3
    n = Normalizer(stats, {"action": "quantile"})
    np.testing.assert_allclose(n.normalize("action", np.array([0.9, -1.8])), [1.0, -1.0])
    openpi = {"norm_stats": {"state": {"mean": [1.0], "std": [2.0], "q01": [0.0], "q99": [2.0]}}}
    assert stats_from_dict(openpi)["state"].std.tolist() == [2.0]


def test_save_load_round_trip(tmp_path, data):
    n = Normalizer({"action": NormStats.from_array(data), "observation.state": NormStats.from_array(data[:, :2])})
    n.save(tmp_path)  # a checkpoint directory
    assert (tmp_path / NORM_STATS_FILE).is_file()
    assert set(json.loads((tmp_path / NORM_STATS_FILE).read_text())) == {"modes", "stats"}
    again = Normalizer.load(tmp_path)
    assert again.modes == n.modes
    np.testing.assert_array_equal(again.normalize("action", data), n.normalize("action", data))
    state = data[:, :2]
    np.testing.assert_array_equal(again.normalize("observation.state", state), n.normalize("observation.state", state))
    with pytest.raises(FileNotFoundError, match="normalization stats not found"):
        Normalizer.load(tmp_path / "nowhere.json")
