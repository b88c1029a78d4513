# kcdir: `make run` to try it, `make test` to check it. Everything else is set up for you.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Development, the tests and the benchmark add the tooling (demo data, seed_demo, bench)
# to production's settings; manage.py and deployments keep kcdir.settings, without it.
DEV_SETTINGS := devtools.settings

.PHONY: run test faults bench lint format setup setup-dev assets migrate clean help

help:
	@echo "make run   - set up, migrate, load demo data if empty, serve on http://$(HOST):$(PORT)"
	@echo "make test  - set up with test tools, lint, run the whole test suite"
	@echo "make faults - break real services (own PostgreSQL, Redis, gunicorn; docs/RELIABILITY.md)"
	@echo "make bench - benchmark on enterprise-scale data (PostgreSQL; docs/PERFORMANCE.md)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamp files make re-runs instant until the requirements change.
$(VENV)/.runtime: $(PY) requirements.txt
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Bootstrap comes from its npm package; Django serves it as a static file.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

assets: node_modules/.installed
setup: $(VENV)/.runtime assets
setup-dev: $(VENV)/.dev assets

run: export DEBUG ?= 1
run: export DJANGO_SETTINGS_MODULE = $(DEV_SETTINGS)
run: setup
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo --if-empty
	@echo ""
	@echo "  kcdir is starting on http://$(HOST):$(PORT)/ with its background worker"
	@echo "  Demo accounts: admin (directory admin), steward, staff"
	@echo "  Password: $${KCDIR_DEMO_PASSWORD:-kcdir-demo}"
	@echo ""
	$(PY) manage.py runserver_with_worker $(HOST):$(PORT)

test: export DJANGO_SETTINGS_MODULE = $(DEV_SETTINGS)
test: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run --no-input > /dev/null
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The fault tests (docs/RELIABILITY.md, "Faults kcdir survives"): each starts its own
# PostgreSQL cluster, redis-server and gunicorn, and stops, kills or fills them; the
# machine's PostgreSQL and Redis are never touched. A few minutes; not part of `make test`.
faults: export DJANGO_SETTINGS_MODULE = $(DEV_SETTINGS)
faults: setup-dev
	$(VENV)/bin/pytest -m faults tests/faults $(PYTEST_ARGS)

# The scale benchmark (docs/PERFORMANCE.md): PostgreSQL from DATABASE_URL, by default a
# local kcdir_bench database (createdb kcdir_bench); loads the enterprise data if absent.
bench: export DEBUG = 0
bench: export DJANGO_SETTINGS_MODULE = $(DEV_SETTINGS)
bench: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/kcdir_bench
# Production shares one cache (Redis) between processes: use the local Redis if it answers.
bench: export REDIS_URL ?= $(shell $(PYTHON) -c "import socket; socket.create_connection(('127.0.0.1', 6379), 1); print('redis://127.0.0.1:6379/1')" 2>/dev/null)
bench: setup
	@command -v wrk > /dev/null || apt-get install -y -qq wrk > /dev/null 2>&1 \
		|| (apt-get update -qq && apt-get install -y -qq wrk > /dev/null 2>&1) \
		|| echo "wrk is not installed: throughput is measured with a slower Python client"
	DEBUG=1 $(PY) manage.py migrate --no-input > /dev/null
	SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
		$(PY) manage.py bench $(BENCH_ARGS)

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: setup-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) node_modules staticfiles db.sqlite3 db.sqlite3-shm db.sqlite3-wal
