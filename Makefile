# Everything starts from nothing: `make test` and `make demo` create .venv and install.
PYTHON ?= python3
VENV ?= .venv
# The local CPU wheel by default. On a GPU machine: make demo TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
# Two install levels: the demo needs the project and its embedding model only; the tests also
# need pytest, ruff, playwright and the serving extras (`dev`).
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint install browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP_RUN): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[embeddings]"
	touch $(STAMP_RUN)

$(STAMP_DEV): $(STAMP_RUN)
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP_DEV)

install: $(STAMP_DEV)

# The report tests drive Debian's chromium (never `playwright install`). Installed here when
# it is missing and apt-get can run (root); otherwise the exact command is printed and the
# browser tests skip (they fail instead under CI=true).
browser:
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium for the browser tests (apt-get install chromium)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "warning: could not install chromium; the browser tests will skip (fail under CI=true)"; \
	else \
	  echo "note: chromium is missing; run \`sudo apt-get install chromium\` (Debian/Ubuntu) for the browser tests"; \
	fi

demo: $(STAMP_RUN)
	$(BIN)/segcap demo --out demo-out

# e.g. make test PYTEST_ARGS="tests/report -x"
PYTEST_ARGS ?= tests

test: $(STAMP_DEV) browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP_DEV)
	$(BIN)/ruff check schemas annotators pipelines flows tests benchmarks

clean:
	rm -rf $(VENV) demo-out
