# Each target creates .venv and installs what it needs, so a fresh clone needs nothing else.
# Dependencies come from requirements.lock (exact versions with hashes: what CI tested is what a
# fresh machine installs); pyproject.toml keeps the ranges. `make lock` refreshes the lock.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# parallel test processes (pytest-xdist); each has its own database and Redis number. Measured on
# this 2-core machine (tests/bot/slack + tests/bot/worker + two core/runs modules, 384 tests):
# 2 workers 115 s, 3 about 130 s, 4 82 s; at 3 workers the modes were within noise of each other
# (load 128 s, loadfile 133 s, worksteal 128 s, loadscope 118 s). worksteal: most of the time goes
# into worker subprocesses, and stealing evens out the few long modules at the end of a run.
TEST_WORKERS ?= 4
TEST_DIST ?= worksteal

.PHONY: run test lint bench install lock clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/pipebot dev

test: $(STAMP)
	@test -x /usr/bin/chromium || sh scripts/install-chromium.sh || echo "chromium could not be installed; the browser test will say so"
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist $(TEST_DIST) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Refresh requirements.lock on purpose: the newest releases pyproject.toml's ranges admit, for
# every platform (uv's universal resolution), each pinned with its hashes.
lock:
	test -x $(VENV)-lock/bin/uv || { $(PY) -m venv $(VENV)-lock && $(VENV)-lock/bin/pip install -q uv; }
	$(VENV)-lock/bin/uv pip compile pyproject.toml --extra test --generate-hashes --universal \
		--python-version 3.11 --upgrade -o requirements.lock

clean:
	rm -rf $(VENV) $(VENV)-lock build *.egg-info
