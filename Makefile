# eci-operator — run `make help` for the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

## help: list the targets
.PHONY: help
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /' | column -t -s ':'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: Python 3.11+ is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

## venv: create .venv and install the project with its dev tools
.PHONY: venv
venv: $(STAMP)

## cluster-build: build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl into .cluster/bin
.PHONY: cluster-build
cluster-build:
	@bash cluster/build.sh

## cluster-up: start the local control plane (idempotent); kubeconfig at .cluster/kubeconfig
.PHONY: cluster-up
cluster-up: $(STAMP) cluster-build
	@$(BIN)/eci-operator cluster up

## cluster-down: stop exactly the control-plane processes cluster-up started
.PHONY: cluster-down
cluster-down: $(STAMP)
	@$(BIN)/eci-operator cluster down

## run: the main job — local control plane (unless KUBECONFIG names a cluster), CRDs, sample profile, operator
.PHONY: run
run: $(STAMP) cluster-build
	@bash cluster/run.sh

## lint: ruff, mypy --strict and import-linter
.PHONY: lint
lint: $(STAMP)
	$(BIN)/ruff check operator tests
	$(BIN)/ruff format --check operator tests
	$(BIN)/mypy
	$(BIN)/lint-imports

## format: apply ruff's fixes and formatting
.PHONY: format
format: $(STAMP)
	$(BIN)/ruff check --fix operator tests
	$(BIN)/ruff format operator tests

## test-unit: unit tests only (no cluster)
.PHONY: test-unit
test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

## test: lint, unit tests, then integration tests on the real control plane (built on first use)
.PHONY: test
test: $(STAMP) cluster-build lint
	$(BIN)/pytest tests

## clean: stop the local cluster and remove .cluster/ data (keeps built binaries) and caches
.PHONY: clean
clean:
	-@[ -x $(BIN)/eci-operator ] && $(BIN)/eci-operator cluster down
	rm -rf .cluster/data .cluster/pki .cluster/logs .cluster/state .mypy_cache .ruff_cache .pytest_cache
