"""Teleop end to end without a person: scripted keys drive the tabletop arm into a real dataset."""

import socket

import numpy as np
import pytest

pytest.importorskip("mujoco")

from sim.teleop.cli import TeleopConfig, run  # noqa: E402
from sim.teleop.inputs import ScriptedKeys  # noqa: E402
from vla.data.reader import DatasetReader  # noqa: E402


def test_scripted_operator_records_labelled_episodes(tmp_path):
    root = tmp_path / "teleop"
    # episode 0: move, close the gripper, label success; episode 1: discard; episode 2: failure
    ticks = ["w", "w", "r", " ", "f", "\n", "a", "x", "d", "d", "n"]
    cfg = TeleopConfig(task="tabletop/touch", root=str(root), episodes=3, cameras=("front",), image_size=32,
                       foxglove_port=0, gamepad=False)
    results = run(cfg, keys=ScriptedKeys(ticks))
    assert [r.label for r in results] == ["success", "discard", "failure"]
    assert [r.index for r in results] == [0, None, 1]

    ds = DatasetReader(root)
    assert len(ds.meta.episodes) == 2
    ep0 = ds.episode_frames(0)
    assert len(ep0["action"]) == 5
    np.testing.assert_allclose(ep0["action"][0][:3], [0.02, 0, 0], atol=1e-6)
    assert ep0["action"][3][6] == -1.0  # the space bar closed the gripper
    assert ep0["next.success"].reshape(-1).tolist() == [False] * 4 + [True]
    assert ds.episode_frames(1)["next.success"].reshape(-1).tolist() == [False, False]
    assert ep0["observation.images.front"].shape[1:] == (32, 32, 3)


def test_rerun_appends_after_existing_episodes(tmp_path):
    root = tmp_path / "teleop"
    cfg = TeleopConfig(task="tabletop/touch", root=str(root), episodes=1, cameras=("front",), image_size=32,
                       foxglove_port=-1, gamepad=False)
    run(cfg, keys=ScriptedKeys(["w", "\n"]))
    run(cfg, keys=ScriptedKeys(["s", "s", "n"]))
    ds = DatasetReader(root)
    assert len(ds.meta.episodes) == 2 and len(ds.episode_frames(1)["action"]) == 2


def test_live_view_binds_loopback_only():
    from sim.teleop.live_view import FoxgloveView

    with pytest.raises(ValueError, match="loopback"):
        FoxgloveView(["front"], host="0.0.0.0")
    view = FoxgloveView(["front"], port=0)
    try:
        with socket.create_connection(("127.0.0.1", view.port), timeout=2):
            pass
        obs = {"images": {"front": np.zeros((8, 8, 3), np.uint8)}, "state": np.zeros(3), "instruction": "x"}
        view.show(obs, np.zeros(7), step=0, episode=0)
    finally:
        view.close()


def test_bad_config_is_named():
    with pytest.raises(ValueError, match="episodes"):
        TeleopConfig(episodes=0)
