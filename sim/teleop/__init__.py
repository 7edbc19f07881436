"""Teleoperation of the simulated arm (`vla-teleop`): keyboard or gamepad in, episodes out as a dataset."""
