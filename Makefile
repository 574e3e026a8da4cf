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

## cluster-build: build etcd, kube-apiserver, -controller-manager, -scheduler, kubectl, metrics-server, helm into .cluster/bin
.PHONY: cluster-build
cluster-build:
	@bash cluster/build.sh

## cluster-up: start the local control plane with metrics-server (idempotent); kubeconfig at .cluster/kubeconfig
.PHONY: cluster-up
cluster-up: $(STAMP) cluster-build
	@$(BIN)/eci-operator cluster up

## cluster-down: stop exactly the control-plane processes cluster-up started
.PHONY: cluster-down
cluster-down: $(STAMP)
	@$(BIN)/eci-operator cluster down

## run: the main job — local control plane (unless KUBECONFIG names a cluster), CRDs, ASK's eci-profile ConfigMap and a VSwitch (RUN_PROFILE=eciprofile: the sample ECIProfile), operator
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

## test-handlers: the handler tier only (the operator in-process against an in-memory API server; no cluster)
.PHONY: test-handlers
test-handlers: $(STAMP)
	$(BIN)/pytest tests/handlers

## test: lint, unit tests, then integration tests on the real control plane (built on first use)
.PHONY: test
test: $(STAMP) cluster-build lint
	$(BIN)/pytest tests

FAULT_RUNS ?= 3
## test-faults: the fault suite at scale (1,000 pods, 2,000 generated annotation sets), FAULT_RUNS times in a row
.PHONY: test-faults
test-faults: $(STAMP) cluster-build
	@for i in $$(seq 1 $(FAULT_RUNS)); do \
	  echo "== fault suite run $$i/$(FAULT_RUNS)"; \
	  ECI_FAULT_PODS=$${ECI_FAULT_PODS:-1000} ECI_FAULT_ANNOTATION_PODS=$${ECI_FAULT_ANNOTATION_PODS:-2000} \
	  ECI_FAILOVER_PODS=$${ECI_FAILOVER_PODS:-300} \
	    $(BIN)/pytest tests/integration/faults -q || exit 1; \
	done

BENCH_SIZES ?= 1000,10000,20000
BENCH_DEPLOYMENT_SIZES ?= 1000,10000
BENCH_RUNS ?= 3
BENCH_SCENARIOS ?= bound,deployment,burst
BENCH_BURST_SIZES ?= 100,1000
## bench: scale benchmark vs KWOK (BENCH_SIZES=1000,10000,20000 BENCH_DEPLOYMENT_SIZES=1000,10000 BENCH_BURST_SIZES=100,1000 BENCH_RUNS=3); writes bench/SUMMARY.md, not in test
.PHONY: bench
bench: $(STAMP) cluster-build
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	@bash bench/build-kwok.sh
	$(BIN)/python bench/run.py --sizes $(BENCH_SIZES) --runs $(BENCH_RUNS) --scenarios $(BENCH_SCENARIOS) --deployment-sizes $(BENCH_DEPLOYMENT_SIZES) --burst-sizes $(BENCH_BURST_SIZES)

## clean: stop the local cluster and remove .cluster/ data (keeps built binaries) and caches
.PHONY: clean
clean:
	-@[ -x $(BIN)/eci-operator ] && $(BIN)/eci-operator cluster down
	rm -rf .cluster/data .cluster/pki .cluster/logs .cluster/state .cluster/manifests .mypy_cache .ruff_cache .pytest_cache

KUBECTL ?= $(shell command -v kubectl 2>/dev/null || echo .cluster/bin/kubectl)

## chart-crds: copy crds/ into the Helm chart (charts/eci-operator/crds/; a unit test checks they are equal)
.PHONY: chart-crds
chart-crds:
	cp crds/*.yaml charts/eci-operator/crds/

## deploy: install the CRDs (crds/) then the operator (kubectl apply -k manifests/) into the current kubeconfig's cluster
.PHONY: deploy
deploy:
	$(KUBECTL) apply -f crds/
	@# (every CRD in crds/; kubectl wait fails at once while a new CRD has no conditions yet: retry ~60 s)
	@i=0; until $(KUBECTL) wait --for=condition=Established -f crds/ --timeout=60s; do i=$$((i+1)); [ $$i -lt 60 ] || exit 1; sleep 1; done
	$(KUBECTL) apply -k manifests/

## undeploy: remove what deploy installed (operator, its webhook configurations, then the CRDs and every profile)
.PHONY: undeploy
undeploy:
	$(KUBECTL) delete -k manifests/ --ignore-not-found
	$(KUBECTL) delete validatingwebhookconfiguration,mutatingwebhookconfiguration eci-operator --ignore-not-found
	$(KUBECTL) delete -f crds/ --ignore-not-found
