# The README's two commands are `make demo` and `make test`; both run `make setup` first
# (`make test` also builds the Kubernetes tools its tests start).
SHELL := /bin/bash
PY := .venv/bin/python
export PYTHONPATH := $(CURDIR)/services:$(CURDIR)/tools
PROTOS := $(wildcard protos/kiseki/v1/*.proto)
GENERATED := services/kiseki/v1

.PHONY: setup setup-kube images images-test cluster-test protos protos-check k8s-base lint typecheck test test-unit test-integration chaos soak demo bench clean

setup:
	@bash tools/setup.sh

# Everything setup installs plus the tests' Kubernetes control plane and helm (Go builds).
setup-kube:
	@bash tools/setup.sh --kube

protos: setup
	@$(PY) tools/gen_protos.py $(GENERATED)

# CI fails when the committed generated code differs from what `make protos` writes.
protos-check: setup
	@$(PY) tools/gen_protos.py --check $(GENERATED)

# The kiseki and Triton images from services/Dockerfile, with podman on a Debian base made here
# (tools/images.py; KISEKI_COMET=1 adds COMET's environment). Prints tags, sizes, seconds.
images: setup
	@bash tools/setup.sh --images
	@$(PY) tools/images.py $(if $(filter 1,$(KISEKI_COMET)),--comet)

# The images started as the chart and the orchestrator's serving pod run them (testcontainers
# through podman's Docker API); `make test` runs them too.
images-test: images
	@$(PY) -m pytest -q tests/integration/images

# The chart installed on a single-node Kubernetes of real parts (tools/cluster.py, needs root):
# every Deployment available, helm test, the long form's evaluation inside the cluster, helm
# upgrade and uninstall, the host put back. `make test` runs its short form.
cluster-test: setup-kube
	@KISEKI_CLUSTER_FORM=long $(PY) -m pytest -s -q --timeout=3600 tests/integration/cluster

# k8s/base is the chart rendered with its default values; a test fails when it is stale.
k8s-base: setup-kube
	@$(PY) tools/k8s_base.py

lint: setup
	@.venv/bin/ruff check services tools tests
	@.venv/bin/ruff format --check services tools tests
	@.venv/bin/lint-imports --config pyproject.toml
	@.venv/bin/mypy

typecheck: setup
	@.venv/bin/mypy

# pytest exits 5 when it collected nothing: that stays a failure, with a word on why.
test: setup-kube protos-check lint
	@$(PY) -m pytest tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$rc

test-unit: setup
	@$(PY) -m pytest -q tests/unit

test-integration: setup-kube
	@$(PY) -m pytest -q tests/integration

# The chaos test's long form (at least 200 checkpoints and 56 kills, every victim 8 times both ways,
# kills in every lifecycle phase; about half an hour on two
# cores); `make test` runs its short form.
chaos: setup
	@KISEKI_CHAOS_FORM=long $(PY) -m pytest -s -q --timeout=3600 tests/chaos

# The soak runs: 1,000 checkpoints through the local stack without kills (an hour or more on
# two cores) and 3,000 through the sink alone (minutes), failing when a process's RSS or fds, a
# consumer group's lag or the store's part count grows with them. `make test` runs only their
# slope checks.
soak: setup
	@KISEKI_SOAK_FORM=long $(PY) -m pytest -s -q --timeout=14400 tests/soak

demo: setup
	@$(PY) tools/demo.py

bench: setup
	@bash tools/bench/run_all.sh

clean:
	rm -rf .artifacts .pytest_cache .mypy_cache .ruff_cache
