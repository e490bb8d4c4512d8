# Two commands matter to a newcomer: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
FLASK  := $(BIN)/flask --app feedback

.PHONY: run test lint format bench init translations messages clean check-workbook security-scan audit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

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

# Not part of `make test` (needs the network): the supply-chain checks of SECURITY.md row 50.
# No secret in a tracked file beyond the reviewed .secrets.baseline; a CycloneDX SBOM of the pinned
# runtime dependencies in build/; pip-audit of both requirement files against PyPI's advisories
# (--strict: a package it cannot look up fails the run rather than passing unseen).
audit: $(VENV)/.dev
	git ls-files -z | xargs -0 $(BIN)/detect-secrets-hook --baseline .secrets.baseline
	mkdir -p build
	$(BIN)/cyclonedx-py requirements requirements.txt --pyproject pyproject.toml \
		--mc-type application --output-reproducible --of JSON -o build/sbom.cdx.json
	$(BIN)/pip-audit --vulnerability-service pypi --strict --no-deps --disable-pip \
		-r requirements.txt -r requirements-dev.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build
