package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/arc-lockdown/arc-lockdown/controllers"
	"github.com/arc-lockdown/arc-lockdown/controllers/accesslog"
	"github.com/arc-lockdown/arc-lockdown/controllers/webhook"
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
	// GitHubAPIURLs maps a GitHub host to its REST API root when the API is
	// not at the standard address.
	GitHubAPIURLs map[string]string

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
	fs.Var(hostURLFlag{&cfg.GitHubAPIURLs}, "github-api-url", "HOST=URL: send the REST API requests for GitHub host HOST to URL instead of its standard API root (repeatable), for a proxy or a GitHub stand-in")
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

	clients, err := newGitHubClients(ctx, mgr.GetAPIReader(), cfg)
	if err != nil {
		return err
	}
	reconciler := &controllers.ScaleSetReconciler{
		Client:       mgr.GetClient(),
		Recorder:     mgr.GetEventRecorder("arc-lockdown"),
		Fetcher:      controllers.GitHubFetcher{Clients: clients},
		Mesh:         mesh,
		ResyncPeriod: cfg.ResyncPeriod,
	}
	reporter, err := addAccessLogReceiver(ctx, mgr, cfg, clients)
	if err != nil {
		return err
	}
	if err := addWebhookEndpoint(mgr, cfg, clients, reconciler, reporter); err != nil {
		return err
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

// newGitHubClients reads the GitHub App Secret and builds the client set.
func newGitHubClients(ctx context.Context, reader client.Reader, cfg controllerConfig) (*github.ClientSet, error) {
	var secret corev1.Secret
	key := types.NamespacedName{Namespace: cfg.Namespace, Name: cfg.GitHubAppSecret}
	if err := reader.Get(ctx, key, &secret); err != nil {
		return nil, fmt.Errorf("read GitHub App Secret %s (--github-app-secret): %w", key, err)
	}
	creds, err := github.CredentialsFromSecret(&secret)
	if err != nil {
		return nil, fmt.Errorf("GitHub App Secret %s: %w", key, err)
	}
	opts := github.Options{Registerer: metrics.Registry, BaseURLs: cfg.GitHubAPIURLs}
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
	return clients, nil
}

// addAccessLogReceiver starts the Envoy access-log receiver that turns
// blocked connections into check runs, unless --access-log-bind-address
// is empty, and returns its reporter (nil when disabled).
func addAccessLogReceiver(ctx context.Context, mgr ctrl.Manager, cfg controllerConfig, clients *github.ClientSet) (*accesslog.Reporter, error) {
	if cfg.AccessLogBindAddress == "" {
		return nil, nil
	}
	options := accesslog.DefaultOptions()
	options.FlushInterval = cfg.CheckRunInterval
	_, reporter, err := accesslog.AddToManager(ctx, mgr, accesslog.Config{
		BindAddress: cfg.AccessLogBindAddress,
		Options:     options,
		Publisher:   accesslog.NewGitHubPublisher(clients),
	})
	if err != nil {
		return nil, fmt.Errorf("set up the access-log receiver: %w", err)
	}
	return reporter, nil
}

// addWebhookEndpoint starts the GitHub webhook endpoint, unless
// --webhook-bind-address is empty, and lets its pushes trigger the
// reconciler and its workflow_job deliveries complete the job's egress
// check run. It refuses to start without a webhook secret.
func addWebhookEndpoint(mgr ctrl.Manager, cfg controllerConfig, clients *github.ClientSet, reconciler *controllers.ScaleSetReconciler, reporter *accesslog.Reporter) error {
	if cfg.WebhookBindAddress == "" {
		return nil
	}
	serverConfig := webhook.ServerConfig{BindAddress: cfg.WebhookBindAddress, SecretFile: cfg.WebhookSecretFile}
	secret, err := serverConfig.ReadSecret()
	if err != nil {
		return err
	}

	trigger := webhook.NewTrigger(mgr.GetClient(), reconciler)
	reconciler.ExtraSources = append(reconciler.ExtraSources, trigger.Source())
	checks := webhook.NewGitHubChecks(clients)
	options := webhook.Options{
		Secret:        secret,
		Trigger:       trigger,
		Checker:       &webhook.ConfigChecker{Reader: mgr.GetClient(), GitHub: checks},
		Installations: checks,
	}
	if reporter != nil {
		options.Jobs = jobCompletion{reporter: reporter}
	}
	handler, err := webhook.NewHandler(options)
	if err != nil {
		return err
	}
	server, err := webhook.NewServer(cfg.WebhookBindAddress, handler)
	if err != nil {
		return err
	}
	if err := mgr.Add(server); err != nil {
		return fmt.Errorf("add the webhook endpoint to the manager: %w", err)
	}
	return nil
}

// jobCompletion passes workflow_job deliveries to the access-log reporter.
// A job's fields come from its EphemeralRunner, so only completion matters:
// it finishes the job's check run without waiting for the runner to go.
type jobCompletion struct{ reporter *accesslog.Reporter }

func (j jobCompletion) JobInProgress(context.Context, webhook.JobInfo) {}

func (j jobCompletion) JobCompleted(ctx context.Context, job webhook.JobInfo) {
	if n := j.reporter.FinishRunnerJob(job.RunnerName, job.RunID); n > 0 {
		ctrl.LoggerFrom(ctx).V(1).Info("Finishing the egress check run of a completed job", "runner", job.RunnerName, "runID", job.RunID)
	}
}

// hostURLFlag parses repeated HOST=URL flags into a map.
type hostURLFlag struct{ m *map[string]string }

func (f hostURLFlag) String() string {
	if f.m == nil {
		return ""
	}
	pairs := make([]string, 0, len(*f.m))
	for host, url := range *f.m {
		pairs = append(pairs, host+"="+url)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

func (f hostURLFlag) Set(value string) error {
	host, raw, ok := strings.Cut(value, "=")
	if !ok || host == "" || raw == "" {
		return fmt.Errorf("invalid value %q: use HOST=URL, for example github.com=https://github-proxy.internal/api/", value)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid URL %q for host %s: use an absolute http or https URL", raw, host)
	}
	if !strings.HasSuffix(raw, "/") {
		raw += "/"
	}
	if *f.m == nil {
		*f.m = map[string]string{}
	}
	(*f.m)[host] = raw
	return nil
}
