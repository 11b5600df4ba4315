# The two commands a newcomer needs: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: run test install bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-test-data.txt agents/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	$(VENV)/bin/pip install -q --no-deps -r requirements-test-data.txt
	touch $@

install: $(VENV)/.installed

# The whole service on the embedded default (SQLite, in-process Celery) with a simulated fleet.
run: $(VENV)/.installed
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo --addr 127.0.0.1:8000

# The whole suite; against PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set.
test: $(VENV)/.installed
	$(VENV)/bin/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
