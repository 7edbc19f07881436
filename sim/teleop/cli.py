"""vla-teleop: drive the simulated arm from the keyboard (or a gamepad) and record episodes as a dataset.

    vla-teleop task=tabletop/pick root=data/teleop_pick episodes=20
    vla-teleop task=tabletop/place foxglove_port=8765        # watch live: Foxglove Studio -> ws://127.0.0.1:8765
    vla-teleop task=tabletop/push window=true                # also a matplotlib window (needs a display)

Keys: w/s x+/-, a/d y+/-, r/f z+/-, q/e yaw, space opens/closes the gripper; Enter or y ends the episode as a
success, n as a failure, x discards it, Esc quits. A gamepad on /dev/input/js* is used when present (left stick
x/y, right stick z/yaw, button A toggles the gripper). Episodes are appended to `root` (a LeRobot v3.0 dataset);
each is saved atomically with its instruction, and the label in `next.success`.
"""

from __future__ import annotations

from dataclasses import dataclass

import hydra

from vla.config import CONFIG_PATH, to_dataclass


@dataclass
class TeleopConfig:
    task: str = "tabletop/pick"
    root: str = "data/teleop"
    episodes: int = 10
    seed: int = 0
    cameras: tuple[str, ...] = ("front", "wrist")
    image_size: int = 128
    control_hz: float = 10.0
    translation_step: float = 0.02
    rotation_step: float = 0.1
    foxglove_port: int = 8765  # 0 picks a free port; -1 turns the Foxglove view off
    window: bool = False
    gamepad: bool = True

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {self.episodes}")
        if not 1 <= self.control_hz <= 50:
            raise ValueError(f"control_hz must be in [1, 50], got {self.control_hz}")
        if self.foxglove_port < -1 or self.foxglove_port > 65535:
            raise ValueError(f"foxglove_port must be -1 (off), 0 (any) or a port, got {self.foxglove_port}")


def run(cfg: TeleopConfig, keys=None) -> list:
    """Open the env, the dataset and the views, then run the session; everything is closed on exit."""
    from sim.registry import make_env
    from sim.teleop.inputs import LinuxJoystick, TerminalKeys
    from sim.teleop.keymap import HELP, TeleopState
    from sim.teleop.live_view import FoxgloveView, WindowView
    from sim.teleop.session import TeleopSession, dataset_features
    from vla.data.writer import DatasetWriter

    env = make_env(cfg.task, seed=cfg.seed, cameras=tuple(cfg.cameras), image_size=cfg.image_size,
                   control_hz=cfg.control_hz)
    views, joystick = [], None
    writer = DatasetWriter.create_or_open(cfg.root, fps=int(cfg.control_hz), features=dataset_features(env),
                                          robot_type=cfg.task.split("/")[0])
    try:
        keys = keys or TerminalKeys()
        if cfg.foxglove_port >= 0:
            views.append(FoxgloveView(list(cfg.cameras), port=cfg.foxglove_port))
            print(f"live view: connect Foxglove Studio to ws://127.0.0.1:{views[-1].port}")
        if cfg.window:
            views.append(WindowView(list(cfg.cameras)))
        joystick = LinuxJoystick.find() if cfg.gamepad else None
        if joystick is not None:
            print(f"gamepad: {joystick.path}")
        print(HELP)
        session = TeleopSession(env, writer, keys, joystick=joystick, views=views, control_hz=cfg.control_hz,
                                state=TeleopState(translation_step=cfg.translation_step,
                                                  rotation_step=cfg.rotation_step))
        return session.run(cfg.episodes, seed=cfg.seed + writer.num_episodes)
    finally:
        for closable in [*views, keys, joystick]:
            if closable is not None and hasattr(closable, "close"):
                closable.close()
        writer.close()
        env.close()


@hydra.main(config_path=CONFIG_PATH, config_name="teleop", version_base=None)
def _hydra_main(cfg) -> None:
    run(to_dataclass(cfg, TeleopConfig))


def main() -> None:
    _hydra_main()


if __name__ == "__main__":
    main()
