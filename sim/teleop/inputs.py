"""Input devices for teleop: a terminal keyboard (raw tty) and a Linux joystick (/dev/input/js*).

Both are polled once per control tick and never block the control loop. The joystick is read through the
kernel's joystick API directly (struct js_event), so no gamepad library is needed.
"""

from __future__ import annotations

import glob
import os
import select
import struct
import sys
import termios
import tty
from typing import Iterable, Iterator, Protocol

import numpy as np


class KeySource(Protocol):
    def poll(self) -> list[str]:
        """Keys pressed since the last poll (possibly none)."""
        ...


class TerminalKeys:
    """Keys from a terminal in cbreak mode; restores the terminal on close (also on exceptions)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdin
        if not self.stream.isatty():
            raise RuntimeError("keyboard teleop needs an interactive terminal (stdin is not a tty)")
        self.fd = self.stream.fileno()
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)

    def poll(self) -> list[str]:
        keys: list[str] = []
        while select.select([self.fd], [], [], 0)[0]:
            data = os.read(self.fd, 64).decode(errors="ignore")
            if not data:
                break
            keys.extend(data)
        return keys

    def close(self) -> None:
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def __enter__(self) -> "TerminalKeys":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ScriptedKeys:
    """Keys from a list, one group per tick: for tests and for replaying an operator session."""

    def __init__(self, ticks: Iterable[str | list[str]]):
        self._ticks: Iterator[str | list[str]] = iter(ticks)

    def poll(self) -> list[str]:
        tick = next(self._ticks, "")
        return list(tick)

    def close(self) -> None:
        pass


JS_EVENT = struct.Struct("IhBB")  # time (ms), value, type, number (linux/joystick.h)
JS_BUTTON, JS_AXIS, JS_INIT = 0x01, 0x02, 0x80


class LinuxJoystick:
    """A gamepad through /dev/input/jsN: axes scaled to [-1, 1], buttons as booleans."""

    def __init__(self, path: str):
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.axes = np.zeros(8, np.float32)
        self.buttons = np.zeros(16, bool)

    @staticmethod
    def find() -> "LinuxJoystick | None":
        """The first readable joystick device, or None when no gamepad is present."""
        for path in sorted(glob.glob("/dev/input/js*")):
            try:
                return LinuxJoystick(path)
            except OSError:
                continue
        return None

    def poll(self) -> tuple[np.ndarray, np.ndarray]:
        """Drain pending events; returns (axes, buttons) after them."""
        while True:
            try:
                data = os.read(self.fd, JS_EVENT.size * 32)
            except BlockingIOError:
                break
            if not data:
                break
            for offset in range(0, len(data) - JS_EVENT.size + 1, JS_EVENT.size):
                _, value, kind, number = JS_EVENT.unpack_from(data, offset)
                kind &= ~JS_INIT
                if kind == JS_AXIS and number < len(self.axes):
                    self.axes[number] = value / 32767.0
                elif kind == JS_BUTTON and number < len(self.buttons):
                    self.buttons[number] = bool(value)
        return self.axes.copy(), self.buttons.copy()

    def close(self) -> None:
        os.close(self.fd)
