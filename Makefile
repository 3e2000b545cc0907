# mec-testbed: `make help` lists every target. Recipes stay short; the logic lives in hack/ and services/cli.
SHELL := bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory
# Every pinned version and digest (KUBERNETES_VERSION, KIND_NODE_IMAGE, ETCD_VERSION, …): one file for make and scripts.
include versions.env

PROFILE ?= 5g-mec
# Node 24 runs the code (TypeScript by type stripping). When the machine's `node` is another major, the pinned
# NODE_VERSION goes first on PATH for every recipe (fetched once into ~/.cache/mec-testbed by hack/dev/node.sh);
# NODE=/path/to/node names one instead.
NPM ?= npm
ifeq ($(origin NODE),undefined)
NODE_DIR := $(shell NPM="$(NPM)" hack/dev/node.sh --dir)
ifneq ($(NODE_DIR),)
export PATH := $(NODE_DIR):$(PATH)
NODE := $(NODE_DIR)/node
endif
endif
NODE ?= node

##@ Help
.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m [VAR=value]\n"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development
# Every target that runs Node depends on node_modules, so each first makes sure a Node 24 is there (or says what
# to install) instead of failing later with a stack trace.
.PHONY: node
node: ## Make sure Node.js 24 is there: the machine's, or the pinned NODE_VERSION fetched into the cache
	@NPM="$(NPM)" $(if $(filter command line environment,$(origin NODE)),NODE="$(NODE)") hack/dev/node.sh

node_modules: package.json package-lock.json | node
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
	$(NPM) run typecheck

.PHONY: dev
dev: node_modules ## Docker-free testbed: edge via ue->edge on :8081, cloud via ue->cloud on :8082 (PROFILE=<preset|file>, DEV_*_PORT)
	$(NODE) hack/dev/main.ts

# PROFILE only when given: without one, dev-profile shows its usage and the presets instead of applying the default.
.PHONY: dev-profile
dev-profile: node_modules ## Switch the running `make dev` testbed to PROFILE=<preset|file> (validated; a bad one is refused)
	$(NODE) hack/dev/profile.ts $(if $(filter command line environment,$(origin PROFILE)),"$(PROFILE)")

.PHONY: generate
generate: node_modules ## Regenerate every generated file (JSON Schema, dashboards' JSON, README tables, predictions, default profile); commit the result
	$(NODE) hack/generate/main.ts

##@ Tests
.PHONY: test
test: node_modules lint typecheck ## Run every test: lint, types, unit, HTTP, container, Prometheus and Kubernetes API tests
	$(NPM) test

##@ Build
.PHONY: images
images: ## Build the edge, cloud and link-proxy images (mec-testbed/{edge,cloud,link-proxy}:dev; makes a local Node 24 base when pulls are impossible)
	hack/images/build.sh

##@ Link agent
.PHONY: link-agent-image
link-agent-image: ## Build mec-testbed/link-agent:dev (Node base + Debian's tc/ip, their libraries and netem's .dist tables)
	services/link-agent/image/build.sh

# The netem backend on real netem: a stock Debian kernel under qemu (software emulation; no KVM, no root), sites
# as network namespaces wired like kind nodes, the link agent itself on each (hack/netem-vm/README.md).
.PHONY: netem-vm-image
netem-vm-image: ## Build (or find cached) the netem VM: the current Debian kernel, busybox, iproute2, iputils' ping, Node (~/.cache/mec-testbed/netem-vm)
	hack/netem-vm/build.sh >/dev/null

.PHONY: netem-vm-test
netem-vm-test: node_modules netem-vm-image ## The link agent on real netem: delays per pair vs the profile, loss, rate, a change within 5 s, clean shutdown (a few minutes)
	$(NODE) --test --test-reporter=spec hack/netem-vm/netem-vm.test.ts

.PHONY: netem-vm-bench
netem-vm-bench: node_modules netem-vm-image ## Every preset on real netem: per ordered pair, node and pod IPs, egress and path: p50/p99 error, jitter, loss, rate, switch time (ARGS="--presets 5g-mec --count 200 --json FILE")
	$(NODE) hack/netem-vm/bench.ts $(ARGS)

##@ Benchmarks
.PHONY: bench-overhead
bench-overhead: node_modules ## The testbed's own overhead as the UE sees it on make dev (measured − configured round trip, p50/p99, echo at 100/500/1,000 req/s) and what scraping /metrics every second costs
	$(NODE) bench/overhead.ts $(ARGS)

.PHONY: bench-services
bench-services: node_modules ## Edge echo throughput and p50/p99 vs a bare node:http server (ratio), and inspect megapixels/s
	$(NODE) bench/services-throughput.ts

.PHONY: bench-inspect
bench-inspect: node_modules ## The inspect PNG decoder (libvips via sharp) vs pngjs: megapixels/s and peak memory per image (ARGS="--rounds 5 --repeat 5")
	$(NODE) bench/inspect-decode.ts $(ARGS)

TOXIPROXY_DIR ?= $(HOME)/.cache/mec-testbed/toxiproxy-$(TOXIPROXY_VERSION)
# Toxiproxy is only measured beside the proxy: built from its Go module where Go is here, else left out (the
# benchmarks say so).
.PHONY: toxiproxy
toxiproxy:
	@if [ ! -x "$(TOXIPROXY_DIR)/server" ] && command -v go >/dev/null; then \
	  echo "building Toxiproxy $(TOXIPROXY_VERSION) into $(TOXIPROXY_DIR) (for comparison only; never committed)"; \
	  GOBIN="$(TOXIPROXY_DIR)" go install github.com/Shopify/toxiproxy/v2/cmd/server@$(TOXIPROXY_VERSION) || true; fi

.PHONY: bench-fidelity
bench-fidelity: node_modules toxiproxy ## Link proxy vs direct and vs Toxiproxy (built from its Go module when Go is here): delay error at p50/p99, median of 3 runs; then make dev's prediction check (ARGS="--compare DIR" for an A/B against another checkout)
	TOXIPROXY_BIN="$(TOXIPROXY_DIR)/server" $(NODE) bench/link-fidelity.ts $(ARGS)
	$(NODE) bench/dev-prediction.ts

##@ Kubernetes control plane (CI)
# A real etcd + kube-apiserver + kube-controller-manager (no kubelet) built from Go modules, for tests and people.
.PHONY: kube-build
kube-build: ## Build etcd, kube-apiserver, kube-controller-manager, kubectl at the pinned versions (cached; cold: minutes)
	hack/kube/build.sh

.PHONY: kube-up
kube-up: ## Start the control plane on loopback and print its kubeconfig (KUBE_STATE_DIR to choose where)
	hack/kube/control-plane.sh up

.PHONY: kube-down
kube-down: ## Stop the control plane kube-up started
	hack/kube/control-plane.sh down

.PHONY: kube-status
kube-status: ## Show which control-plane components run, and the kubeconfig
	hack/kube/control-plane.sh status

.PHONY: kube-build-node
kube-build-node: ## Also build kubelet, kube-scheduler, kube-proxy, CoreDNS, kube-router (for kube-node-up: pods that really run)
	hack/kube/build.sh --with-node

.PHONY: kube-node-up
kube-node-up: ## Add one real node to the kube-up control plane (root; containerd, runc, CNI plugins from Debian)
	hack/kube/node.sh up

.PHONY: kube-node-down
kube-node-down: ## Drain and stop that node, undoing its host changes (kube-down does it too)
	hack/kube/node.sh down

##@ Testbed
# The kind testbed. Versions and digests come from versions.env (included above); the logic is in hack/testbed/
# and services/cli.
KIND_CLUSTER ?= mec-testbed
KUBE_CONTEXT ?= kind-$(KIND_CLUSTER)
WAIT_TIMEOUT ?= 300
# EMULATION: auto (netem where the nodes' kernel has it, else the userspace link proxy, saying so), netem or proxy.
EMULATION ?= auto
# GRAFANA=off: a headless testbed (Prometheus, the probes and the CLI, no Grafana).
GRAFANA ?= on
# Grafana's and Prometheus's ports on 127.0.0.1; another pair (and another KIND_CLUSTER) runs a second testbed.
GRAFANA_PORT ?= 3000
PROMETHEUS_PORT ?= 9090
# kind and kubectl: the ones on PATH when they are the pinned versions, else ./bin/<tool>-<version> (downloaded
# on first use, sha256-checked). KIND=… / KUBECTL=… choose others. Looked up once, and only when a target needs it.
KIND ?= $(eval KIND := $$(shell hack/tools/find.sh kind))$(KIND)
KUBECTL ?= $(eval KUBECTL := $$(shell hack/tools/find.sh kubectl))$(KUBECTL)
# The CLI runs on the host's Node 24 when there is one, else in the link-agent image (hack/testbed/cli-in-docker.sh),
# so running the testbed needs only Docker, make and a shell.
CLI_RUNTIME ?= $(if $(filter 24,$(shell $(NODE) -p 'process.versions.node.split(".")[0]' 2>/dev/null)),node,docker)
MEC_CLI_node := $(NODE) services/cli/main.ts --context $(KUBE_CONTEXT)
MEC_CLI_docker = hack/testbed/cli-in-docker.sh $(KIND) $(KIND_CLUSTER) mec-testbed/link-agent:dev --context $(KUBE_CONTEXT)
MEC_CLI = $(MEC_CLI_$(CLI_RUNTIME))
CLI_DEPS := $(if $(filter node,$(CLI_RUNTIME)),node_modules)
TESTBED_ENV = KIND="$(KIND)" KUBECTL="$(KUBECTL)" KIND_CLUSTER="$(KIND_CLUSTER)" KUBE_CONTEXT="$(KUBE_CONTEXT)" \
  KIND_NODE_IMAGE="$(KIND_NODE_IMAGE)" EMULATION="$(EMULATION)" GRAFANA="$(GRAFANA)" GRAFANA_PORT="$(GRAFANA_PORT)" \
  PROMETHEUS_PORT="$(PROMETHEUS_PORT)" PROFILE="$(PROFILE)" WAIT_TIMEOUT="$(WAIT_TIMEOUT)" MEC_CLI="$(MEC_CLI)" \
  PROMETHEUS_IMAGE="$(PROMETHEUS_IMAGE)" BLACKBOX_EXPORTER_IMAGE="$(BLACKBOX_EXPORTER_IMAGE)" GRAFANA_IMAGE="$(GRAFANA_IMAGE)"

.PHONY: tools
tools: ## Install the pinned kind and kubectl into ./bin unless they are on PATH or chosen (sha256 checked)
	$(if $(filter bin/%,$(KIND)),hack/tools/install.sh kind)
	$(if $(filter bin/%,$(KUBECTL)),hack/tools/install.sh kubectl)

.PHONY: up
up: $(CLI_DEPS) ## Create or update the testbed and print its URLs (EMULATION=auto|netem|proxy, PROFILE=<preset|file>, GRAFANA=off)
	$(TESTBED_ENV) hack/testbed/up.sh

.PHONY: down
down: ## Delete the testbed's kind cluster (nothing else is touched; nothing is downloaded when there is none)
	$(TESTBED_ENV) hack/testbed/down.sh

.PHONY: status
status: $(CLI_DEPS) ## Nodes and sites, pods, the profile each link agent applied, netem per node, URLs
	$(MEC_CLI) status

.PHONY: profile
profile: $(CLI_DEPS) ## Switch the link profile at run time: PROFILE=<preset|file> (validated first; invalid ones are refused)
	$(MEC_CLI) profile $(PROFILE)

.PHONY: logs
logs: ## Follow the logs of the testbed's pods (APP=edge|cloud|link-agent|... to pick one)
	@$(TESTBED_ENV) hack/testbed/need-cluster.sh
	$(KUBECTL) --context $(KUBE_CONTEXT) logs -n $(if $(filter link-agent,$(APP)),mec-testbed-system,mec-testbed) -l $(if $(APP),app.kubernetes.io/name=$(APP),app.kubernetes.io/part-of=mec-testbed) --all-containers --prefix --tail=50 --max-log-requests=20 -f

.PHONY: load
load: $(CLI_DEPS) ## Run k6 on the ue node against edge and cloud, judged against the profile in force; summary to results/ (MEC_SCRIPT=echo|inspect|media|mixed, MEC_RATE, MEC_DURATION, MEC_SCENARIO)
	@$(TESTBED_ENV) hack/testbed/need-cluster.sh
	loadtest/run.sh $(KUBECTL) $(KUBE_CONTEXT) $(MEC_CLI)

.PHONY: kind-e2e
kind-e2e: node_modules ## On a machine without image pulls (CI): build kind, the node and upstream images offline, then run make up/status/profile/up/down and check them (hack/offline-ci/)
	hack/offline-ci/kind-e2e.sh

##@ Experiments
EXPERIMENT ?= smoke
.PHONY: experiment
experiment: node_modules ## Sweep, repeat, analyse, report: EXPERIMENT=<smoke|presets|backhaul|crossover|uplink|file> [DRY_RUN=1] [RESUME=results/<dir>]
	$(NODE) services/experiment/main.ts run "$(EXPERIMENT)" $(if $(DRY_RUN),--dry-run) $(if $(RESUME),--resume "$(RESUME)")

.PHONY: experiment-compare
experiment-compare: node_modules ## Do two result sets differ? A=results/<dir> B=results/<dir> (Mann-Whitney per condition, site, percentile; Holm)
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make experiment-compare A=results/<dir> B=results/<dir>"; exit 2; }
	$(NODE) services/experiment/main.ts compare "$(A)" "$(B)"

.PHONY: experiment-report
experiment-report: node_modules ## Recompute a result set's runs.csv, summary.json, figures and report.html from its raw requests: DIR=results/<dir>
	@test -n "$(DIR)" || { echo "usage: make experiment-report DIR=results/<dir>"; exit 2; }
	$(NODE) services/experiment/main.ts report "$(DIR)"

##@ Observability
.PHONY: promtool3
promtool3: ## Build the cluster's promtool and prometheus (3.x, Kubernetes discovery, native histograms) into ./bin
	k8s/base/prometheus/promtool3.sh


.PHONY: picture
picture: node_modules ## Redraw docs/overview.png: the loopback testbed under load, the overview's main panels from a real Prometheus (needs prometheus, blackbox exporter, rsvg-convert)
	MEC_WRITE_PICTURE=docs/overview.png $(NODE) --test test/observability/dashboards.live.test.ts
