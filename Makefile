# mec-testbed: `make help` lists every target. Recipes stay short; the logic lives in hack/ and services/cli.
SHELL := bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PROFILE ?= 5g-mec
EMULATION ?= netem
NODE ?= node
NPM ?= npm

##@ Help
.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m [VAR=value]\n"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development
node_modules: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch node_modules

.PHONY: deps
deps: node_modules ## Install the npm dependencies (npm ci)

.PHONY: lint
lint: node_modules ## Lint and check formatting (biome)
	npx biome check .

.PHONY: fmt
fmt: node_modules ## Format the code (biome)
	npx biome check --write .

.PHONY: typecheck
typecheck: node_modules ## Type-check everything, k6 scripts included (tsc)
	npx tsc -p tsconfig.json

##@ Tests
.PHONY: test
test: node_modules lint typecheck ## Run every test: lint, types, unit, HTTP, container, Prometheus and Kubernetes API tests
	$(NPM) test
