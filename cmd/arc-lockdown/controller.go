package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/arc-lockdown/arc-lockdown/controllers"
	"github.com/arc-lockdown/arc-lockdown/github"
	"github.com/arc-lockdown/arc-lockdown/lockdown"
)

func init() {
	commands["controller"] = command{
		summary: "Run the controller that keeps every runner scale set's egress objects in force",
		run:     runController,
	}
}

// controllerConfig holds the flags of `arc-lockdown controller`.
type controllerConfig struct {
	MetricsBindAddress     string
	HealthProbeBindAddress string
	LeaderElect            bool
	ResyncPeriod           time.Duration
	Namespace              string
	GitHubAppSecret        string
	GitHubCABundle         string
	MeshConfig             string

	// The access-log receiver and the webhook endpoint read these flags.
	AccessLogBindAddress string
	WebhookBindAddress   string
	WebhookSecretFile    string
	CheckRunInterval     time.Duration
}

// parseControllerFlags parses the flags of `arc-lockdown controller`.
// It returns flag.ErrHelp for -h.
func parseControllerFlags(args []string, output io.Writer) (controllerConfig, error) {
	var cfg controllerConfig
	fs := flag.NewFlagSet("arc-lockdown controller", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&cfg.MetricsBindAddress, "metrics-bind-address", ":8080", "address the Prometheus metrics endpoint listens on; \"0\" disables it")
	fs.StringVar(&cfg.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "address the /healthz and /readyz probes listen on")
	fs.BoolVar(&cfg.LeaderElect, "leader-elect", false, "elect one active controller through a Lease in --namespace, for more than one replica")
	fs.DurationVar(&cfg.ResyncPeriod, "resync-period", controllers.DefaultResyncPeriod, "how often each scale set's .github/egress.yaml is read again (conditional request)")
	fs.StringVar(&cfg.Namespace, "namespace", os.Getenv("POD_NAMESPACE"), "namespace of the controller, its leader-election Lease and the GitHub App Secret (default: $POD_NAMESPACE)")
	fs.StringVar(&cfg.GitHubAppSecret, "github-app-secret", "arc-lockdown-github-app", "name of the Secret in --namespace holding the GitHub App credentials")
	fs.StringVar(&cfg.GitHubCABundle, "github-ca-bundle", "", "PEM file of CA certificates to trust for a GitHub Enterprise Server host, in addition to the system pool")
	fs.StringVar(&cfg.MeshConfig, "mesh-config", "", "YAML file with the Istio and cluster settings the objects are rendered with; fields not set keep their defaults")
	fs.StringVar(&cfg.AccessLogBindAddress, "access-log-bind-address", ":9977", "address the Envoy gRPC access-log receiver listens on")
	fs.StringVar(&cfg.WebhookBindAddress, "webhook-bind-address", ":9443", "address the GitHub webhook endpoint listens on")
	fs.StringVar(&cfg.WebhookSecretFile, "webhook-secret-file", "", "file holding the GitHub webhook secret")
	fs.DurationVar(&cfg.CheckRunInterval, "check-run-interval", 3*time.Second, "how long blocked destinations are batched before a check run is updated")

	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q: the controller takes flags only", fs.Args())
	}
	if cfg.Namespace == "" {
		return cfg, errors.New("the controller namespace is not set: pass --namespace or set POD_NAMESPACE")
	}
	if cfg.ResyncPeriod < time.Second {
		return cfg, fmt.Errorf("--resync-period %s is too short: use at least 1s", cfg.ResyncPeriod)
	}
	return cfg, nil
}

func runController(args []string, _, stderr io.Writer) int {
	cfg, err := parseControllerFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "arc-lockdown controller: %v\n", err)
		return 2
	}

	ctrl.SetLogger(zap.New())
	if err := startController(ctrl.SetupSignalHandler(), cfg); err != nil {
		fmt.Fprintf(stderr, "arc-lockdown controller: %v\n", err)
		return 1
	}
	return 0
}

// startController builds the manager and the scale-set reconciler and
// runs them until ctx ends.
func startController(ctx context.Context, cfg controllerConfig) error {
	mesh, err := loadMeshOptions(cfg.MeshConfig)
	if err != nil {
		return err
	}
	restConfig, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("load kubeconfig or in-cluster config: %w", err)
	}

	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  controllers.NewScheme(),
		Cache:                   controllers.CacheOptions(),
		Metrics:                 metricsserver.Options{BindAddress: cfg.MetricsBindAddress},
		HealthProbeBindAddress:  cfg.HealthProbeBindAddress,
		LeaderElection:          cfg.LeaderElect,
		LeaderElectionID:        "arc-lockdown",
		LeaderElectionNamespace: cfg.Namespace,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}

	fetcher, err := newGitHubFetcher(ctx, mgr.GetAPIReader(), cfg)
	if err != nil {
		return err
	}
	reconciler := &controllers.ScaleSetReconciler{
		Client:       mgr.GetClient(),
		Recorder:     mgr.GetEventRecorder("arc-lockdown"),
		Fetcher:      fetcher,
		Mesh:         mesh,
		ResyncPeriod: cfg.ResyncPeriod,
	}
	if err := reconciler.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("set up the scale-set reconciler: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("add readiness check: %w", err)
	}

	// TODO: the access-log receiver (--access-log-bind-address,
	// --check-run-interval) and the webhook endpoint
	// (--webhook-bind-address, --webhook-secret-file) are parsed but not
	// started here yet.
	ctrl.LoggerFrom(ctx).Info("Starting the controller", "namespace", cfg.Namespace, "resyncPeriod", cfg.ResyncPeriod)
	return mgr.Start(ctx)
}

// loadMeshOptions returns lockdown.DefaultMeshOptions overlaid with the
// YAML file at path; an empty path returns the defaults. Unknown fields
// are rejected so that a typo does not silently keep a default.
func loadMeshOptions(path string) (lockdown.MeshOptions, error) {
	mesh := lockdown.DefaultMeshOptions()
	if path == "" {
		return mesh, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return mesh, fmt.Errorf("read --mesh-config: %w", err)
	}
	if err := yaml.UnmarshalStrict(data, &mesh); err != nil {
		return mesh, fmt.Errorf("decode --mesh-config %s: %w", path, err)
	}
	if err := mesh.Validate(); err != nil {
		return mesh, fmt.Errorf("--mesh-config %s: %w", path, err)
	}
	return mesh, nil
}

// newGitHubFetcher reads the GitHub App Secret and builds the client set.
func newGitHubFetcher(ctx context.Context, reader client.Reader, cfg controllerConfig) (controllers.ConfigFetcher, error) {
	var secret corev1.Secret
	key := types.NamespacedName{Namespace: cfg.Namespace, Name: cfg.GitHubAppSecret}
	if err := reader.Get(ctx, key, &secret); err != nil {
		return nil, fmt.Errorf("read GitHub App Secret %s (--github-app-secret): %w", key, err)
	}
	creds, err := github.CredentialsFromSecret(&secret)
	if err != nil {
		return nil, fmt.Errorf("GitHub App Secret %s: %w", key, err)
	}
	opts := github.Options{}
	if cfg.GitHubCABundle != "" {
		pem, err := os.ReadFile(cfg.GitHubCABundle)
		if err != nil {
			return nil, fmt.Errorf("read --github-ca-bundle: %w", err)
		}
		opts.CABundle = pem
	}
	clients, err := github.NewClientSet(creds, opts)
	if err != nil {
		return nil, fmt.Errorf("create GitHub client: %w", err)
	}
	return controllers.GitHubFetcher{Clients: clients}, nil
}
