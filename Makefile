# Every target bootstraps .venv from requirements.lock first, so a fresh clone needs only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.8
export DAGSTER_HOME := $(CURDIR)/.dagster_home
# Ports on 127.0.0.1: `make dev UI_PORT=3001 SIMULATOR_PORT=8766`; `make simulate SIMULATOR_PORT=8766`
# runs a second simulator beside `make dev`.
UI_PORT ?= 3000
SIMULATOR_PORT ?= 8765
# dg reads the project from pyproject.toml and runs in the active environment: this one.
DG := VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dg

.PHONY: demo test lint format dev simulate bench faults lock clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

demo: $(STAMP)  ## Simulator -> last 7 days through Dagster -> DuckDB in data/; prints what landed.
	$(BIN)/laaffic-pipeline demo

test: $(STAMP)  ## Lint, load the definitions as Dagster users do, then the whole test suite.
	$(BIN)/ruff check laaffic_pipeline tests benchmarks scripts
	$(BIN)/ruff format --check laaffic_pipeline tests benchmarks scripts
	$(DG) check defs
	$(BIN)/pytest -n 3 --dist loadfile  # three test files at a time: most of the slow ones wait on daemons

lint: $(STAMP)
	$(BIN)/ruff check laaffic_pipeline tests benchmarks scripts

format: $(STAMP)
	$(BIN)/ruff check --fix laaffic_pipeline tests benchmarks scripts
	$(BIN)/ruff format laaffic_pipeline tests benchmarks scripts

dev: $(STAMP)  ## Simulator + `dg dev` (webserver and daemon) with history kept in .dagster_home/.
	$(BIN)/laaffic-pipeline dev --ui-port $(UI_PORT) --simulator-port $(SIMULATOR_PORT)

simulate: $(STAMP)  ## Just the simulator, on $(SIMULATOR_PORT) (8765), key demo-key, secret demo-secret.
	$(BIN)/laaffic-pipeline simulate --port $(SIMULATOR_PORT) --api-key demo-key --api-secret demo-secret

bench: $(STAMP)  ## Every benchmark but bench_step (it compares two checkouts); each prints a table and a JSON line.
	for script in benchmarks/bench_*.py; do \
	  case $$script in *bench_step.py) continue;; esac; \
	  $(BIN)/python $$script || exit 1; \
	done

faults: $(STAMP)  ## Each simulator fault alone and combined through Dagster: a table and a JSON line.
	$(BIN)/python scripts/fault_summary.py

lock:  ## Re-resolve requirements.lock from pyproject.toml (needs uv).
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .dagster_home data
