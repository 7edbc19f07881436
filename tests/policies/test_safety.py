"""The safety layer (policies/safety.py) without ROS: clipping, rate limits, workspace box, watchdog."""

import numpy as np
import pytest

from policies.safety import SafetyConfig, SafetyLayer, Watchdog

RATE = 10.0


def layer(**kw) -> SafetyLayer:
    return SafetyLayer(SafetyConfig(control_rate_hz=RATE, **kw))


def test_passes_safe_action_unchanged():
    a = np.array([0.01, -0.01, 0.0, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)
    res = layer(max_velocity=(0.5,) * 7).filter(a)
    assert not res.stopped and not res.modified
    np.testing.assert_allclose(res.action, a)
    assert res.action.dtype == np.float32


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_action_stops(bad):
    a = np.zeros(7)
    a[2] = bad
    res = layer().filter(a)
    assert res.stopped and res.reasons[0].startswith("stop:non-finite")


def test_wrong_shape_stops():
    res = layer().filter(np.zeros(6))
    assert res.stopped and "expected (7,)" in res.reasons[0]


def test_per_axis_clip_includes_gripper():
    low, high = (-0.05,) * 6 + (-1.0,), (0.05,) * 6 + (1.0,)
    res = layer(action_low=low, action_high=high).filter(np.array([0.2, -0.2, 0, 0, 0, 0, 3.0]))
    np.testing.assert_allclose(res.action, [0.05, -0.05, 0, 0, 0, 0, 1.0], atol=1e-7)
    assert res.reasons == ("clip",)


def test_velocity_limit_scales_delta_by_rate_not_gripper():
    # 0.05 m per step at 10 Hz = 0.5 m/s; limit 0.2 m/s -> 0.02 m per step.
    res = layer(max_velocity=(0.2,) * 7).filter(np.array([0.05, 0, 0, 0, 0, 0, -1.0]))
    np.testing.assert_allclose(res.action, [0.02, 0, 0, 0, 0, 0, -1.0], atol=1e-7)
    assert "velocity" in res.reasons


def test_acceleration_limit_ramps_from_rest_and_resets_on_halt():
    safety = layer(max_acceleration=(1.0,) * 7)  # 1 m/s^2 -> 0.1 m/s more per step -> +0.01 m per step
    steps = [float(safety.filter(np.array([0.05, 0, 0, 0, 0, 0, 0])).action[0]) for _ in range(6)]
    np.testing.assert_allclose(steps, [0.01, 0.02, 0.03, 0.04, 0.05, 0.05], atol=1e-7)
    # Sudden reversal is rate limited too.
    assert safety.filter(np.array([-0.05, 0, 0, 0, 0, 0, 0])).action[0] == pytest.approx(0.04)
    safety.halt()
    assert safety.filter(np.array([0.05, 0, 0, 0, 0, 0, 0])).action[0] == pytest.approx(0.01)


def test_workspace_box_limits_step_and_allows_return():
    safety = layer(workspace_low=(0.0, -0.5, 0.0), workspace_high=(0.5, 0.5, 0.5))
    a = np.array([0.05, 0, -0.05, 0, 0, 0, 1.0])
    res = safety.filter(a, ee_position=np.array([0.48, 0.0, 0.02]))
    np.testing.assert_allclose(res.action[:3], [0.02, 0, -0.02], atol=1e-7)
    assert "workspace" in res.reasons
    # Already outside: moving further out is blocked, moving back in is allowed.
    out = safety.filter(np.array([0.05, 0, 0, 0, 0, 0, 1.0]), ee_position=np.array([0.6, 0, 0.1]))
    assert out.action[0] == 0.0
    back = safety.filter(np.array([-0.05, 0, 0, 0, 0, 0, 1.0]), ee_position=np.array([0.6, 0, 0.1]))
    assert back.action[0] == pytest.approx(-0.05)


@pytest.mark.parametrize("pos", [None, np.array([np.nan, 0, 0]), np.zeros(2)])
def test_workspace_without_valid_position_stops(pos):
    safety = layer(workspace_low=(0, 0, 0), workspace_high=(1, 1, 1))
    assert safety.filter(np.zeros(7), ee_position=pos).stopped


def test_absolute_mode_limits_joint_speed_from_measured_position():
    safety = layer(action_dim=3, mode="absolute", gripper_axis=None, max_velocity=(1.0, 1.0, 1.0))
    assert safety.filter(np.array([1.0, 0, 0])).stopped  # no joint positions yet
    res = safety.filter(np.array([1.0, 0.0, -0.05]), joint_positions=np.zeros(3))
    np.testing.assert_allclose(res.action, [0.1, 0.0, -0.05], atol=1e-7)
    res = safety.filter(np.array([1.0, 0.0, -0.05]))  # continues from the last target
    np.testing.assert_allclose(res.action, [0.2, 0.0, -0.05], atol=1e-7)


@pytest.mark.parametrize("kw, match", [
    (dict(mode="cartesian"), "mode"),
    (dict(control_rate_hz=0.0), "control_rate_hz"),
    (dict(max_velocity=(1.0, 2.0)), "max_velocity needs 7"),
    (dict(max_acceleration=(0.0,) * 7), "max_acceleration must be > 0"),
    (dict(action_low=(1.0,) * 7, action_high=(0.0,) * 7), "exceeds"),
    (dict(workspace_low=(0, 0, 0)), "together"),
    (dict(workspace_low=(0, 0, 0), workspace_high=(1, 0, 1)), "below"),
    (dict(gripper_axis=9), "gripper_axis"),
    (dict(max_velocity=(np.nan,) * 7), "finite"),
])
def test_config_errors_name_field_and_value(kw, match):
    with pytest.raises(ValueError, match=match):
        SafetyConfig(**kw)


def test_watchdog_stale_inputs():
    dog = Watchdog({"image": 0.2, "joints": 0.5})
    assert dog.stale(0.0) == ["image", "joints"]  # never seen
    dog.feed("image", 1.0)
    dog.feed("joints", 1.0)
    assert dog.stale(1.15) == []
    assert dog.stale(1.3) == ["image"]
    assert dog.age("joints", 1.3) == pytest.approx(0.3)
    with pytest.raises(KeyError, match="inputs"):
        dog.feed("lidar", 1.0)
    with pytest.raises(ValueError, match="image"):
        Watchdog({"image": 0.0})
