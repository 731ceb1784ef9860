# The course's user interface: `make help` lists every target.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.DEFAULT_GOAL := help
.PHONY: help install lab formgrader test release collect autograde bench-grading bench cluster-up cluster-down \
	cluster-status docker-build docker-up docker-down check data lint clean java

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
# Students get nbgrader's Validate button; the formgrader is the instructors' (make formgrader).
lab: java $(VENV)/.installed ## Open JupyterLab on the student notebooks
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(LAB_ROOT) --ServerApp.ip=127.0.0.1 \
		--ServerApp.jpserver_extensions=nbgrader.server_extensions.formgrader=False $(LAB_ARGS)

COURSE ?= .
formgrader: $(VENV)/.installed ## Open nbgrader's formgrader (instructors) on the course in COURSE (default: here)
	cd $(COURSE) && $(CURDIR)/$(VENV)/bin/jupyter lab --ServerApp.root_dir=. --ServerApp.ip=127.0.0.1 \
		--ServerApp.default_url=/formgrader $(LAB_ARGS)

test: java $(VENV)/.installed ## Run the whole test suite (what CI runs)
	$(PY) -m pytest --durations=10

release: $(VENV)/.installed ## Regenerate notebooks/ from solutions/ with nbgrader, and the student bundle
	$(PY) -m grader.release
	$(PY) -m grader.bundle

# Grading a class (see README, "For instructors"). SUBMISSIONS: an nbgrader exchange, a folder or a .zip.
collect: $(VENV)/.installed ## Place submissions from SUBMISSIONS=<folder or zip> into submitted/
	$(PY) -m grader.collect "$(SUBMISSIONS)"

autograde: $(VENV)/.installed ## Grade every new or changed submission (LESSON=... for one), feedback and grades.csv
	$(PY) -m grader.autograde $(LESSON)

bench-grading: $(VENV)/.installed ## Benchmark: 20 synthetic submissions, plain nbgrader vs grader.autograde
	$(PY) -m grader.bench_grading --students 20

bench: $(VENV)/.installed ## Benchmark PySpark's performance traps (UDF ladder, Arrow, shuffles, skew); figures in build/bench/
	$(PY) -m grader.bench_performance

# A real Spark cluster: natively from the pip-installed PySpark, or in Docker (same entrypoint, docker/).
cluster-up: $(VENV)/.installed ## Start a standalone master, 2 workers and Spark Connect on 127.0.0.1
	$(PY) docker/local_cluster.py up

cluster-down: $(VENV)/.installed ## Stop exactly the processes cluster-up started
	$(PY) docker/local_cluster.py down

cluster-status: $(VENV)/.installed ## Show the local cluster's processes and logs
	$(PY) docker/local_cluster.py status

docker-build: ## Build the course image (needs a Docker engine)
	docker build -f docker/Dockerfile -t spark-ml-course:local .

# A fresh secret and tokens on every docker-up, so every container is recreated to share them.
docker-up: $(VENV)/.installed ## Start master, 2 workers, Spark Connect and JupyterLab in Docker (needs an engine)
	$(PY) docker/local_cluster.py docker-config --state build/docker
	docker compose -f docker/compose.yml --env-file build/docker/.env up -d --force-recreate

docker-down: ## Stop the Docker cluster (your notebooks stay in notebooks/)
	@test -f build/docker/.env || { echo "no Docker cluster was started from here (build/docker/.env is missing)"; exit 0; }; \
	docker compose -f docker/compose.yml --env-file build/docker/.env down && rm -f build/docker/client.json

check: $(VENV)/.installed ## Run the integrity harness on every lesson and print its table
	$(PY) -m grader.check_lessons --report build/lessons.md

data: $(VENV)/.installed ## Regenerate the bundled data sets and verify their checksums
	$(PY) data/generate_grants.py
	$(PY) data/generate_follows.py
	cd data && sha256sum --check SHA256SUMS

lint: $(VENV)/.installed ## Lint Python and notebooks with ruff
	$(PY) -m ruff check .

clean: ## Remove build output and nbgrader's instructor-side state (keeps .venv)
	rm -rf build gradebook.db release submitted autograded feedback source spark-warehouse grading grades.csv
