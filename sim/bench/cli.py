"""vla-bench: run a policy on a task suite and write a success table, videos and a contact sheet.

Examples (Hydra overrides; `conf/bench.yaml` holds the defaults):

    # Meta-World experts on MT10, 10 episodes per task, 2 worker processes
    vla-bench policy=scripted tasks=[metaworld/mt10] episodes=10 workers=2

    # the random baseline on two tasks, small images, short episodes, into a chosen directory
    vla-bench policy=random tasks=[metaworld/reach-v3,metaworld/push-v3] episodes=4 \
        image_size=64 max_episode_steps=100 out_dir=outputs/bench/random-smoke

    # a policy with kwargs; re-plan every 4 steps; 8 envs per worker in lockstep (batched inference)
    vla-bench policy=vla +policy_kwargs.checkpoint=outputs/train/ckpt tasks=[tabletop/pick] \
        replan_every=4 batch_envs=8

Rerunning the same command resumes: finished episodes (one JSON each under <out_dir>/episodes/) are
skipped. Without `out_dir` the directory is outputs/bench/<policy>-<fingerprint of the settings>.
Outputs: results.json, results.md, contact_sheet.png, videos/<task>/ep_XXXX.mp4.
"""

from __future__ import annotations

import os

import hydra
from omegaconf import DictConfig

from sim.bench.config import BenchConfig
from sim.bench.runner import run
from vla.config import CONFIG_PATH, to_dataclass


@hydra.main(config_path=CONFIG_PATH, config_name="bench", version_base=None)
def main(dict_cfg: DictConfig) -> None:
    """Entry point of `vla-bench`."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    cfg = to_dataclass(dict_cfg, BenchConfig)
    run(cfg)


if __name__ == "__main__":
    main()
