# snapproxy: `make run` starts the whole suite on the embedded default; `make test` runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
SNAPPROXY_PORT ?= 8000
export SNAPPROXY_PORT
# pytest-xdist workers for `make test`: most tests wait on processes and sockets, so more
# workers than cores pays; each test file runs on one worker (its fixtures are shared).
TEST_WORKERS ?= 3

.DEFAULT_GOAL := help
.PHONY: help install run run-split migrate lint typecheck test test-fast test-compose nginx-conf config-docs bench clean

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## Create .venv and install snapproxy with its dev tools

migrate: install ## Apply database migrations (SNAPPROXY_DATABASE_URL, default SQLite in ./var)
	$(BIN)/snap-proxy db upgrade

run: migrate ## Run everything in one process on 127.0.0.1:$SNAPPROXY_PORT (SQLite, in-process cache)
	$(BIN)/snap-proxy serve

run-split: install ## Run each service as its own process behind nginx (needs PostgreSQL and memcached)
	$(BIN)/snap-proxy db upgrade
	$(BIN)/snap-proxy run-split --port $(SNAPPROXY_PORT)

nginx-conf: install ## Re-render the gateway configs (compose, deploy/k8s) from the route table
	$(BIN)/snap-proxy render-nginx -o deploy/nginx/nginx.conf
	$(BIN)/snap-proxy render-nginx --layout kubernetes -o deploy/k8s/base/gateway/nginx.conf
	$(BIN)/snap-proxy render-nginx --layout kubernetes-local-cache \
		-o deploy/k8s/overlays/single-node/nginx.conf
	$(BIN)/snap-proxy render-nginx --layout kubernetes-tls -o deploy/k8s/components/tls/nginx.conf

config-docs: install ## Re-generate docs/configuration.md from the key registry and settings
	$(PY) -m shared.config.reference -o docs/configuration.md

lint: install ## ruff (lint and format check)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install ## mypy (strict for shared/, services/ and tests/, relaxed on annotations in tests/)
	$(BIN)/mypy

test: lint typecheck ## Lint, type-check and run every test (the compose stack too: see test-compose)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --durations=40 $(T)

test-compose: install ## Only the real compose stack test (root; needs docker.io, docker-compose, debootstrap)
	$(BIN)/pytest -m compose tests/compose

test-fast: install ## Run the tests without lint (T=path to pick some)
	$(BIN)/pytest $(T)

bench: install ## Run the benchmarks in bench/
	$(PY) bench/metadata.py
	$(PY) bench/downloads.py
	$(PY) bench/offline_import.py

clean: ## Remove local state (./var) and caches
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
