# icbt: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test lint format install migrate seed worker messages bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet '.[dev]'
	touch $@

# Lighthouse for the browser tests (tests/browser/test_lighthouse.py), into ./node_modules only.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

install: $(VENV)/.installed

## make run: the app with demo data on embedded defaults (SQLite, e-mails in var/mail, Celery
## worker with embedded beat on Kombu's filesystem transport), at http://127.0.0.1:$(PORT)
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_programs
	$(PY) manage.py seed_demo --if-empty
	PORT=$(PORT) bin/dev-server

## make test: the whole suite. With DATABASE_URL / REDIS_URL set, the PostgreSQL and Redis
## tests run too (and fail if the service is unreachable); without them they are left out and named.
test: install node_modules/.installed
	bin/run-tests

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check icbt programs therapists patients messaging devtools tests

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format icbt programs therapists patients messaging devtools tests

## make messages: collect the strings to translate into locale/nl/LC_MESSAGES/django.po and compile
## the catalogue (run it again after translating; tests/test_i18n.py checks both)
messages: install
	$(PY) manage.py makemessages -l nl --no-location --ignore=.venv --ignore=var --ignore=tests --ignore=static/vendor --ignore=test-artifacts
	$(PY) manage.py compilemessages --ignore=.venv

## make bench: a synthetic clinic in a separate database (PostgreSQL when DATABASE_URL points to it),
## one JSON object with the figures on stdout. Quick run: .venv/bin/python manage.py bench --scale 0.05
bench: install
	$(PY) manage.py bench --json

clean:
	rm -rf var/cache var/celery var/celerybeat-schedule* var/staticfiles
