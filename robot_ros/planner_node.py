"""planner_node: a long-horizon command on vla/command -> SayCan steps on vla/instruction, with status.

For each step the planner (LM score x affordance, `policies.saycan`) picks a skill; its text goes to
vla/instruction for the policy node. The step ends with a verdict on vla/step_result (std_msgs/Bool, from a
success detector or an operator) or fails after `step_timeout_s`; the verdict goes back into the prompt
(Inner Monologue) and the next step is planned. Planning runs in its own thread (an LM call takes
hundreds of ms), so callbacks never wait. Progress is published on vla/plan_status (String) and diagnostics.
The scene's objects come from the `blocks` / `bowls` parameters (a robot's perception would fill them).

    python -m robot_ros.planner_node --ros-args -p blocks:="[red block, blue block]" -p bowls:="[green bowl]"
    ros2 topic pub --once /vla/command std_msgs/String "{data: 'put the red block in the green bowl'}"
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from std_msgs.msg import Bool, String

from robot_ros.health import ERROR, OK, WARN, Health
from robot_ros.params import declare_config
from robot_ros.planning import PlanSession
from robot_ros.spin import run_node

TOPICS = {
    "subscribes": ["vla/command", "vla/step_result"],
    "publishes": ["vla/instruction", "vla/plan_status", "diagnostics"],
}


@dataclass
class PlannerNodeConfig:
    """Parameters of `planner_node`."""

    blocks: tuple[str, ...] = ("red block", "blue block", "yellow block")
    bowls: tuple[str, ...] = ("green bowl",)
    affordance: str = "geometric"  # geometric | none | learned
    affordance_checkpoint: str = ""
    lm_path: str = ""  # "" = the offline SmolLM2-135M-Instruct
    gguf_file: str = ""
    normalize: str = "sum"  # LM score normalization (policies.saycan.lm_scoring); "sum" is what the bench measured
    max_steps: int = 12
    step_timeout_s: float = 60.0
    max_command_chars: int = 512
    diagnostics_period_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.blocks:
            raise ValueError("PlannerNodeConfig.blocks must name at least one block")
        if self.max_steps < 1:
            raise ValueError(f"PlannerNodeConfig.max_steps must be >= 1, got {self.max_steps}")
        for name in ("step_timeout_s", "diagnostics_period_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"PlannerNodeConfig.{name} must be > 0, got {getattr(self, name)}")

    def scene(self):
        from policies.saycan.scene import SceneState

        return SceneState(blocks=tuple(self.blocks), bowls=tuple(self.bowls))


class PlannerNode(Node):
    """`planner` may be given (tests); otherwise `Planner.from_pretrained` loads the configured LM."""

    def __init__(self, planner: Any = None, **node_kwargs: Any):
        super().__init__("planner_node", **node_kwargs)
        self.cfg = cfg = declare_config(self, PlannerNodeConfig)
        from policies.saycan.affordances import make_affordance

        self.affordance = make_affordance(cfg.affordance, cfg.affordance_checkpoint or None)
        self.planner = planner if planner is not None else self._load_planner()
        self.health = Health(self.get_fully_qualified_name())
        self.session: PlanSession | None = None
        self._jobs: queue.Queue = queue.Queue()
        self._step_started = 0.0
        self._instruction = self.create_publisher(String, "vla/instruction", 10)
        self._status = self.create_publisher(String, "vla/plan_status", 10)
        self._diag = self.create_publisher(DiagnosticArray, "diagnostics", 10)
        self.create_subscription(String, "vla/command", self._on_command, 10)
        self.create_subscription(Bool, "vla/step_result", self._on_result, 10)
        self.create_timer(0.1, self._check_timeout)
        self.create_timer(cfg.diagnostics_period_s, self._publish_diagnostics)
        self._worker = threading.Thread(target=self._work, name="planner", daemon=True)
        self._worker.start()
        self._say(OK, f"ready: blocks {list(cfg.blocks)}, bowls {list(cfg.bowls)}")

    def _load_planner(self):
        from policies.saycan.planner import Planner

        return Planner.from_pretrained(self.cfg.lm_path or None, self.cfg.gguf_file or None,
                                       normalize=self.cfg.normalize)

    def _say(self, level: int, text: str) -> None:
        self.health.set_state(level, text)
        self._status.publish(String(data=text))
        if level == OK:
            self.get_logger().info(text)
        else:
            self.get_logger().warning(text)

    # ---- callbacks (ROS thread): only queue work ----

    def _on_command(self, msg: String) -> None:
        text = msg.data.strip()
        if not text or len(text) > self.cfg.max_command_chars:
            self.health.drop("command_length")
            self._say(WARN, f"command refused: {len(text)} characters (1..{self.cfg.max_command_chars})")
            return
        self._jobs.put(("command", text))

    def _on_result(self, msg: Bool) -> None:
        self._jobs.put(("result", bool(msg.data)))

    def _check_timeout(self) -> None:
        s = self.session
        if s is not None and s.current is not None and time.monotonic() - self._step_started > self.cfg.step_timeout_s:
            self._jobs.put(("timeout", s.current.text))

    # ---- planning (worker thread) ----

    def _work(self) -> None:
        while True:
            kind, value = self._jobs.get()
            if kind == "stop":
                return
            try:
                self._handle(kind, value)
            except Exception as err:  # an LM failure ends the plan, not the node
                self.session = None
                self.health.count("errors")
                self._say(ERROR, f"planning failed: {type(err).__name__}: {err}")

    def _handle(self, kind: str, value: Any) -> None:
        if kind == "command":
            try:
                self.session = PlanSession(self.planner, self.affordance, self.cfg.scene(), value, self.cfg.max_steps)
            except ValueError as err:
                self._say(WARN, f"command refused: {err}")
                return
            self._say(OK, f"planning {value!r}")
            self._plan()
            return
        s = self.session
        if s is None or s.current is None:
            self.health.drop(f"{kind}_without_step")
            return
        if kind == "timeout" and value != s.current.text:
            return  # the step it was about already ended
        success = value if kind == "result" else False
        self._say(OK if success else WARN, f"step {len(s.history) + 1} {s.current.text!r}: "
                                           f"{'success' if success else 'timed out' if kind == 'timeout' else 'failed'}")
        s.report(success)
        self._plan()

    def _plan(self) -> None:
        s = self.session
        t0 = time.monotonic()
        scores = s.next_step()
        self.health.latency("plan_step", time.monotonic() - t0)
        if s.finished:
            self._say(OK, f"plan finished ({s.reason}) after {len(s.history)} steps: {s.command!r}")
            self.session = None
            return
        i = scores.chosen
        self._step_started = time.monotonic()
        self._instruction.publish(String(data=s.current.text))
        self._say(OK, f"step {len(s.history) + 1}: {s.current.text} "
                      f"(p_lm {scores.lm[i]:.2f}, affordance {scores.affordance[i]:.2f})")

    def _publish_diagnostics(self) -> None:
        self._diag.publish(self.health.to_diagnostic(self.get_clock().now().to_msg(), "saycan"))

    def destroy_node(self) -> None:
        self._jobs.put(("stop", None))
        self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    """Console entry `planner_node` (ament) / `python -m robot_ros.planner_node`."""
    run_node(PlannerNode, args)


if __name__ == "__main__":
    main()
