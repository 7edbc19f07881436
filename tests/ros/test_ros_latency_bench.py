"""benchmarks/ros_latency.py's arithmetic (no ROS): the parts of the ROS-added latency do not overlap, add up
to the total, leave out inference and the wait for the control tick, and only count matched commands."""

from __future__ import annotations

import pytest

from benchmarks.ros_latency import latency


def _timing(t0: float, infer: float = 0.0) -> dict:
    # camera stamp t0; frame stored 0.5 ms later; tick 40 ms later (sample-and-hold, not overhead);
    # command stamped 0.2 ms + inference after the tick, its publish call returns 0.3 ms later.
    return {"image_stamp": t0, "image_recv": t0 + 0.0005, "step_start": t0 + 0.040, "inference_s": infer,
            "command_stamp": t0 + 0.0402 + infer, "publish": t0 + 0.0405 + infer,
            "image_cpu_s": 0.00002, "step_cpu_s": 0.00015}


def test_parts_add_up_without_counting_the_publish_twice():
    timings = [_timing(100.0), _timing(100.1, infer=0.03), _timing(100.2)]
    # received 0.6 ms after the stamp; the third command was never received
    cmds = [(t["command_stamp"] + 0.0006, t["command_stamp"], 0.1) for t in timings[:2]]
    out = latency(timings, cmds, (0.0, 1e9))
    assert out["ros_added_ms"]["n"] == 2
    assert out["image_transport_ms"]["p50"] == pytest.approx(0.5, abs=1e-6)
    assert out["node_processing_ms"]["p50"] == pytest.approx(0.2, abs=1e-6)  # inference subtracted
    assert out["command_transport_ms"]["p50"] == pytest.approx(0.6, abs=1e-6)
    assert out["ros_added_ms"]["p50"] == pytest.approx(1.3, abs=1e-6)  # 0.5 + 0.2 + 0.6, publish once
    assert out["inference_ms"]["max"] == pytest.approx(30.0)
    assert out["node_cpu_ms"]["p50"] == pytest.approx(0.17)


def test_window_and_dry_run_records_are_left_out():
    dry = {**_timing(100.0), "command_stamp": None}
    late = _timing(500.0)
    cmds = [(late["command_stamp"] + 0.001, late["command_stamp"], 0.1)]
    out = latency([dry, late], cmds, (0.0, 200.0))
    assert out["ros_added_ms"] == {"p50": None, "p99": None, "max": None, "n": 0}
