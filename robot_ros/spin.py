"""Running a node as a process: init, spin until Ctrl-C / SIGTERM, clean up while ROS is still up."""

from __future__ import annotations

import signal
from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> None:
    """Init rclpy with `args` (None = sys.argv), build the node, spin it, then destroy it and shut down.

    rclpy's own signal handlers would shut the context down before `destroy_node` runs, so a final stop
    could no longer be published; here SIGINT and SIGTERM raise KeyboardInterrupt in the spin instead, and
    the node's `destroy_node` (final stop, files saved) runs while the context is still valid.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    node = None
    try:
        node = factory()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
