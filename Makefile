# The README's two commands: `make demo` (run everything on the embedded default) and
# `make test` (the whole suite). Each sets itself up: virtualenv, packages, system packages
# where root can install them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: demo test test-fast lint setup sysdeps

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

setup: $(STAMP)

sysdeps:
	@bash scripts/sysdeps.sh

lint: setup
	$(VENV)/bin/ruff check callcenter telephony callbacks reports tests bench

test: setup sysdeps lint
	$(PY) -m pytest $(PYTEST_ARGS)

# the fast tier alone (no multi-process, no browser)
test-fast: setup lint
	$(PY) -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/hotline db upgrade
	$(VENV)/bin/hotline seed demo
	$(VENV)/bin/hotline demo
