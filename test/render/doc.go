// Package render contains the acceptance tests of lockdown.Render against a
// real kube-apiserver: every rendered object must pass the API server's
// validation of the Istio and Kubernetes schemas.
package render
