//go:build tools

// Package tools pins the code generators and linters that the Makefile
// builds into bin/. It is a module of its own so that their dependencies
// stay out of the project's go.mod.
package tools

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
