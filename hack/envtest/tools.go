//go:build tools

// Package envtest pins the kube-apiserver and etcd sources that the Makefile
// builds into bin/ for controller-runtime's envtest.
package envtest

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
