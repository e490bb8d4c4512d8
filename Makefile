# Two commands matter to a newcomer: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
FLASK  := $(BIN)/flask --app feedback

# semgrep pins versions the app's environment cannot share (click), so it has a venv of its own.
SEMGREP_VENV := .venv-semgrep

.PHONY: run test lint format bench init translations messages clean check-workbook security-scan \
	audit gates lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Installs verify every file against the hashes of the locks (SECURITY.md row 50): a tampered
# file, or a dependency missing from the lock, fails here. The locks are made by `make lock`.
$(VENV)/.runtime: requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	touch $@

$(VENV)/.dev: requirements-dev.lock requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@ $(VENV)/.runtime

$(SEMGREP_VENV)/.installed: requirements-semgrep.lock
	$(PYTHON) -m venv $(SEMGREP_VENV)
	$(SEMGREP_VENV)/bin/pip install --quiet --require-hashes -r requirements-semgrep.lock
	touch $@

# After editing requirements*.txt: re-resolve against PyPI and record the sha256 of every file of
# every pinned version (all platforms), from the index alone. Needs the network; commit the locks.
# The dev lock is constrained by the runtime lock, so both install the same runtime versions.
PIP_COMPILE = PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= $(VENV)/piptools/bin/pip-compile --quiet \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
lock:
	$(PYTHON) -m venv $(VENV)/piptools
	$(VENV)/piptools/bin/pip install --quiet pip-tools==7.6.2
	$(PIP_COMPILE) -o requirements.lock requirements.txt
	$(PIP_COMPILE) -c requirements.lock -o requirements-dev.lock requirements-dev.txt
	$(PIP_COMPILE) -o requirements-semgrep.lock requirements-semgrep.txt

# CI's supply-chain and SAST gates, timed (scripts/gates.sh): semgrep with .semgrep/rules.yml,
# detect-secrets against .secrets.baseline, pip-audit of the locks with expiring exceptions.
gates: $(VENV)/.dev $(SEMGREP_VENV)/.installed
	BIN=$(BIN) SEMGREP=$(SEMGREP_VENV)/bin/semgrep scripts/gates.sh

# Compiled catalogs are build output, never committed.
translations: $(VENV)/.runtime
	$(BIN)/pybabel compile -d feedback/translations

# Re-extract the Chinese source strings and merge them into the English catalog.
messages: $(VENV)/.dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project feedback --ignore-dirs=".venv node_modules .git" -o feedback/translations/messages.pot .
	$(BIN)/pybabel update -i feedback/translations/messages.pot -d feedback/translations --no-fuzzy-matching

init: $(VENV)/.runtime translations
	$(FLASK) init

run: init
	FEEDBACK_ENV=development $(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers 2 --access-logfile - wsgi:app

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/bandit -r feedback -ll -q

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(VENV)/.dev translations lint
	$(BIN)/pytest $(PYTEST_ARGS)

# gunicorn on 127.0.0.1 under wrk (Debian package); FEEDBACK_BENCH_INPROCESS=1 adds bench/run.py.
bench: $(VENV)/.dev translations
	$(BIN)/python -m bench.load_bench

# Not part of `make test`: needs LibreOffice and poppler-utils (see docs/workbook-check.md).
check-workbook: $(VENV)/.dev translations
	$(BIN)/python scripts/check_workbook.py

# Not part of `make test`: wapiti and sqlmap (Debian) against the app on 127.0.0.1 with demo data,
# logged in; reports in docs/scan/ (see docs/security-scan.md).
security-scan: $(VENV)/.runtime translations
	scripts/security_scan.sh

# Release pipeline, with the network (deploy.md §10): the gates, a CycloneDX SBOM of the locked
# runtime dependencies in build/, and pip-audit with --strict, which fails (instead of warning, as
# in CI) when no vulnerability service can be reached.
audit: gates
	mkdir -p build
	$(BIN)/cyclonedx-py requirements requirements.lock --pyproject pyproject.toml \
		--mc-type application --output-reproducible --of JSON -o build/sbom.cdx.json
	$(BIN)/python scripts/pip_audit_gate.py --strict requirements-dev.lock requirements-semgrep.lock

clean:
	rm -rf $(VENV) $(SEMGREP_VENV) .mypy_cache .ruff_cache .pytest_cache build
