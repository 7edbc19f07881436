"""One helper for heavy optional dependencies, so a missing one names the extra that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

# module name -> the pyproject extra that installs it
EXTRAS: dict[str, str] = {
    "torch": "vla",
    "transformers": "vla",
    "tokenizers": "vla",
    "safetensors": "vla",
    "accelerate": "vla",
    "peft": "vla",
    "mujoco": "sim",
    "gymnasium": "sim",
    "scipy": "vla",
    "metaworld": "sim",
    "rosbags": "data",
    "foxglove": "data",
    "rclpy": "ros-dev",
}


def require(module: str) -> ModuleType:
    """Import `module` or raise ImportError naming the extra to install (pip install 'vla-stack[extra]')."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        extra = EXTRAS.get(top)
        hint = f"pip install 'vla-stack[{extra}]'" if extra else f"pip install {top}"
        if top == "rclpy":
            hint += " (on a robot: source /opt/ros/<distro>/setup.bash)"
        raise ImportError(f"{module!r} is needed here but could not be imported ({err}); install it with: {hint}") from err
