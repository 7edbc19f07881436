"""The MuJoCo tabletop: a Panda-like arm, colored blocks and bowls, language tasks and scripted experts.

Importing this package imports nothing heavy; `sim.tabletop.env` (mujoco, gymnasium) is loaded when an env
is made. `register()` adds the gymnasium id "vla/Tabletop-v0" (kwargs: task=..., render_mode=..., and any
`TabletopEnv` setting), e.g. `gymnasium.make("vla/Tabletop-v0", task="pick")`.
"""

from __future__ import annotations

ENV_ID = "vla/Tabletop-v0"


def register() -> None:
    """Register "vla/Tabletop-v0" with gymnasium; calling it again is a no-op."""
    import gymnasium

    if ENV_ID in gymnasium.registry:
        return
    # The env enforces its own time limit (the task's default or max_episode_steps), so no TimeLimit wrapper.
    gymnasium.register(id=ENV_ID, entry_point="sim.tabletop.env:TabletopEnv", disable_env_checker=True,
                       kwargs={"task": "pick"})
