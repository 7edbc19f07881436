"""MuJoCo tabletop envs, language tasks, scripted experts, the Meta-World adapter, the benchmark runner.

`sim` never imports torch or ROS, and imports mujoco only in the modules that step a simulation.
"""
