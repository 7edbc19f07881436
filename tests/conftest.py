"""Test-wide settings: one torch thread (two threads on a busy 2-core machine run many times slower)
and headless EGL rendering for MuJoCo."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

try:  # torch is optional for the sim-only tests
    import torch

    torch.set_num_threads(1)
except ImportError:
    pass
