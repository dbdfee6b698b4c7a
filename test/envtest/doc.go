// Package envtest starts a real kube-apiserver and etcd for tests, with the
// CRDs arc-lockdown works with installed: Istio's (from the istio.io/api
// module), ARC's (either the v0.27.6 set from the Go module or the current
// gha-runner-scale-set set from ARC_CRDS_DIR) and arc-lockdown's own.
//
// The binaries come from KUBEBUILDER_ASSETS, or from bin/k8s/<version> in
// the repository when that is unset; `make envtest` builds them.
package envtest
