"""Running a node as a process: init, spin until Ctrl-C / SIGTERM, clean up while ROS is still up."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

SIGNAL_POLL_S = 0.1  # longest time the spin loop stays in C++ before it looks at the stop flag again
EXECUTOR_ENV = "VLA_ROS_EXECUTOR"  # "events" (default) or "single": which executor run_node uses
EXECUTORS = ("events", "single")


def make_executor(context: Any = None, kind: str | None = None) -> Any:
    """The executor nodes spin in: `kind`, else $VLA_ROS_EXECUTOR, else "events".

    "events" is rclpy's EventsExecutor (Jazzy's rclpy 7.1.5+; a SingleThreadedExecutor where this rclpy
    lacks it): it waits and dispatches in C++, so a message costs a few microseconds of Python instead of
    the SingleThreadedExecutor's rebuilt wait set and task bookkeeping (benchmarks/ros_latency.py
    --executor compares them). "single" is the SingleThreadedExecutor, the fallback should the
    experimental executor misbehave.
    """
    kind = kind or os.environ.get(EXECUTOR_ENV) or "events"
    if kind not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS} (${EXECUTOR_ENV}), got {kind!r}")
    if kind == "events":
        try:
            from rclpy.experimental import EventsExecutor
        except ImportError:
            return SingleThreadedExecutor(context=context)
        return EventsExecutor(context=context)
    return SingleThreadedExecutor(context=context)


def spin_until_stopped(executor: Any, stop: threading.Event, context: Any = None) -> None:
    """Spin until `stop` is set or the context shuts down.

    Spins in slices of SIGNAL_POLL_S: the EventsExecutor's own `spin` never returns to Python, so a
    signal handler could neither run between callbacks nor end the spin.
    """
    context = context if context is not None else rclpy.get_default_context()
    while context.ok() and not stop.is_set():
        executor.spin_once(timeout_sec=SIGNAL_POLL_S)


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> None:
    """Init rclpy with `args` (None = sys.argv), build the node, spin it, then destroy it and shut down.

    rclpy's own signal handlers would shut the context down before `destroy_node` runs, so a final stop
    could no longer be published; here SIGINT and SIGTERM (once the node exists) only set a flag and wake
    the executor, the spin loop returns, and the node's `destroy_node` (final stop, files saved) runs while
    the context is still valid. A signal while the node is being built interrupts the build.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    executor = make_executor()
    node = None

    def request_stop(signum: int, frame: object) -> None:
        stop.set()
        if node is None:  # still building the node (loading a model): give up on it now
            raise KeyboardInterrupt(f"signal {signum}")
        executor.wake()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        node = factory()
        executor.add_node(node)
        spin_until_stopped(executor, stop)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
