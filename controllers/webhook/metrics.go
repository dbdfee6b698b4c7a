package webhook

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	deliveriesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "arc_lockdown_webhook_deliveries_total",
		Help: "GitHub webhook deliveries, by event (events the endpoint does not handle count as \"other\") and HTTP status code of the response.",
	}, []string{"event", "code"})

	scaleSetsTriggered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "arc_lockdown_webhook_scale_sets_triggered_total",
		Help: "Scale sets sent to the reconciler because of a webhook delivery.",
	})
)

func init() {
	metrics.Registry.MustRegister(deliveriesTotal, scaleSetsTriggered)
}

// knownEvents are the event label values besides "other". The header is
// read before the signature is checked, so it must not become a label
// value as is.
var knownEvents = map[string]bool{
	"ping": true, "push": true, "pull_request": true, "installation": true,
	"installation_repositories": true, "workflow_job": true,
}

// observeDelivery counts one response.
func observeDelivery(event string, status int) {
	if !knownEvents[event] {
		event = "other"
	}
	deliveriesTotal.WithLabelValues(event, strconv.Itoa(status)).Inc()
}
