# The README's two commands: `make demo` (run everything on the embedded default) and
# `make test` (the whole suite). Each sets itself up: virtualenv, packages, system packages
# where root can install them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
VENDOR := callcenter/web/static/vendor/.built-$(shell sha1sum callcenter/web/package-lock.json | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: demo test test-fast lint setup sysdeps dist

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

# the console's front-end libraries (ECharts, htmx) from the npm registry, copied into
# static/vendor/ — served locally, never from a CDN, never committed
$(VENDOR): callcenter/web/package-lock.json callcenter/web/scripts/vendor.mjs
	@if command -v npm >/dev/null; then \
	  npm ci --prefix callcenter/web --no-audit --no-fund --loglevel=error && \
	  npm run --prefix callcenter/web --silent build && \
	  rm -f callcenter/web/static/vendor/.built-* && touch $(VENDOR); \
	else echo "WARNING: npm not found: the console runs without its charts (install Node.js and npm)" >&2; fi

setup: $(STAMP) $(VENDOR)

sysdeps:
	@bash scripts/sysdeps.sh

lint: setup
	$(VENV)/bin/ruff check callcenter telephony callbacks reports tests bench
	$(VENV)/bin/mypy callcenter telephony callbacks reports
	$(VENV)/bin/lint-imports

# two workers (pytest-xdist): the suite is half waiting on processes, browsers and databases;
# each worker has its own PostgreSQL database and SQLite files
test: setup sysdeps lint
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

# the fast tier alone (no multi-process, no browser)
test-fast: setup lint
	$(PY) -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/hotline db upgrade
	$(VENV)/bin/hotline seed demo
	$(VENV)/bin/hotline demo

# the release: wheel + sdist with the front-end libraries vendored (npm runs here, never on the
# server), and dist/wheels/ with it and every dependency's wheel for an offline server of the same
# Python (Debian 12: 3.11, x86_64) — deploy/README.md §2
dist: setup
	@test -f callcenter/web/static/vendor/htmx.min.js || { echo "dist: npm is needed to vendor the front-end libraries" >&2; exit 1; }
	rm -rf dist build
	$(PY) -m build -o dist . >dist.log 2>&1 || { tail -30 dist.log >&2; exit 1; }
	$(PY) -m pip wheel -q -w dist/wheels dist/hotline12345-*.whl
	@rm -f dist.log; echo "dist/: $$(ls dist/*.whl dist/*.tar.gz | xargs -n1 basename | tr '\n' ' ')+ $$(ls dist/wheels | wc -l) wheels"
