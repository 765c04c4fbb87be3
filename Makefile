# Two commands: `make run` (set up, demo data, serve on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

TRANSLATIONS := web/translations/en/LC_MESSAGES/messages.mo

.PHONY: install run test lint plain-install bench browser assets clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

$(TRANSLATIONS): web/translations/en/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --statistics -d web/translations -D messages

install: $(STAMP) $(TRANSLATIONS)

# Debian's Chromium and a CJK font for the browser tests, PgBouncer and nginx for the tests of deploy/, when this is a
# Debian machine run as root.
APT_PACKAGES := chromium fonts-wqy-microhei pgbouncer nginx
browser:
	@dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(APT_PACKAGES); } || \
		echo "$(APT_PACKAGES) not all installed: the browser and deploy/ tests skip (with CI=true they fail)"

# The browser islands (bpmn-js, ECharts) from npm, bundled into web/static/dist (committed: no npm at run time).
assets:
	cd frontend && npm ci --no-audit --no-fund && node build.mjs

run: install
	$(BIN)/rectiflow init
	$(BIN)/rectiflow demo
	@# Plain HTTP on this machine: the session cookie cannot be Secure-only here (production keeps the default).
	RECTIFLOW_COOKIE_SECURE=false $(BIN)/rectiflow serve --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# `pip install .` as a user does it (no extras, not editable) into a scratch venv, then `rectiflow --help` and
# `rectiflow init` from a folder outside the checkout, so that the installed wheel is what runs: a runtime import
# that is only a test dependency, or a file `init` reads that the wheel lacks, fails here.
PLAIN := $(abspath build/plain-install)
plain-install: $(TRANSLATIONS)
	rm -rf $(PLAIN) && $(PYTHON) -m venv $(PLAIN)/venv
	$(PLAIN)/venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt .
	outside=$$(mktemp -d) && trap 'rm -rf "$$outside"' EXIT && cd "$$outside" && env -u PYTHONPATH $(PLAIN)/venv/bin/rectiflow --help >/dev/null && \
		env -u PYTHONPATH RECTIFLOW_INSTANCE_PATH=$(PLAIN)/instance RECTIFLOW_DATABASE_URL=sqlite:///$(PLAIN)/plain.sqlite3 \
		$(PLAIN)/venv/bin/rectiflow init && \
		$(PLAIN)/venv/bin/python -c "import sqlite3, sys; \
		db = sqlite3.connect('$(PLAIN)/plain.sqlite3'); \
		tables = {row[0] for row in db.execute(\"select name from sqlite_master where type = 'table'\")}; \
		deployed = db.execute('select count(*) from process_definition').fetchone()[0]; \
		sys.exit(0 if {'alembic_version', 'item', 'task'} <= tables and deployed else f'no schema: {sorted(tables)}')"

test: lint browser plain-install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/lifecycle.py

clean:
	rm -rf $(VENV) instance build .pytest_cache .mypy_cache .ruff_cache $(TRANSLATIONS)
