# rxflow: every target builds what it needs from nothing (system packages, virtualenv, dependencies).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run demo test test-unit test-component test-integration bench bench-replay lint identities clean sysdeps

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# PostgreSQL server binaries for the integration tests and production-like runs.
sysdeps:
	@bash infra/sysdeps.sh

venv: $(STAMP)

run: sysdeps $(STAMP)
	$(PY) -m infra.run $(ARGS)

demo: sysdeps $(STAMP)
	$(PY) -m infra.run --exit-after-demo

identities: $(STAMP)
	$(PY) -m infra.identities --out var/keys

test: sysdeps $(STAMP)
	$(PY) -m pytest tests -q

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

test-component: $(STAMP)
	$(PY) -m pytest tests/component -q

test-integration: sysdeps $(STAMP)
	$(PY) -m pytest tests/integration -q

bench: sysdeps $(STAMP)
	$(PY) -m benchmarks.pipeline $(ARGS)

bench-replay: $(STAMP)
	$(PY) -m benchmarks.replay $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check events services infra tests benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
