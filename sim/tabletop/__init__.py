"""The MuJoCo tabletop: a Panda-like arm, colored blocks and bowls, language tasks and scripted experts.

    from sim.tabletop import family
    env = family.make("place", seed=0, cameras=("front", "wrist"), image_size=128)
    expert = family.make_expert(env)            # Policy: reset(instruction), predict_action_chunk(obs)
    obs, info = env.reset()
    expert.reset(obs["instruction"])
    obs, reward, terminated, truncated, info = env.step(expert.predict_action_chunk(obs)[0])

Modules: `scene` (MJCF), `physics` (model/data, layout, stepping), `ik` (DLS IK), `render` (fast EGL
cameras), `env` (`TabletopEnv`), `tasks` (`ALL_TASKS`), `predicates`, `experts` (primitives `Touch`,
`Pick`, `Place`, `Push`, `PrimitivePolicy`, `make_expert`), `family` (the `sim.registry` contract).

Importing this package imports nothing heavy; mujoco and gymnasium load when an env is made.
`register()` adds the gymnasium id "vla/Tabletop-v0" (kwargs: task=..., render_mode=..., and any
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
