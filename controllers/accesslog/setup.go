package accesslog

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Config wires the access-log pipeline into a controller manager.
type Config struct {
	// BindAddress is the --access-log-bind-address flag; empty means
	// DefaultBindAddress.
	BindAddress string
	// Options bound the Reporter; zero fields take their defaults.
	Options Options
	// Publisher writes check runs, usually NewGitHubPublisher.
	Publisher Publisher
	// Profiles overrides the profile lookup; nil means KubeProfileLookup on
	// the manager's client.
	Profiles ProfileLookup
}

// AddToManager registers the runner-pod IP index, the metrics, the
// Reporter and the Server with mgr. Call it before mgr.Start.
func AddToManager(ctx context.Context, mgr manager.Manager, cfg Config) (*Server, *Reporter, error) {
	if cfg.Publisher == nil {
		return nil, nil, fmt.Errorf("access-log feedback needs a check-run publisher: pass Config.Publisher")
	}
	if err := RegisterRunnerPodIndex(ctx, mgr.GetFieldIndexer()); err != nil {
		return nil, nil, err
	}
	m, err := NewMetrics(metrics.Registry, cfg.Options.withDefaults().MaxMetricDestinations)
	if err != nil {
		return nil, nil, fmt.Errorf("register access-log metrics: %w", err)
	}

	profiles := cfg.Profiles
	if profiles == nil {
		profiles = KubeProfileLookup{Reader: mgr.GetClient()}
	}
	attributor := KubeAttributor{Pods: mgr.GetClient(), Runners: mgr.GetClient()}
	reporter := NewReporter(cfg.Options, attributor, profiles, cfg.Publisher, m)

	address := cfg.BindAddress
	if address == "" {
		address = DefaultBindAddress
	}
	server := &Server{BindAddress: address, Reporter: reporter, Metrics: m}

	if err := mgr.Add(reporter); err != nil {
		return nil, nil, fmt.Errorf("add the access-log reporter to the manager: %w", err)
	}
	if err := mgr.Add(server); err != nil {
		return nil, nil, fmt.Errorf("add the access-log server to the manager: %w", err)
	}
	return server, reporter, nil
}
