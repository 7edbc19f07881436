"""Meta-World v3 (50 Sawyer manipulation tasks) behind our env contract, with its scripted experts.

`sim.metaworld.family` is the entry point used by `sim.registry`; importing the package imports no
mujoco.
"""
