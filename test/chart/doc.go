// Package chart tests the Helm chart in charts/arc-lockdown in-process with
// the Helm v4 SDK: lint, golden renders, schema rejections, the generated
// RBAC rules, the values documentation in the chart README, and creation of
// the rendered objects on a real kube-apiserver (test/envtest).
//
// Refresh the golden files and the README's values table with
//
//	go test ./test/chart -update
package chart
