# BReact Console: `make run` starts everything locally, `make test` runs the suite.
# `make run` is for one developer's machine: debug on, and free test-mode top-ups opted in.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck check install clean bench

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	BREACT_DEBUG=$${BREACT_DEBUG:-1} $(PY) manage.py migrate --noinput
	BREACT_DEBUG=$${BREACT_DEBUG:-1} $(PY) manage.py collectstatic --noinput -v0
	BREACT_DEBUG=$${BREACT_DEBUG:-1} $(PY) manage.py ensure_demo_user
	BREACT_DEBUG=$${BREACT_DEBUG:-1} BREACT_PAYMENTS_TEST_MODE=$${BREACT_PAYMENTS_TEST_MODE:-on} \
		$(PY) manage.py serve

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

check: lint typecheck
	$(PY) manage.py makemigrations --check --dry-run

bench: $(STAMP)
	$(PY) bench/api_benchmark.py

clean:
	rm -rf var staticfiles .pytest_cache .mypy_cache .ruff_cache
