# The course's user interface: `make help` lists every target.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.DEFAULT_GOAL := help
.PHONY: help install lab formgrader test test-fast progress release collect autograde bench-grading bench cluster-up cluster-down \
	cluster-status docker-base docker-build docker-up docker-down check data lint clean java

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-16s %s\n", $$1, $$2}'

java: ## Check that a Java Spark can run on (17 or newer) is installed
	@$(PYTHON) sparkcourse/java.py

$(VENV)/.installed: requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "The course needs Python 3.11 ($(PYTHON)): install it, or run make PYTHON=/path/to/python3.11."; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

install: java $(VENV)/.installed ## Create .venv with the pinned dependencies (make lab and make test do it for you)

LAB_ROOT ?= notebooks
# Students get nbgrader's Validate button; the formgrader is the instructors' (make formgrader). The
# course's Jupyter config adds the "Spark UI" launcher card (jupyter-server-proxy). Jupyter refuses
# root unless told: root is who you are in containers and many VMs.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: java $(VENV)/.installed ## Open JupyterLab on the student notebooks
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(LAB_ROOT) --ServerApp.ip=127.0.0.1 $(ALLOW_ROOT) \
		--config=$(CURDIR)/sparkcourse/jupyter_server_config.json \
		--ServerApp.jpserver_extensions=nbgrader.server_extensions.formgrader=False $(LAB_ARGS)

COURSE ?= .
formgrader: $(VENV)/.installed ## Open nbgrader's formgrader (instructors) on the course in COURSE (default: here)
	cd $(COURSE) && $(CURDIR)/$(VENV)/bin/jupyter lab --ServerApp.root_dir=. --ServerApp.ip=127.0.0.1 \
		--ServerApp.default_url=/formgrader $(LAB_ARGS)

test: java $(VENV)/.installed ## Run the whole test suite (what CI runs), two tests side by side (pytest-xdist: see tests/conftest.py)
	$(PY) -m pytest -n 2 --dist loadscope --no-loadscope-reorder --durations=15

test-fast: java $(VENV)/.installed ## Run the fast tier: pure functions and the helper package against a real Spark (minutes)
	$(PY) -m pytest -m fast --durations=10

NOTEBOOKS ?= notebooks
progress: $(VENV)/.installed ## Show your progress across the course, from your saved notebooks (they are only read)
	@$(PY) -m sparkcourse.progress $(NOTEBOOKS)

release: $(VENV)/.installed ## Regenerate notebooks/ from solutions/ with nbgrader, and the student bundle
	$(PY) -m grader.release

# Grading a class (see README, "For instructors"). SUBMISSIONS: an nbgrader exchange, a folder or a .zip.
collect: $(VENV)/.installed ## Place submissions from SUBMISSIONS=<folder or zip> into submitted/
	$(PY) -m grader.collect "$(SUBMISSIONS)"

autograde: $(VENV)/.installed ## Grade every new or changed submission (LESSON=... for one), feedback and grades.csv
	$(PY) -m grader.grade $(LESSON)

bench-grading: $(VENV)/.installed ## Benchmark: 20 synthetic submissions, plain nbgrader vs grader.grade
	$(PY) -m grader.bench.grading --students 20

bench: $(VENV)/.installed ## Benchmark PySpark's performance traps (UDF ladder, Arrow, shuffles, skew); figures in build/bench/
	$(PY) -m grader.bench.performance

# A real Spark cluster: natively from the pip-installed PySpark, or in Docker (same entrypoint, docker/).
cluster-up: $(VENV)/.installed ## Start a standalone master, 2 workers and Spark Connect on 127.0.0.1
	$(PY) -m grader.cluster up

cluster-down: $(VENV)/.installed ## Stop exactly the processes cluster-up started
	$(PY) -m grader.cluster down

cluster-status: $(VENV)/.installed ## Show the local cluster's processes and logs
	$(PY) -m grader.cluster status

# The course image and its compose stack (docker/). DOCKER: the client; COMPOSE: Compose v2 (Debian
# bookworm has only v1: see README); BASE_IMAGE empty builds on the official python image.
DOCKER ?= docker
COMPOSE ?= $(DOCKER) compose
IMAGE ?= spark-ml-course:local
BASE_IMAGE ?=
STAND_IN_BASE ?= sparkcourse-base:bookworm
DOCKER_STATE ?= build/docker
docker-base: ## Bootstrap a stand-in base image (Debian's Python 3.11) where no image registry is reachable
	docker/base.sh $(STAND_IN_BASE) "$(DOCKER)"

# The context is docker/context.sh's tar (the allow-list), whatever the builder; BuildKit for the cache mounts.
docker-build: ## Build the course image (BASE_IMAGE=sparkcourse-base:bookworm after make docker-base)
	docker/context.sh | DOCKER_BUILDKIT=1 $(DOCKER) build -f docker/Dockerfile -t $(IMAGE) \
		$(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) $(DOCKER_BUILD_ARGS) -

# A fresh secret and tokens on every docker-up, so every container is recreated to share them; it
# returns once every health check passes. DOCKER_CONFIG_ARGS: see python -m grader.cluster --help.
docker-up: $(VENV)/.installed ## Start master, 2 workers, Spark Connect and JupyterLab in Docker (needs an engine)
	@$(DOCKER) image inspect $(IMAGE) >/dev/null 2>&1 || $(MAKE) --no-print-directory docker-build
	$(PY) -m grader.cluster docker-config --state $(DOCKER_STATE) --image $(IMAGE) $(DOCKER_CONFIG_ARGS)
	$(COMPOSE) -f docker/compose.yml --env-file $(DOCKER_STATE)/.env up -d --force-recreate --wait --wait-timeout 900

docker-down: ## Stop the Docker cluster, remove its containers and network (your notebooks stay)
	@test -f $(DOCKER_STATE)/.env || { echo "no Docker cluster was started from here ($(DOCKER_STATE)/.env is missing)"; exit 0; }; \
	$(COMPOSE) -f docker/compose.yml --env-file $(DOCKER_STATE)/.env down --remove-orphans && rm -f $(DOCKER_STATE)/client.json

check: $(VENV)/.installed ## Run the integrity harness on every lesson and print its table
	$(PY) -m grader.harness --report build/lessons.md

data: $(VENV)/.installed ## Regenerate the bundled data sets and verify their checksums
	for generator in data/generate_*.py; do $(PY) $$generator || exit 1; done
	cd data && sha256sum --check SHA256SUMS

lint: $(VENV)/.installed ## Lint Python and notebooks with ruff
	$(PY) -m ruff check .

clean: ## Remove build output and nbgrader's instructor-side state (keeps .venv)
	rm -rf build gradebook.db release submitted autograded feedback source spark-warehouse grading grades.csv
