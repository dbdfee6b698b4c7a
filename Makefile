# arc-lockdown build, test and generation targets. Run `make help` for the list.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

ROOT := $(shell pwd)
BIN := $(ROOT)/bin

# Kubernetes control plane for envtest, built from the Go module proxy.
K8S_VERSION := 1.37.2
ENVTEST_DIR := $(BIN)/k8s/$(K8S_VERSION)
KUBE_APISERVER := $(ENVTEST_DIR)/kube-apiserver
ETCD := $(ENVTEST_DIR)/etcd

HELM := $(BIN)/helm
CONTROLLER_GEN := $(BIN)/controller-gen
GOLANGCI_LINT := $(BIN)/golangci-lint
NPM_DIR := $(BIN)/npm
NPM_STAMP := $(NPM_DIR)/.stamp

# Directories the tests read. ARC_CRDS_DIR holds the current ARC CRDs and
# ARC_SAMPLES_DIR scale sets rendered by ARC's chart; both live outside the
# repository and may be pointed elsewhere.
ARC_CRDS_DIR ?= $(abspath $(ROOT)/../shared/crds/actions-runner-controller/gha-runner-scale-set-0.14.2)
ARC_SAMPLES_DIR ?= $(abspath $(ROOT)/../shared/samples/arc-0.14.2)

TEST_ENV := KUBEBUILDER_ASSETS=$(ENVTEST_DIR) ARC_CRDS_DIR=$(ARC_CRDS_DIR) \
	ARC_SAMPLES_DIR=$(ARC_SAMPLES_DIR) NPM_FIXTURES_DIR=$(NPM_DIR)

GO_TEST_FLAGS ?= -timeout 30m

CRD_DIR := charts/arc-lockdown/crds
RBAC_FILE := charts/arc-lockdown/files/role.yaml

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
		/^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-12s %s\n", $$1, $$2 } \
		/^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object paths=./lockdown/api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRDs and the controller's RBAC rules into the chart.
	$(CONTROLLER_GEN) crd paths=./lockdown/api/... output:crd:artifacts:config=$(CRD_DIR)
	$(CONTROLLER_GEN) rbac:roleName=arc-lockdown paths=./controllers/... output:rbac:stdout > $(RBAC_FILE).tmp
	mv $(RBAC_FILE).tmp $(RBAC_FILE)

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint with the linters listed in .golangci.yml.
	$(GOLANGCI_LINT) run ./...

.PHONY: test
test: envtest fixtures ## Run every test, including those against a real kube-apiserver.
	$(TEST_ENV) go test $(GO_TEST_FLAGS) ./...

.PHONY: bench
bench: envtest fixtures ## Run the benchmarks.
	$(TEST_ENV) go test -run '^$$' -bench . -benchmem $(GO_TEST_FLAGS) ./...

.PHONY: verify
verify: generate manifests ## Regenerate, fail on a diff, then lint and test.
	git diff --exit-code -- lockdown/api $(CRD_DIR) $(RBAC_FILE)
	$(MAKE) lint
	$(MAKE) test

##@ Build

.PHONY: build
build: ## Build the arc-lockdown binary into bin/.
	go build -o $(BIN)/arc-lockdown ./cmd/arc-lockdown

.PHONY: demo
demo: envtest fixtures build ## Run the whole job on this machine: API server, GitHub stand-in, controller, samples.
	go test -c -o $(BIN)/demo.test ./test/demo
	$(TEST_ENV) $(BIN)/demo.test -test.run '^TestDemo$$' -test.timeout 15m \
		-demo.print -demo.binary $(BIN)/arc-lockdown -demo.workdir $(BIN)/demo

##@ Deployment

# Namespace the controller runs in for `make run` and `make deploy`.
NAMESPACE ?= arc-lockdown-system

.PHONY: run
run: ## Run the controller against the cluster in KUBECONFIG.
	go run ./cmd/arc-lockdown controller --namespace $(NAMESPACE)

.PHONY: deploy
deploy: $(HELM) ## Install or upgrade the Helm chart in the cluster in KUBECONFIG.
	$(HELM) upgrade --install arc-lockdown charts/arc-lockdown --namespace $(NAMESPACE) --create-namespace

##@ Tools

.PHONY: envtest
envtest: $(KUBE_APISERVER) $(ETCD) ## Build kube-apiserver and etcd for envtest into bin/ (once).

$(KUBE_APISERVER) $(ETCD):
	bash hack/build-envtest.sh $(ENVTEST_DIR)

.PHONY: fixtures
fixtures: $(NPM_STAMP) ## Fetch GitHub's OpenAPI description and webhook examples from npm into bin/.

$(NPM_STAMP): hack/fetch-npm.sh
	bash hack/fetch-npm.sh $(NPM_DIR)
	touch $@

$(HELM): go.mod
	go build -o $@ helm.sh/helm/v4/cmd/helm

$(CONTROLLER_GEN): hack/tools/go.mod
	cd hack/tools && go build -o $@ sigs.k8s.io/controller-tools/cmd/controller-gen

$(GOLANGCI_LINT): hack/tools/go.mod
	cd hack/tools && go build -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint
