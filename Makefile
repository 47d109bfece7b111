# Two commands matter: `make run` (the whole service on this machine) and `make test`.
# The setup logic lives in scripts/setup.sh; it is idempotent and takes about a second
# when nothing changed, so every target depends on it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PYTHON := $(VENV)/bin/python
AUTOGRADER := $(VENV)/bin/autograder
RUFF := $(VENV)/bin/ruff
MYPY := $(VENV)/bin/mypy
LINT_IMPORTS := $(VENV)/bin/lint-imports

# The static checks (their settings are in pyproject.toml): ruff's rules and format, mypy
# --strict, and the layering contracts. `make lint` runs them alone, `make test` before the
# suite.
define lint_checks
$(RUFF) check .
$(RUFF) format --check .
$(MYPY)
$(LINT_IMPORTS)
endef

.PHONY: help setup run test lint bench specs migrate

help:
	@echo "make setup    install system packages, .venv and .venv-sandbox (idempotent)"
	@echo "make run      the whole service: API, worker, embedded Redis and SQLite"
	@echo "make test     make lint, then the test suite, with real Postgres, Redis and sandboxes"
	@echo "make lint     ruff check, ruff format --check, mypy and lint-imports"
	@echo "make bench    the benchmarks"
	@echo "make specs    validate the grading specs and test them on reference solutions"
	@echo "make migrate  upgrade the database to the latest migration"

setup:
	bash scripts/setup.sh

run: setup
	$(AUTOGRADER) serve

test:
	AUTOGRADER_SETUP_DOCKER=1 AUTOGRADER_SETUP_VM=1 bash scripts/setup.sh
	$(lint_checks)
	PYTHON=$(PYTHON) bash scripts/run_tests.sh

lint: setup
	$(lint_checks)

bench: setup
	$(PYTHON) -m bench

specs: setup
	$(AUTOGRADER) specs validate
	$(AUTOGRADER) specs test

migrate: setup
	$(AUTOGRADER) db upgrade
