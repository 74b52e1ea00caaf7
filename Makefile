# flexledger — set-up and everyday commands. `make run` and `make test` work on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start the embedded platform (SQLite, in-process log) with the demo account and data.
run: install
	$(VENV)/bin/flexledger demo
	$(VENV)/bin/flexledger serve

# PostgreSQL tests run whenever a server answers on the default local port (or the URL is set).
PG_URL := $(or $(FLEXLEDGER_TEST_POSTGRES_URL),$(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgresql://postgres@127.0.0.1:5432/test))

## Install, check the dependency set, and run every test (the summary lists what was skipped and why).
test: install
	$(PY) -m pip check
	$(PY) -c "import ortools, google.protobuf as pb; v = tuple(int(x) for x in ortools.__version__.split('.')[:2]); assert v >= (9, 15), f'ortools {ortools.__version__} < 9.15'; print('ortools', ortools.__version__, 'protobuf', pb.__version__)"
	FLEXLEDGER_TEST_POSTGRES_URL=$(PG_URL) $(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) bench/ingest.py
	$(PY) bench/rebuild.py
	$(PY) bench/schedule.py
	$(PY) bench/forecast_accuracy.py --quick

clean:
	rm -rf $(VENV) var .pytest_cache
