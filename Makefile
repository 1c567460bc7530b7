# Every target builds .venv from pyproject.toml on first use; nothing relies on a hand-made install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo dev test test-faults record-histories fuzz lint typecheck bench bench-quick bench-burst bench-bids migrate clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/jointbuy demo

dev: $(STAMP)
	$(BIN)/jointbuy dev

test: $(STAMP)
	$(BIN)/python -m pytest

# Real processes killed and restarted, PostgreSQL stopped, the API restarted under a burst: a few
# minutes, so CI runs it after `make test` (see tests/faults/).
test-faults: $(STAMP)
	$(BIN)/python -m pytest tests/faults -o addopts="--strict-markers -ra"

# Record the workflow's histories for the current version into tests/histories/releases/<release>/
# (kept for good; `make test` replays every one). RELEASE defaults to <version>-<commit>.
RELEASE ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)-$(shell git rev-parse --short HEAD)
record-histories: $(STAMP)
	$(BIN)/python -m tests.histories.record --release $(RELEASE)

# schemathesis against /openapi.json as a lead, a council and a supplier; bounded (FUZZ_MAX_EXAMPLES
# per operation, FUZZ_MAX_TIME seconds per caller).
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz.run

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy core procurement messages workflows activities api db jointbuy worker.py

# The national-scale scenarios, one table, written to bench/RESULTS.md (bench/README.md).
bench: $(STAMP)
	$(BIN)/python -m bench.suite

bench-quick: $(STAMP)
	$(BIN)/python -m bench.suite --quick --no-write

bench-burst: $(STAMP)
	$(BIN)/python -m bench.demand_burst

bench-bids: $(STAMP)
	$(BIN)/python -m bench.bid_round

migrate: $(STAMP)
	$(BIN)/jointbuy migrate

clean:
	rm -rf $(VENV) .jointbuy .pytest_cache .mypy_cache .ruff_cache
