// Package lockdown is the pure core of arc-lockdown: it parses a
// repository's .github/egress.yaml, bounds it by the administrator's
// EgressPolicy into an effective Profile, and renders a scale set plus its
// profile into typed Istio and NetworkPolicy objects.
//
// It imports neither a Kubernetes client nor a GitHub client: profiles in,
// typed objects and reasons out.
package lockdown
