# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP_RUN := $(VENV)/.runtime-installed
STAMP_TEST := $(VENV)/.test-installed
ARGS ?=

.PHONY: run test lint bench export-demo clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml $(STAMP_RUN)
	$(PIP) install --quiet -e ".[train,dev]"
	touch $@

## make run: install the runtime and run the main job (headless export of the built-in demo clip).
run: $(STAMP_RUN)
	$(PY) main.py export demo -o recordings/demo_annotated.mp4 --events recordings/demo_events.jsonl $(ARGS)

## make test: install what tests need (TensorFlow included) and run the whole suite.
test: $(STAMP_TEST)
	QT_QPA_PLATFORM=offscreen $(PY) -m ruff check .
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(ARGS)

lint: $(STAMP_TEST)
	$(PY) -m ruff check .

bench: $(STAMP_RUN)
	$(PY) main.py bench $(ARGS)

clean-venv:
	rm -rf $(VENV)
