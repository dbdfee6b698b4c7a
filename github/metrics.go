package github

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// RateLimitRemainingMetric is the gauge of GitHub's remaining request
// quota, labelled by API host and installation ID ("app" for requests
// made as the App itself).
const RateLimitRemainingMetric = "arc_lockdown_github_rate_limit_remaining"

func newRemainingGauge(reg prometheus.Registerer) (*prometheus.GaugeVec, error) {
	gauge := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: RateLimitRemainingMetric,
		Help: "Requests left in GitHub's current primary rate-limit window, from the last X-RateLimit-Remaining header.",
	}, []string{"host", "installation"})
	if reg == nil {
		return gauge, nil
	}
	if err := reg.Register(gauge); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			if existing, ok := already.ExistingCollector.(*prometheus.GaugeVec); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("register metric %s: %w", RateLimitRemainingMetric, err)
	}
	return gauge, nil
}
