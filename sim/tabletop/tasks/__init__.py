"""The tabletop's language task families and their explicit registry `ALL_TASKS` (name -> class)."""

from __future__ import annotations

from sim.tabletop.tasks.base import Episode, Placement, Task
from sim.tabletop.tasks.long import PutAllInBowlTask, SortByColorTask, StackAllTask
from sim.tabletop.tasks.single import PickTask, PlaceTask, PushTask, StackTask, TouchTask

ALL_TASKS: dict[str, type[Task]] = {
    "touch": TouchTask,
    "pick": PickTask,
    "place": PlaceTask,
    "push": PushTask,
    "stack": StackTask,
    "put_all_in_bowl": PutAllInBowlTask,
    "stack_all": StackAllTask,
    "sort_by_color": SortByColorTask,
}

__all__ = ["ALL_TASKS", "Episode", "Placement", "Task"]
