# Flywheel's front door. The work lives in hack/*.sh; `make help` lists the
# targets.

.DEFAULT_GOAL := help
BIN ?= bin

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Bring Flywheel up locally and run the sample (needs root; ARGS=--exit to stop after it).
	hack/run.sh $(ARGS)

.PHONY: test
test: ## Run every test layer: unit, integration (needs root).
	hack/test.sh

.PHONY: fuzz
fuzz: ## Fuzz the HTTP/1.1 fast path and client against net/http (FUZZTIME per target, default 1m).
	for t in FuzzRequest FuzzResponse FuzzReadBody FuzzClientResponse FuzzClientRequest; do go test -run '^$$' -fuzz "^$$t\$$" -fuzztime $${FUZZTIME:-1m} ./pkg/network/http1 || exit 1; done

.PHONY: build
build: ## Build every binary into $(BIN)/.
	go build -o $(BIN)/ ./cmd/...

.PHONY: generate
generate: ## Regenerate clients, injection, reconcilers, deep copies and CRDs.
	hack/update-codegen.sh

.PHONY: verify
verify: ## gofmt, go vet, generated code up to date, lint.
	hack/verify.sh

.PHONY: controlplane
controlplane: ## Build (or find cached) etcd, kube-apiserver, kube-controller-manager.
	hack/build-controlplane.sh

.PHONY: release
release: ## Build the images with ko, push them to $KO_DOCKER_REPO, write bin/release/flywheel.yaml (docs/install.md).
	hack/release.sh $(ARGS)
