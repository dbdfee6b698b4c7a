// Package controllers holds the arc-lockdown reconcilers: the scale-set
// reconciler that keeps each AutoscalingRunnerSet's egress objects in force,
// the Envoy access-log receiver and the GitHub webhook endpoint.
package controllers
