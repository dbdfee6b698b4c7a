// Package demo runs arc-lockdown end to end on one machine. It starts a
// real kube-apiserver and etcd, the GitHub API stand-in serving three
// sample repositories and the arc-lockdown controller binary, then creates
// ARC's sample scale sets and a job whose blocked connections reach the
// controller as Envoy access logs. `make demo` runs it and prints what happened; `make test` runs the
// same scenario and checks it.
package demo
