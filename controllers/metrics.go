package controllers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Results of a scale-set reconcile, the "result" label of the metrics.
const (
	resultApplied       = "applied"
	resultUnchanged     = "unchanged"
	resultFetchFailed   = "fetch_failed"
	resultInvalidConfig = "invalid_config"
	resultNoPolicy      = "no_policy"
	resultDeleted       = "deleted"
	resultError         = "error"
)

var (
	reconcileDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "arc_lockdown_reconcile_duration_seconds",
		Help:    "Duration of scale-set reconciles in seconds, by result.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	}, []string{"result"})

	reconcileErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "arc_lockdown_reconcile_errors_total",
		Help: "Scale-set reconciles that ended in an error, a failed GitHub read or an invalid egress file, by result.",
	}, []string{"result"})

	profilesApplied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "arc_lockdown_profiles_applied_total",
		Help: "Egress profiles applied to the cluster (reconciles that wrote or pruned objects), by mode.",
	}, []string{"mode"})

	destinationsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "arc_lockdown_scale_set_destinations",
		Help: "Destinations in the applied egress profile of each scale set.",
	}, []string{"namespace", "scale_set"})
)

func init() {
	metrics.Registry.MustRegister(reconcileDuration, reconcileErrors, profilesApplied, destinationsGauge)
}

// observeReconcile records the duration and, for failures, the error
// count of one reconcile.
func observeReconcile(result string, d time.Duration) {
	reconcileDuration.WithLabelValues(result).Observe(d.Seconds())
	switch result {
	case resultError, resultFetchFailed, resultInvalidConfig:
		reconcileErrors.WithLabelValues(result).Inc()
	}
}
