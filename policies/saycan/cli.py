"""vla-run: plan and execute a plain-language command in the tabletop sim with SayCan + Inner Monologue.

Examples (Hydra overrides; `conf/run.yaml` and `conf/planner/*.yaml` hold the defaults):

    # a command as a plain positional string (rewritten to the override command=...)
    vla-run "put all the blocks in the green bowl"

    # the sampled episode's own instruction, another task and seed, into a chosen directory
    vla-run task=tabletop/stack_all seed=3 out_dir=outputs/vla-run/stack3

    # the LM-only ablation (no affordances), no video
    vla-run planner=lm_only task=tabletop/sort_by_color video=false

    # interactive: one command per line on stdin, each in a fresh episode
    vla-run interactive=true

Outputs under out_dir: <name>.json (the trace: every skill's LM, affordance and combined score per step,
the chosen skill and its outcome, and the episode metrics), <name>.txt (the same as a table) and
<name>.mp4 (the front camera). A command naming a color no object has is refused without moving; when the
command is not the episode's own instruction, the env task's success detector is not used (no "Next goal"
feedback, "done" waits only for an empty gripper) and a scene holding every named color is searched for.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policies.saycan.config import SayCanConfig
from vla.config import CONFIG_PATH

MAX_SCENE_TRIES = 50  # seeds tried to find a scene with every object color the command names


@dataclass
class RunConfig:
    """vla-run settings; validated on construction."""

    command: str | None = None  # the command; None: the episode's own instruction
    task: str = "tabletop/put_all_in_bowl"  # which tabletop task samples the scene
    seed: int = 0
    interactive: bool = False  # read commands from stdin, one per line
    max_env_steps: int = 1500
    image_size: int = 128
    video: bool = True
    video_fps: float = 10.0
    out_dir: str = "outputs/vla-run"
    planner: SayCanConfig = field(default_factory=SayCanConfig)

    def __post_init__(self):
        if not self.task.startswith("tabletop/"):
            raise ValueError(f"RunConfig.task must be a tabletop task (skills need its scene), got {self.task!r}")
        if self.max_env_steps < 1:
            raise ValueError(f"RunConfig.max_env_steps must be >= 1, got {self.max_env_steps}")
        if not 16 <= self.image_size <= 1024:
            raise ValueError(f"RunConfig.image_size must be in [16, 1024], got {self.image_size}")
        if self.video_fps <= 0:
            raise ValueError(f"RunConfig.video_fps must be > 0, got {self.video_fps}")


def rewrite_argv(argv: list[str]) -> list[str]:
    """Turn a leading plain positional command into the Hydra override `command="..."`."""
    if len(argv) > 1 and "=" not in argv[1] and not argv[1].startswith("-"):
        return [argv[0], f"command={json.dumps(argv[1])}"] + argv[2:]
    return list(argv)


def _scene_for(cfg: RunConfig, command: str | None, seed: int):
    """A reset env whose scene holds every color `command` names (tries MAX_SCENE_TRIES seeds)."""
    from policies.saycan.planner import check_command
    from policies.saycan.scene import scene_from_env
    from sim.registry import make_env

    env = make_env(cfg.task, seed=seed, cameras=("front",), image_size=cfg.image_size, terminate_on_success=False)
    for k in range(MAX_SCENE_TRIES):
        obs, _ = env.reset(seed=seed + k)
        if command is None or check_command(command, scene_from_env(env, False).objects) is None:
            return env, obs
    return env, obs  # no scene fits: the planner refuses the command and says why


def run_one(cfg: RunConfig, command: str | None, seed: int, name: str) -> dict[str, Any]:
    """Run one command in a fresh episode and write <name>.json/.txt/.mp4 under out_dir; returns the record."""
    from policies.saycan import make
    from policies.saycan.rollout import run_command, trace_table
    from vla.io import atomic_write_json, atomic_write_text
    from vla.media import write_mp4

    env, obs = _scene_for(cfg, command, seed)
    try:
        own = command is None or command.strip() == obs["instruction"]
        text = obs["instruction"] if command is None else command
        kwargs = {**vars(cfg.planner), "goal_feedback": cfg.planner.goal_feedback and own}
        policy = make(env, cfg.task, **kwargs)
        frames: list = []
        on_frame = (lambda o: frames.append(o["images"]["front"])) if cfg.video else None
        result = run_command(env, policy, obs, text, cfg.max_env_steps, on_frame)
    finally:
        env.close()
    record = {**result.to_dict(), "task": cfg.task, "seed": seed, "own_instruction": own}
    if not own:
        record["metrics"]["execution_success"] = None  # the env task's predicate is not this command's
    out = Path(cfg.out_dir)
    table = trace_table(result.trace) + f"\nstop: {policy.stop_reason}\nmetrics: {record['metrics']}\n"
    atomic_write_json(out / f"{name}.json", record)
    atomic_write_text(out / f"{name}.txt", f"command: {text}\n{table}")
    if frames:
        write_mp4(out / f"{name}.mp4", frames, fps=cfg.video_fps)
    print(f"command: {text}\n{table}outputs: {out / name}.{{json,txt{',mp4' if frames else ''}}}", flush=True)
    return record


def _hydra_main():
    import hydra
    from omegaconf import DictConfig

    from vla.config import to_dataclass

    @hydra.main(config_path=CONFIG_PATH, config_name="run", version_base=None)
    def app(dict_cfg: DictConfig) -> None:
        os.environ.setdefault("MUJOCO_GL", "egl")
        cfg = to_dataclass(dict_cfg, RunConfig)
        if not cfg.interactive:
            run_one(cfg, cfg.command, cfg.seed, f"seed{cfg.seed}")
            return
        print("vla-run: type a command per line (Ctrl-D ends)", flush=True)
        for i, line in enumerate(sys.stdin):
            if line.strip():
                run_one(cfg, line.strip(), cfg.seed + i, f"cmd{i:03d}")

    return app


def main() -> None:
    """Entry point of `vla-run`."""
    sys.argv = rewrite_argv(sys.argv)
    _hydra_main()()


if __name__ == "__main__":
    main()
