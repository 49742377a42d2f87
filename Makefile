# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP_RUN := $(VENV)/.runtime-installed
STAMP_TEST := $(VENV)/.test-installed
ARGS ?=

.PHONY: run test lint bench export-demo clean-venv qt-libs

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml $(STAMP_RUN)
	$(PIP) install --quiet -e ".[train,dev,jax]"
	touch $@

## make run: install the runtime and open the window on the built-in demo clip. On a machine with no
## display it runs the headless job instead: the demo clip annotated to recordings/.
run: $(STAMP_RUN)
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] || [ "$$(uname)" = Darwin ]; then \
		$(MAKE) --no-print-directory qt-libs && $(PY) main.py --source demo $(ARGS); \
	else \
		echo "no display: annotating the demo clip headless (python main.py export demo ...)"; \
		$(PY) main.py export demo -o recordings/demo_annotated.mp4 --events recordings/demo_events.jsonl $(ARGS); \
	fi

## make qt-libs: Qt's xcb platform plugin aborts (exit 134) without these X libraries on Linux.
QT_XCB_LIBS := libxcb-cursor.so.0 libxcb-icccm.so.4 libxcb-keysyms.so.1
qt-libs:
	@if [ "$$(uname)" = Linux ] && [ -z "$$WAYLAND_DISPLAY" ]; then \
		missing=""; for lib in $(QT_XCB_LIBS); do ldconfig -p 2>/dev/null | grep -q "$$lib" || missing="$$missing $$lib"; done; \
		if [ -n "$$missing" ]; then \
			echo "the window needs X libraries that are missing:$$missing"; \
			echo "install them with: sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"; \
			exit 1; \
		fi; \
	fi

## make test: install what tests need (TensorFlow and JAX included) and run the whole suite.
test: $(STAMP_TEST)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(ARGS)

lint: $(STAMP_TEST)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

bench: $(STAMP_RUN)
	$(PY) main.py bench $(ARGS)

clean-venv:
	rm -rf $(VENV)
