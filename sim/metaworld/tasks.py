"""The Meta-World v3 task names, the MT10/MT50 suites and our instruction text for every task.

Kept free of mujoco/metaworld imports so listing tasks (`sim.registry.all_tasks()`) stays cheap; a test
checks `TASKS` against `metaworld.env_dict.ALL_V3_ENVIRONMENTS` so the two cannot drift apart.
Meta-World ships no language; the instructions are ours, one imperative sentence per task, naming the
object and the goal the way a person would say it to the robot.
"""

from __future__ import annotations

INSTRUCTIONS: dict[str, str] = {
    "assembly-v3": "pick up the ring and put it on the peg",
    "basketball-v3": "pick up the ball and dunk it into the hoop",
    "bin-picking-v3": "move the block from the left bin into the right bin",
    "box-close-v3": "put the lid on the box",
    "button-press-topdown-v3": "press the button down from above",
    "button-press-topdown-wall-v3": "reach over the wall and press the button down from above",
    "button-press-v3": "push the button on the front of the box",
    "button-press-wall-v3": "reach around the wall and push the button",
    "coffee-button-v3": "press the button on the coffee machine",
    "coffee-pull-v3": "pull the mug away from the coffee machine",
    "coffee-push-v3": "push the mug under the coffee machine",
    "dial-turn-v3": "turn the dial a full turn",
    "disassemble-v3": "pull the ring up off the peg",
    "door-close-v3": "close the door",
    "door-lock-v3": "turn the lock on the door to lock it",
    "door-open-v3": "open the door",
    "door-unlock-v3": "turn the lock on the door to unlock it",
    "hand-insert-v3": "move your hand into the hole in the table",
    "drawer-close-v3": "push the drawer closed",
    "drawer-open-v3": "pull the drawer open",
    "faucet-open-v3": "turn the faucet handle to open it",
    "faucet-close-v3": "turn the faucet handle to close it",
    "hammer-v3": "pick up the hammer and hammer the nail into the wall",
    "handle-press-side-v3": "press the handle down from the side",
    "handle-press-v3": "press the handle down",
    "handle-pull-side-v3": "pull the handle up from the side",
    "handle-pull-v3": "pull the handle up",
    "lever-pull-v3": "pull the lever up",
    "pick-place-wall-v3": "pick up the puck and place it at the goal behind the wall",
    "pick-out-of-hole-v3": "pick the peg out of the hole",
    "pick-place-v3": "pick up the puck and place it at the goal",
    "plate-slide-v3": "slide the plate into the goal",
    "plate-slide-side-v3": "slide the plate sideways into the goal",
    "plate-slide-back-v3": "slide the plate back out of the goal",
    "plate-slide-back-side-v3": "slide the plate sideways back out of the goal",
    "peg-insert-side-v3": "pick up the peg and insert it into the hole from the side",
    "peg-unplug-side-v3": "unplug the peg from the side",
    "soccer-v3": "kick the ball into the goal",
    "stick-push-v3": "grab the stick and use it to push the thermos to the goal",
    "stick-pull-v3": "grab the stick and use it to pull the thermos to the goal",
    "push-v3": "push the puck to the goal",
    "push-wall-v3": "push the puck around the wall to the goal",
    "push-back-v3": "pull the puck back to the goal",
    "reach-v3": "reach to the goal position",
    "reach-wall-v3": "reach over the wall to the goal position",
    "shelf-place-v3": "pick up the puck and place it on the shelf",
    "sweep-into-v3": "sweep the puck into the hole",
    "sweep-v3": "sweep the puck off the edge of the table",
    "window-open-v3": "slide the window open",
    "window-close-v3": "slide the window closed",
}

TASKS: tuple[str, ...] = tuple(INSTRUCTIONS)

# MT10 as Meta-World defines it (metaworld.env_dict.MT10_V3), in its order.
MT10: tuple[str, ...] = (
    "reach-v3", "push-v3", "pick-place-v3", "door-open-v3", "drawer-open-v3", "drawer-close-v3",
    "button-press-topdown-v3", "peg-insert-side-v3", "window-open-v3", "window-close-v3",
)

SUITES: dict[str, tuple[str, ...]] = {"mt10": MT10, "mt50": TASKS}

# Cameras of the Sawyer scene; the four `corner*` cameras are rolled 180 degrees in the XML.
CAMERAS: tuple[str, ...] = ("topview", "corner", "corner2", "corner3", "corner4", "behindGripper", "gripperPOV")
UPSIDE_DOWN_CAMERAS: frozenset[str] = frozenset({"corner", "corner2", "corner3", "corner4"})
