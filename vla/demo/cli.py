"""vla-demo: the main job. Record expert demonstrations in the tabletop sim, train the tiny VLA, evaluate it
on unseen seeds beside the scripted experts and the random / no-op baselines, and write a report.

Examples (Hydra overrides; `conf/demo.yaml` holds the defaults, `conf/demo/*.yaml` the presets):

    # the full demo on the embedded defaults (no downloads; about 20 minutes on a 2-core CPU)
    vla-demo

    # a tiny end-to-end run (about a minute): one task, a few episodes, a few training steps
    vla-demo demo=smoke out_dir=outputs/demo-smoke

    # print the plan, the time estimate and every stage's command, run nothing
    vla-demo dry_run=true

    # add the place task, train longer, evaluate on more episodes
    vla-demo 'tasks=[tabletop/touch,tabletop/pick,tabletop/push,tabletop/place]' train.steps=3000 eval.episodes=50

    # pass settings through to one stage's own app (here vla-train and vla-bench)
    vla-demo 'train.overrides=[optim.lr=1e-3]' eval.replan_every=2

Rerunning a command skips the stages it finished and resumes the one it was in (the recorder, the trainer
and the benchmark each resume). A changed setting gets new directories for the stages it affects only.
The report goes to <out_dir>/report/README.md (its path is printed at the end).
"""

from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from vla.config import CONFIG_PATH, to_dataclass
from vla.demo.config import DemoConfig
from vla.demo.pipeline import run_demo


@hydra.main(config_path=CONFIG_PATH, config_name="demo", version_base=None)
def main(dict_cfg: DictConfig) -> None:
    """Entry point of `vla-demo`: validate the config, run the demo, print where the report is."""
    cfg = to_dataclass(dict_cfg, DemoConfig)
    run_demo(cfg, list(HydraConfig.get().overrides.task))


if __name__ == "__main__":
    main()
