// Package accesslog turns Envoy access logs into check runs on the jobs that
// made the connections.
//
// It owns the gRPC Access Log Service server (envoy.service.accesslog.v3)
// that runner sidecars and the egress gateway stream to, the classification
// of each log entry (blocked by REGISTRY_ONLY, denied at the gateway,
// allowed, or would be blocked in audit mode), the attribution of a source
// pod IP to a runner and its current job, and the batched, deduplicated
// `egress / <job name>` check run on the job's head SHA.
//
// Data flows one way: Server → Reporter.Submit (bounded queue) → Attributor
// → per-job state → periodic flush → GitHub. Every stage is bounded: a full
// queue, a job over its destination cap, or a full job table drops entries
// and counts them in Prometheus metrics instead of growing.
package accesslog
