package accesslog

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons an entry or a destination is dropped, as the dropped counter's
// reason label values.
const (
	DropQueueFull       = "queue_full"
	DropUnknownSource   = "unknown_source"
	DropNoJob           = "no_job"
	DropMaxJobs         = "max_jobs"
	DropMaxDestinations = "max_destinations"
	DropAttributionErr  = "attribution_error"
	DropInvalidStream   = "invalid_stream"
)

// otherDestination is the destination label value that folds every
// destination past Metrics' cap into one series.
const otherDestination = "other"

// Metrics holds the Prometheus metrics of the access-log pipeline.
type Metrics struct {
	// Blocked counts connections blocked by REGISTRY_ONLY or denied at the
	// gateway, by namespace, scale set and destination host.
	Blocked *prometheus.CounterVec
	// Entries counts classified entries by verdict.
	Entries *prometheus.CounterVec
	// Dropped counts entries and destinations dropped, by reason.
	Dropped *prometheus.CounterVec
	// GitHubRequests counts check-run writes and workflow-run reads by
	// result (ok, error, skipped_cap).
	GitHubRequests *prometheus.CounterVec

	maxDestinations int
	mu              sync.Mutex
	destinations    map[string]struct{}
}

// NewMetrics creates the metrics and registers them with reg. At most
// maxDestinations distinct destination label values are used; later ones
// are counted as "other" so that hostile traffic cannot grow the series
// count without bound.
func NewMetrics(reg prometheus.Registerer, maxDestinations int) (*Metrics, error) {
	m := &Metrics{
		Blocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arc_lockdown_blocked_connections_total",
			Help: "Connections from runner pods blocked by REGISTRY_ONLY or denied at the egress gateway.",
		}, []string{"namespace", "scale_set", "destination"}),
		Entries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arc_lockdown_access_log_entries_total",
			Help: "Envoy access-log entries received, by verdict.",
		}, []string{"verdict"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arc_lockdown_access_log_dropped_total",
			Help: "Access-log entries or destinations dropped, by reason.",
		}, []string{"reason"}),
		GitHubRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arc_lockdown_access_log_github_calls_total",
			Help: "Check-run writes and workflow-run reads made for job feedback, by result.",
		}, []string{"result"}),
		maxDestinations: maxDestinations,
		destinations:    map[string]struct{}{},
	}
	for _, c := range []prometheus.Collector{m.Blocked, m.Entries, m.Dropped, m.GitHubRequests} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// destinationLabel returns host when it is among the first maxDestinations
// distinct values, else "other".
func (m *Metrics) destinationLabel(host string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.destinations[host]; ok {
		return host
	}
	if len(m.destinations) >= m.maxDestinations {
		return otherDestination
	}
	m.destinations[host] = struct{}{}
	return host
}

func (m *Metrics) drop(reason string) {
	m.Dropped.WithLabelValues(reason).Inc()
}
