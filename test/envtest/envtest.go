package envtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	istiotelemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// KubernetesVersion is the kube-apiserver version that `make envtest` builds.
const KubernetesVersion = "1.37.2"

// ARCCRDSet names one set of ARC CRDs to install.
type ARCCRDSet string

const (
	// ARCModule is the CRD set inside the Go module
	// github.com/actions/actions-runner-controller v0.27.6, the newest the
	// module proxy serves.
	ARCModule ARCCRDSet = "v0.27.6"
	// ARCCurrent is the CRD set of gha-runner-scale-set 0.14.2, read from
	// the directory in ARC_CRDS_DIR.
	ARCCurrent ARCCRDSet = "0.14.2"
)

// ARCCRDSets lists every ARC CRD set, for tests that run against each.
var ARCCRDSets = []ARCCRDSet{ARCModule, ARCCurrent}

// Options configures an Env.
type Options struct {
	// ARC selects the ARC CRD set. Empty means ARCCurrent.
	ARC ARCCRDSet
}

// Env is a running kube-apiserver and etcd with the CRDs installed.
type Env struct {
	// Config reaches the API server as a cluster administrator.
	Config *rest.Config
	// Client is a controller-runtime client built from Config and Scheme.
	Client client.Client
	// Scheme registers the built-in, Istio, ARC and arc-lockdown types.
	Scheme *runtime.Scheme

	env *ctrlenvtest.Environment
}

// NewScheme returns a scheme with every type arc-lockdown reads or writes.
func NewScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))
	utilruntime.Must(actionsv1alpha1.AddToScheme(scheme))
	utilruntime.Must(istionetworkingv1.AddToScheme(scheme))
	utilruntime.Must(istiosecurityv1.AddToScheme(scheme))
	utilruntime.Must(istiotelemetryv1.AddToScheme(scheme))
	utilruntime.Must(egressv1alpha1.AddToScheme(scheme))
	return scheme
}

// Start starts an Env for one test and stops it when the test ends. It
// skips the test when the current ARC CRDs are requested but ARC_CRDS_DIR
// does not exist.
func Start(tb testing.TB, opts Options) *Env {
	tb.Helper()

	if opts.ARC == "" || opts.ARC == ARCCurrent {
		dir := CurrentARCCRDsDir()
		if _, err := os.Stat(dir); err != nil {
			tb.Skipf("current ARC CRDs not found at %s (set ARC_CRDS_DIR): %v", dir, err)
		}
	}

	env, err := New(opts)
	if err != nil {
		tb.Fatalf("start envtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := env.Stop(); err != nil {
			tb.Errorf("stop envtest: %v", err)
		}
	})
	return env
}

// New starts an Env. Callers must call Stop. TestMain functions use it to
// share one API server across the tests of a package.
func New(opts Options) (*Env, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	crdPaths, err := CRDPaths(opts.ARC)
	if err != nil {
		return nil, err
	}

	scheme := NewScheme()
	env := &ctrlenvtest.Environment{
		BinaryAssetsDirectory: assets,
		Scheme:                scheme,
		CRDInstallOptions: ctrlenvtest.CRDInstallOptions{
			Paths:              crdPaths,
			ErrorIfPathMissing: true,
			MaxTime:            time.Minute,
		},
		ErrorIfCRDPathMissing: true,
	}

	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start kube-apiserver and etcd from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("create client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := installIstioWebhookRules(ctx, c); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, env: env}, nil
}

// Stop stops the API server and etcd.
func (e *Env) Stop() error {
	return e.env.Stop()
}

// AssetsDir returns the directory holding kube-apiserver and etcd:
// KUBEBUILDER_ASSETS when set, else bin/k8s/<version> in the repository.
func AssetsDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "bin", "k8s", KubernetesVersion)
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("%s not found in %s: run `make envtest` to build it", name, dir)
		}
	}
	return dir, nil
}

// CRDPaths returns the CRD files to install: Istio's, the requested ARC set
// and arc-lockdown's own.
func CRDPaths(set ARCCRDSet) ([]string, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	istio, err := ModuleDir("istio.io/api")
	if err != nil {
		return nil, err
	}
	paths := []string{
		filepath.Join(istio, "kubernetes", "customresourcedefinitions.gen.yaml"),
		filepath.Join(root, "charts", "arc-lockdown", "crds"),
	}

	arc, err := ARCCRDFiles(set)
	if err != nil {
		return nil, err
	}
	return append(paths, arc...), nil
}

// ARCCRDFiles returns the four actions.github.com CRD files of one set.
func ARCCRDFiles(set ARCCRDSet) ([]string, error) {
	var dir string
	switch set {
	case ARCModule:
		mod, err := ModuleDir("github.com/actions/actions-runner-controller")
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(mod, "config", "crd", "bases")
	case ARCCurrent, "":
		dir = CurrentARCCRDsDir()
	default:
		return nil, fmt.Errorf("unknown ARC CRD set %q: use %q or %q", set, ARCModule, ARCCurrent)
	}

	var files []string
	for _, kind := range []string{"autoscalinglisteners", "autoscalingrunnersets", "ephemeralrunners", "ephemeralrunnersets"} {
		file := filepath.Join(dir, "actions.github.com_"+kind+".yaml")
		if _, err := os.Stat(file); err != nil {
			return nil, fmt.Errorf("ARC CRD %s of set %s: %w", kind, set, err)
		}
		files = append(files, file)
	}
	return files, nil
}

// CurrentARCCRDsDir returns ARC_CRDS_DIR, or the shared folder beside the
// repository when it is unset.
func CurrentARCCRDsDir() string {
	if dir := os.Getenv("ARC_CRDS_DIR"); dir != "" {
		return dir
	}
	root, err := RepoRoot()
	if err != nil {
		return filepath.Join("..", "shared", "crds", "actions-runner-controller", "gha-runner-scale-set-0.14.2")
	}
	return filepath.Join(filepath.Dir(root), "shared", "crds", "actions-runner-controller", "gha-runner-scale-set-0.14.2")
}

// SamplesDir returns ARC_SAMPLES_DIR, or the shared folder of scale sets
// rendered by ARC's chart beside the repository when it is unset.
func SamplesDir() string {
	if dir := os.Getenv("ARC_SAMPLES_DIR"); dir != "" {
		return dir
	}
	root, err := RepoRoot()
	if err != nil {
		return filepath.Join("..", "shared", "samples", "arc-0.14.2")
	}
	return filepath.Join(filepath.Dir(root), "shared", "samples", "arc-0.14.2")
}

// RepoRoot returns the directory of the repository's go.mod, found by
// walking up from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module github.com/arc-lockdown/arc-lockdown\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root not found: run the tests from inside the arc-lockdown module")
		}
		dir = parent
	}
}

// ModuleDir returns the module cache directory of a module the repository
// requires.
func ModuleDir(module string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return "", fmt.Errorf("go list -m %s: %s", module, strings.TrimSpace(string(exitErr.Stderr)))
		}
		return "", fmt.Errorf("go list -m %s: %w", module, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("module %s is not in the module cache: run `go mod download`", module)
	}
	return dir, nil
}

// KubeConfig returns a kubeconfig file's content for a new cluster
// administrator of this API server, for processes started outside the test
// binary such as the controller in `make demo`.
func (e *Env) KubeConfig(userName string) ([]byte, error) {
	user, err := e.env.AddUser(ctrlenvtest.User{Name: userName, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("add envtest user %s: %w", userName, err)
	}
	return user.KubeConfig()
}
