"""vla-record: expert demonstrations from any sim suite into a LeRobot v3.0 dataset (Hydra app, conf/record.yaml).

    vla-record tasks=[tabletop/pick] episodes_per_task=20 out=outputs/data/pick
    vla-record tasks=[tabletop/basic] episodes_per_task=50 workers=2 image_size=128 out=outputs/data/basic
    vla-record tasks=[metaworld/reach-v3,metaworld/push-v3] cameras=[corner] out=outputs/data/mw keep_failed=true
    vla-record tasks=[tabletop/pick] episodes_per_task=40 out=outputs/data/pick   # rerun: resumes, adds 20 more

Episodes run in worker processes; each finished episode is staged on its own and appended to `out` in
(task, seed) order, so the dataset is the same whatever the number of workers. Only successful episodes
are kept unless keep_failed=true. Inspect the result with `vla-dataset info <out>`.
"""

from __future__ import annotations

import os

import hydra
from omegaconf import DictConfig

from vla.config import CONFIG_PATH, to_dataclass


@hydra.main(config_path=CONFIG_PATH, config_name="record", version_base=None)
def main(dict_cfg: DictConfig) -> None:
    from sim.record.config import RecordConfig
    from sim.record.runner import run

    cfg = to_dataclass(dict_cfg, RecordConfig)
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering unless the user chose a backend
    if os.environ["MUJOCO_GL"] == "egl":
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    run(cfg)


if __name__ == "__main__":
    main()
