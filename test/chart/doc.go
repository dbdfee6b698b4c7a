// Package chart tests the Helm chart in charts/arc-lockdown in-process with
// the Helm v4 SDK. It covers lint, golden renders, schema rejections, the
// generated RBAC rules, the controller's NetworkPolicy and the values table
// of the chart README. It also creates the rendered objects on a real
// kube-apiserver (test/envtest) and installs the chart there.
//
// Refresh the golden files and the README's values table with
//
//	go test ./test/chart -update
package chart
