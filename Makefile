# The two commands: `make run` and `make test`. Everything else is a step they take.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The blotter's browser assets (AG Grid Community, uPlot) from the npm registry, pinned by
# package-lock.json; `npm ci` runs again only when the lock changes. The files the page loads are
# copied to static/vendor/ (not in git), where WhiteNoise and collectstatic find them.
ASSETS := static/vendor/.installed
VENDOR_FILES := node_modules/ag-grid-community/dist/ag-grid-community.min.js \
	node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css
CHROMIUM := /usr/bin/chromium

.PHONY: run test lint format setup browser bench clean-data

run: setup
	$(PY) -m oms_project.launcher

test: setup lint browser
	node --test tests/js/
	@$(PY) -m oms_project.embedded start --profile test
	@OMS_SERVICES_PROFILE=test OMS_ENV=test OMS_BUS_PREFIX=oms-test $(VENV)/bin/pytest; rc=$$?; \
	  $(PY) -m oms_project.embedded stop --profile test; exit $$rc

setup: $(STAMP) $(ASSETS)

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 is needed, found {sys.version.split()[0]}"'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

$(ASSETS): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js with npm is needed for the blotter's assets (AG Grid, uPlot)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp $(VENDOR_FILES) static/vendor/
	touch $(ASSETS)

# The blotter's browser tests drive Debian's chromium (never a browser download).
browser:
	@test -x $(CHROMIUM) || { echo "make test needs a browser at $(CHROMIUM) for the blotter's tests:" \
	  "apt-get install -y chromium (.ci/run installs it)"; exit 1; }

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# QUICK=1: every bench at small sizes (a minute or two) on services of their own, started afresh
# (var/bench-quick/): every bench still runs and passes, as CI could check. `make test` does not run it.
QUICK_RUN := $(filter-out 0,$(QUICK))
BENCH_PROFILE := $(if $(QUICK_RUN),bench-quick,bench)

bench: setup
ifneq ($(QUICK_RUN),)
	@$(PY) -m oms_project.embedded stop --profile $(BENCH_PROFILE) && rm -rf var/$(BENCH_PROFILE)
endif
	@$(PY) -m oms_project.embedded start --profile $(BENCH_PROFILE)
	@OMS_SERVICES_PROFILE=$(BENCH_PROFILE) OMS_BUS_PREFIX=oms-bench DJANGO_DEBUG=false \
	  $(PY) bench/run_all.py $(if $(QUICK_RUN),--quick); rc=$$?; \
	  $(PY) -m oms_project.embedded stop --profile $(BENCH_PROFILE); exit $$rc

clean-data:
	$(PY) -m oms_project.embedded stop --profile run
	rm -rf var/run
