"""FrameDataset: windows and pad masks at episode edges, decoded images, DataLoader workers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.data.conftest import frame_image
from vla.data.torch_dataset import FrameDataset


def test_action_chunk_pads_at_episode_end(small_dataset):
    root, written = small_dataset
    ds = FrameDataset(root, delta_timestamps={"action": [i / 10 for i in range(5)]})
    assert len(ds) == 28
    s = ds[12 + 4]  # episode 1 (7 frames), frame 4: offsets 0..4 reach frames 4, 5, 6, then past the end
    assert s["episode_index"] == 1 and s["frame_index"] == 4 and s["instruction"] == "open the drawer"
    acts = written["action"][1]
    np.testing.assert_array_equal(s["actions"], acts[[4, 5, 6, 6, 6]])
    np.testing.assert_array_equal(s["actions_is_pad"], [False, False, False, True, True])
    np.testing.assert_array_equal(s["state"], written["observation.state"][1][4])
    assert s["images"]["front"].dtype == np.uint8 and s["images"]["front"].shape == (32, 48, 3)


def test_history_pads_at_episode_start_and_images_follow(small_dataset):
    root, written = small_dataset
    ds = FrameDataset(root, delta_timestamps={"observation.state": [-0.2, -0.1, 0.0],
                                              "observation.images.front": [-0.1, 0.0]}, image_format="float")
    s = ds[12]  # first frame of episode 1: no history inside the episode
    np.testing.assert_array_equal(s["state"], written["observation.state"][1][[0, 0, 0]])
    np.testing.assert_array_equal(s["state_is_pad"], [True, True, False])
    np.testing.assert_array_equal(s["images_is_pad"]["front"], [True, False])
    img = s["images"]["front"]
    assert img.shape == (2, 3, 32, 48) and img.dtype == np.float32 and 0 <= img.min() and img.max() <= 1
    want = frame_image(1, 0)[20, 40, 1] / 255
    assert abs(img[0, 1, 20, 40] - want) < 0.02 and abs(img[1, 1, 20, 40] - want) < 0.02
    s = ds[12 + 3]
    assert not s["state_is_pad"].any()
    np.testing.assert_array_equal(s["state"], written["observation.state"][1][[1, 2, 3]])


def test_bad_delta_timestamps_name_the_key(small_dataset):
    root, _ = small_dataset
    with pytest.raises(ValueError, match="'action'.*multiples of 1/10"):
        FrameDataset(root, delta_timestamps={"action": [0.0, 0.05]})
    with pytest.raises(KeyError, match="'actions'"):
        FrameDataset(root, delta_timestamps={"actions": [0.0]})
    with pytest.raises(KeyError, match=r"cameras \['side'\] are not in"):
        FrameDataset(root, cameras=["side"])
    assert FrameDataset(root, cameras=[])[0]["images"] == {}


def test_episode_subset_and_dataloader_workers(small_dataset):
    root, written = small_dataset
    ds = FrameDataset(root, delta_timestamps={"action": [0.0, 0.1]}, episodes=[2, 0])
    assert len(ds) == 9 + 12 and ds[0]["episode_index"] == 2
    assert set(ds.stats) >= {"action", "observation.state", "observation.images.front"}
    _ = ds[5]  # the parent decodes first: workers must open their own decoders
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, shuffle=False)
    batches = list(loader)
    assert sum(len(b["index"]) for b in batches) == 21
    b = batches[0]
    assert b["images"]["front"].shape == (4, 32, 48, 3) and b["actions"].shape == (4, 2, 3)
    np.testing.assert_array_equal(b["actions"][:, 0].numpy(), written["action"][2][:4])
    assert list(b["instruction"]) == ["pick the cube"] * 4
