"""The tabletop's language task families and their explicit registry `ALL_TASKS` (name -> class)."""

from __future__ import annotations

from sim.tabletop.tasks.base import Episode, Placement, Task
from sim.tabletop.tasks.single import PickTask, PlaceTask, PushTask, StackTask, TouchTask

ALL_TASKS: dict[str, type[Task]] = {
    "touch": TouchTask,
    "pick": PickTask,
    "place": PlaceTask,
    "push": PushTask,
    "stack": StackTask,
}

__all__ = ["ALL_TASKS", "Episode", "Placement", "Task"]
