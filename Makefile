# One entry point for users and CI. `make quickstart` and `make test` set up .venv first.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup quickstart test lint typecheck bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,workflows]'
	touch $@

quickstart: setup
	$(BIN)/soclab sweep experiments/quickstart.yaml

lint: setup
	$(BIN)/ruff check .

# mypy on the simulator (settings and the documented per-module list in pyproject.toml)
typecheck: setup
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/bench_simulator.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
