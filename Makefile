# make run   - create .venv, install the runtime, start the server on :8000
# make test  - create .venv, install everything, lint, type-check, run every test, then the
#              protocol tests again with WS_FAST_PATH=false (pytest-stock)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
JS     := tests/js

.PHONY: run test lint typecheck pytest pytest-stock install clean docs bench
.DEFAULT_GOAL := run

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(JS)/node_modules/.installed: $(JS)/package.json $(JS)/package-lock.json
	cd $(JS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# import-linter looks for the packages it checks on sys.path, from wherever it runs (pytest and
# mypy take apps/api from pyproject.toml). A .pth file in the dev venv adds apps/api for the
# `lint-imports` command only, so that it works from the project root: on every path it would
# shadow other packages (python-engineio's client imports websocket-client as `websocket`).
$(VENV)/.apps-path: $(VENV)/.runtime
	$(PY) -c 'import os, sysconfig; open(os.path.join(sysconfig.get_paths()["purelib"], "eventserver-apps-api.pth"), "w").write("import os, sys; os.path.basename(sys.argv[0]) == \"lint-imports\" and sys.path.append(%r)\n" % os.path.abspath("apps/api"))'
	touch $@

install: $(VENV)/.dev $(VENV)/.apps-path $(JS)/node_modules/.installed

run: $(VENV)/.runtime
	cd apps/api && ../../$(PY) main.py

lint: $(VENV)/.dev $(VENV)/.apps-path
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(VENV)/.dev
	$(PY) -m mypy

pytest: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The protocol-level tests (marked `protocol`) again on python-engineio's own sockets, so that
# WS_FAST_PATH=false stays a real way back; guarantees only the fast path gives are skipped
# there with their reason (`fast_path_only`).
pytest-stock: install
	WS_FAST_PATH=false $(PY) -m pytest -m protocol $(PYTEST_ARGS)

test: lint typecheck pytest pytest-stock

# make bench BENCH_ARGS=--quick  - benchmarks (bench/RESULTS.md); not part of `make test`
bench: $(VENV)/.dev
	$(PY) bench/run.py $(BENCH_ARGS)

docs: $(VENV)/.dev
	cd apps/api && ../../$(PY) -m contract.markdown ../../WEBSOCKET_API.md
	cd apps/api && ../../$(PY) -m contract

clean:
	rm -rf $(VENV) $(JS)/node_modules bench/node_modules bench/.work .pytest_cache .mypy_cache .ruff_cache
