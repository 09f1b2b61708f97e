# Two commands matter: `make run` (set up and serve the demo on embedded defaults) and
# `make test` (the whole suite, on PostgreSQL + Redis + a Celery worker, then on SQLite + eager).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# The services CI and every development machine of this project have (see DESIGN.md).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: install browser run test test-services test-embedded test-plugins plugins-install services worker beat lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Browser tests drive Debian's Chromium through Playwright (Playwright's own browser download is
# not reachable here). Installed once; needs root, as on this project's machines.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

run: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py load_demo --public-url http://$(HOST):$(PORT)
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: test-services test-embedded test-plugins

# Real PostgreSQL, Redis and Celery worker processes. Fails (never skips) if a service is missing.
test-services: install browser services plugins-install
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) LINEAGE_REQUIRE_SERVICES=1 \
		$(BIN)/pytest $(PYTEST_ARGS)

# Embedded defaults: SQLite and eager Celery; the tests that need real services are deselected.
test-embedded: install browser
	env -u DATABASE_URL -u CELERY_BROKER_URL -u REDIS_URL $(BIN)/pytest -m "not services" $(PYTEST_ARGS)

# The workload-side plugins: their own virtualenv (plugins/.venv, with Ray Data and MLflow), real Ray
# and MLflow in the tests. The services suite above also runs them into a live server when installed.
test-plugins: plugins-install
	$(MAKE) -C plugins test

plugins-install:
	$(MAKE) -C plugins install

# Start PostgreSQL and Redis if they are installed but stopped (as on this project's machines).
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no

worker: install
	$(BIN)/celery -A lineage_project worker --loglevel=INFO --concurrency=2

beat: install
	$(BIN)/celery -A lineage_project beat --loglevel=INFO

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles
