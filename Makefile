# Parley: `make run` starts the studio, `make test` runs the whole suite.
# Needs only Python 3.11+ with venv support; everything else goes into .venv.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
SERVE_ARGS ?=

# `make run` is embedded mode (SQLite, in-process worker) even in a shell that exports the
# production connection settings, so those two are dropped for the studio's commands.
EMBEDDED := env -u DATABASE_URL -u REDIS_URL

.PHONY: run test bench venv deps dev-deps help

help:
	@echo "make run    install requirements.txt into .venv, migrate, load the gallery, serve http://127.0.0.1:8000 (SERVE_ARGS=\"--port 8001\" to change)"
	@echo "make test   install requirements-dev.txt into .venv and run the whole suite (PYTEST_ARGS=... to narrow)"
	@echo "make bench  run the benchmarks (bench/run.sh)"

run: deps
	$(EMBEDDED) $(PY) manage.py migrate --noinput
	@# The gallery command arrives later; until then this step is skipped, not an error.
	@if $(EMBEDDED) $(PY) manage.py help load_gallery >/dev/null 2>&1; then \
		echo "$(EMBEDDED) $(PY) manage.py load_gallery"; \
		$(EMBEDDED) $(PY) manage.py load_gallery; \
	fi
	$(EMBEDDED) $(PY) manage.py serve $(SERVE_ARGS)

test: dev-deps
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: dev-deps
	@if [ -f bench/run.sh ]; then bash bench/run.sh; else echo "bench/run.sh is not there yet: no benchmarks to run."; fi

# A venv without pip is a failed earlier attempt (e.g. ensurepip missing): start it again.
venv:
	@if [ ! -x $(VENV)/bin/pip ]; then \
		if ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then \
			echo "Parley needs Python 3.11 or newer as '$(PYTHON)' (found: $$($(PYTHON) --version 2>&1 | head -n 1)); set PYTHON=/path/to/python3.11." >&2; \
			exit 1; \
		fi; \
		if ! $(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1; then \
			echo "Cannot create $(VENV): Python's venv/ensurepip is missing; on Debian install it with: apt-get install python3-venv" >&2; \
			exit 1; \
		fi; \
		echo "Creating $(VENV) with $$($(PYTHON) --version)"; \
		rm -rf $(VENV); \
		$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "Could not create $(VENV) (see above)." >&2; exit 1; }; \
	fi

# $(call install_reqs,<stamp name>,<requirements file>,<files whose content keys the stamp>)
# The stamp's name carries a hash of the requirement files, so an unchanged set installs nothing
# and any edit (including to a file pulled in with -r) installs again.
define install_reqs
	@hash=$$(cat $(3) | sha256sum | cut -c1-16); \
	stamp=$(VENV)/.parley-$(1)-$$hash; \
	if [ ! -f "$$stamp" ]; then \
		echo "Installing $(2) into $(VENV)"; \
		$(PY) -m pip install --disable-pip-version-check --quiet -r $(2); \
		rm -f $(VENV)/.parley-$(1)-*; \
		touch "$$stamp"; \
	fi
endef

deps: venv
	$(call install_reqs,runtime,requirements.txt,requirements.txt)

dev-deps: deps
	$(call install_reqs,dev,requirements-dev.txt,requirements.txt requirements-dev.txt)
