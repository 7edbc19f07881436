"""Teleop input mapping: keys and gamepad axes -> actions, and the Linux joystick event parser."""

import os
import struct

import numpy as np
import pytest

from sim.teleop.inputs import JS_AXIS, JS_BUTTON, JS_EVENT, JS_INIT, LinuxJoystick, ScriptedKeys
from sim.teleop.keymap import Command, TeleopState, axes_to_action, keys_to_action


def test_keys_fold_into_one_action_with_sticky_gripper():
    state = TeleopState(translation_step=0.02, rotation_step=0.1)
    action, commands = keys_to_action(["w", "w", "a", "q"], state)
    np.testing.assert_allclose(action, [0.04, 0.02, 0, 0, 0, 0.1, 1.0], atol=1e-7)
    assert commands == []
    action, _ = keys_to_action([" "], state)  # toggle: close
    assert action[6] == -1.0 and not action[:6].any()
    action, _ = keys_to_action(["f"], state)  # stays closed on later ticks
    assert action[6] == -1.0 and action[2] == pytest.approx(-0.02)


def test_command_keys_and_unknown_keys():
    state = TeleopState()
    action, commands = keys_to_action(["\n", "x", "Z", "\x1b"], state)
    assert commands == [Command.SUCCESS, Command.DISCARD, Command.QUIT]
    assert not action[:6].any()


def test_bad_step_sizes_are_rejected():
    with pytest.raises(ValueError, match="translation_step"):
        TeleopState(translation_step=0.5)
    with pytest.raises(ValueError, match="rotation_step"):
        TeleopState(rotation_step=0.0)


def test_axes_deadzone_and_nan():
    state = TeleopState(translation_step=0.02, rotation_step=0.1)
    action = axes_to_action(np.array([0.05, -1.0, np.nan, 0.5]), state)
    assert action[1] == 0.0  # inside the dead zone
    assert action[0] == pytest.approx(0.02)  # stick up -> forward
    assert action[2] == pytest.approx(-0.01)
    assert action[5] == 0.0  # NaN axis -> 0, never NaN motion
    assert np.all(np.isfinite(action))


def test_scripted_keys_run_out_to_empty():
    keys = ScriptedKeys(["w", ["a", "d"]])
    assert keys.poll() == ["w"] and keys.poll() == ["a", "d"] and keys.poll() == []


def test_linux_joystick_parses_kernel_events(tmp_path):
    fifo = tmp_path / "js0"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # keep a reader so the writer can open
    writer = os.open(fifo, os.O_WRONLY)
    pad = LinuxJoystick(str(fifo))
    events = [(0, 32767, JS_AXIS | JS_INIT, 0), (1, -16384, JS_AXIS, 1), (2, 1, JS_BUTTON, 3)]
    os.write(writer, b"".join(JS_EVENT.pack(*e) for e in events))
    axes, buttons = pad.poll()
    assert axes[0] == pytest.approx(1.0) and axes[1] == pytest.approx(-0.5, abs=1e-4)
    assert buttons[3] and not buttons[0]
    pad.close()
    os.close(writer)
    os.close(reader)
    assert struct.calcsize("IhBB") == JS_EVENT.size == 8


def test_terminal_keys_read_a_real_tty_and_restore_it():
    import pty
    import termios

    from sim.teleop.inputs import TerminalKeys

    master, slave = pty.openpty()
    with os.fdopen(slave, "r") as stream:
        before = termios.tcgetattr(slave)
        with TerminalKeys(stream) as keys:
            assert keys.poll() == []
            os.write(master, b"wa ")
            assert keys.poll() == ["w", "a", " "]
        assert termios.tcgetattr(slave) == before
    os.close(master)


def test_terminal_keys_refuse_a_non_tty(tmp_path):
    from sim.teleop.inputs import TerminalKeys

    with open(tmp_path / "f", "w+") as fh, pytest.raises(RuntimeError, match="tty"):
        TerminalKeys(fh)
