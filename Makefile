# Patrol: the two commands are `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
# Two workers (pytest-xdist), one file per worker at a time; `make test PYTEST_ARGS=` runs serially.
# Tests marked quarantine name a known bug and are run on their own: `pytest -m quarantine`.
PYTEST_ARGS ?= -n 2 --dist loadfile -m "not quarantine"
PORT   ?= 5000
export FLASK_APP := wsgi

.PHONY: run test bench install install-dev clean lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: install, migrate, load the demo site and serve it
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	@echo ""
	@echo "  Patrol is running at http://$(HOST):$(PORT)/   (API docs: http://$(HOST):$(PORT)/api/docs)"
	@echo "  Demo logins (password patrol-demo): patroller, supervisor, manager, archivist, admin, receptionist"
	@echo ""
	@# The photo worker (docs/deploy.md) beside the server, at a lower priority, stopped with it.
	nice -n 10 $(BIN)/flask photos copies --watch & worker=$$!; trap 'kill $$worker' EXIT INT TERM; \
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 --access-logfile - wsgi:app

## test: install and run the whole suite (set TEST_DATABASE_URL for PostgreSQL)
test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## bench: run the benchmarks; results in bench/out/*.json
# The CouchDB-protocol peer that bench/sync_ingest.py compares pushes with (PouchDB Server),
# pinned by bench/peer/package-lock.json; only the bench needs it, never `make run`.
bench/peer/node_modules/.installed: bench/peer/package.json bench/peer/package-lock.json
	cd bench/peer && npm ci --no-audit --no-fund
	touch $@

bench: install-dev bench/peer/node_modules/.installed
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache bench/out
