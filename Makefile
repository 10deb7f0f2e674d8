# notifier: `make demo` runs the product on sample data, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DB ?= demo.db
export NOTIFIER_CONFIG_PATH ?= config/notifier.toml

.PHONY: install demo test lint format clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

lint: install
	$(BIN)/ruff check notifier tests
	$(BIN)/ruff format --check notifier tests
	$(BIN)/mypy notifier

format: install
	$(BIN)/ruff format notifier tests
	$(BIN)/ruff check --fix notifier tests

test: lint
	$(BIN)/pytest

demo: install
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/notifier --db sqlite:///./$(DEMO_DB) init
	$(BIN)/notifier --db sqlite:///./$(DEMO_DB) import customers samples/customers.csv
	$(BIN)/notifier --db sqlite:///./$(DEMO_DB) import receivables samples/receivables.csv
	$(BIN)/notifier --db sqlite:///./$(DEMO_DB) import payments samples/payments.csv
	$(BIN)/notifier --db sqlite:///./$(DEMO_DB) report aging --at 2026-03-02
	$(BIN)/notifier --db sqlite:///./$(DEMO_DB) explain C001 --at 2026-03-02T10:00:00+08:00

clean:
	rm -rf $(VENV) *.egg-info .mypy_cache .ruff_cache .pytest_cache $(DEMO_DB)*
