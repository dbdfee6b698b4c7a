package chart

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/arc-lockdown/arc-lockdown/test/envtest"
)

var update = flag.Bool("update", false, "rewrite the golden files and the chart README's values table from the current chart")

const (
	// releaseName and releaseNamespace are the release every render uses.
	releaseName      = "arc-lockdown"
	releaseNamespace = "arc-lockdown-system"
	// kubeVersion is the Kubernetes version the renders assume, the one
	// envtest runs.
	kubeVersion = "v" + envtest.KubernetesVersion
)

// The API server of the tests that need one, started by the first of them
// and stopped by TestMain.
var (
	sharedEnvOnce sync.Once
	sharedEnvErr  error
	sharedEnvSkip string
	sharedEnvInst *envtest.Env
)

// TestMain stops the shared API server after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if sharedEnvInst != nil {
		if err := sharedEnvInst.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop envtest: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// sharedEnv returns the package's API server with the current ARC CRDs,
// starting it on first use. It skips the test when the ARC CRDs are not
// found, as envtest.Start does.
func sharedEnv(t *testing.T) *envtest.Env {
	t.Helper()
	sharedEnvOnce.Do(func() {
		dir := envtest.CurrentARCCRDsDir()
		if _, err := os.Stat(dir); err != nil {
			sharedEnvSkip = fmt.Sprintf("current ARC CRDs not found at %s (set ARC_CRDS_DIR): %v", dir, err)
			return
		}
		sharedEnvInst, sharedEnvErr = envtest.New(envtest.Options{})
	})
	if sharedEnvSkip != "" {
		t.Skip(sharedEnvSkip)
	}
	if sharedEnvErr != nil {
		t.Fatalf("start envtest: %v", sharedEnvErr)
	}
	return sharedEnvInst
}

// createNamespaces creates namespaces that do not exist yet.
func createNamespaces(ctx context.Context, t *testing.T, env *envtest.Env, names ...string) {
	t.Helper()
	for _, name := range names {
		namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := env.Client.Create(ctx, namespace); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create namespace %s: %v", name, err)
		}
	}
}

// chartDir returns the absolute path of charts/arc-lockdown.
func chartDir(t testing.TB) string {
	t.Helper()
	root, err := envtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "charts", "arc-lockdown")
}

// loadChart loads the chart from its directory, as `helm install DIR` does.
func loadChart(t testing.TB) *chartv2.Chart {
	t.Helper()
	ch, err := loader.LoadDir(chartDir(t))
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return ch
}

// readValues reads a values file from testdata.
func readValues(t testing.TB, name string) map[string]any {
	t.Helper()
	values, err := common.ReadValuesFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read values: %v", err)
	}
	return values.AsMap()
}

// parseValues parses values written inline in a test.
func parseValues(t testing.TB, text string) map[string]any {
	t.Helper()
	values, err := common.ReadValues([]byte(text))
	if err != nil {
		t.Fatalf("parse values %q: %v", text, err)
	}
	return values.AsMap()
}

// rendered is the output of one client-side install dry run.
type rendered struct {
	// Manifest is every rendered template, as `helm template` prints it
	// without the CRDs.
	Manifest string
	// Notes is the rendered NOTES.txt.
	Notes string
}

// render renders ch with values the way `helm install --dry-run=client`
// does, including the values schema check.
func render(ch *chartv2.Chart, values map[string]any) (rendered, error) {
	kube, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		return rendered{}, err
	}
	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy = action.DryRunClient
	install.Replace = true
	install.ReleaseName = releaseName
	install.Namespace = releaseNamespace
	install.KubeVersion = kube

	result, err := install.Run(ch, values)
	if err != nil {
		return rendered{}, err
	}
	release, ok := result.(*releasev1.Release)
	if !ok {
		return rendered{}, fmt.Errorf("install returned %T, expected *v1.Release", result)
	}
	return rendered{Manifest: release.Manifest, Notes: release.Info.Notes}, nil
}

// mustRender renders and fails the test on an error.
func mustRender(t testing.TB, ch *chartv2.Chart, values map[string]any) rendered {
	t.Helper()
	out, err := render(ch, values)
	if err != nil {
		t.Fatalf("render chart: %v", err)
	}
	return out
}

// objects decodes every document of a manifest.
func objects(t testing.TB, manifest string) []*unstructured.Unstructured {
	t.Helper()
	decoder := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var result []*unstructured.Unstructured
	for {
		var object map[string]any
		err := decoder.Decode(&object)
		if errors.Is(err, io.EOF) {
			return result
		}
		if err != nil {
			t.Fatalf("decode rendered manifest: %v", err)
		}
		if len(object) == 0 {
			continue
		}
		result = append(result, &unstructured.Unstructured{Object: object})
	}
}

// findObject returns the rendered object of a kind and name, or fails.
func findObject(t testing.TB, list []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, object := range list {
		if object.GetKind() == kind && object.GetName() == name {
			return object
		}
	}
	t.Fatalf("rendered manifest has no %s %q", kind, name)
	return nil
}

// unstructuredString returns a nested string field of an object.
func unstructuredString(object map[string]any, fields ...string) (string, bool, error) {
	return unstructured.NestedString(object, fields...)
}

// firstContainerArgs returns the args of the first container of a
// Deployment.
func firstContainerArgs(t testing.TB, deployment *unstructured.Unstructured) []string {
	t.Helper()
	containers, _, err := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	if err != nil || len(containers) == 0 {
		t.Fatalf("Deployment %s has no containers: %v", deployment.GetName(), err)
	}
	container, ok := containers[0].(map[string]any)
	if !ok {
		t.Fatalf("Deployment %s: the first container has type %T, expected a map", deployment.GetName(), containers[0])
	}
	args, _, err := unstructured.NestedStringSlice(container, "args")
	if err != nil {
		t.Fatalf("Deployment %s: args: %v", deployment.GetName(), err)
	}
	return args
}

// findKind returns the only rendered object of a kind, or fails.
func findKind(t testing.TB, list []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, object := range list {
		if object.GetKind() == kind {
			found = append(found, object)
		}
	}
	if len(found) != 1 {
		t.Fatalf("rendered manifest has %d objects of kind %s, expected 1", len(found), kind)
	}
	return found[0]
}

// compareGolden compares got with testdata/name, or rewrites the file with
// -update.
func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the render; run `go test ./test/chart -update` and review the diff.\n%s", path, firstDifference(string(want), string(got)))
	}
}

// firstDifference describes the first line where two texts differ.
func firstDifference(want, got string) string {
	wantLines := strings.Split(want, "\n")
	gotLines := strings.Split(got, "\n")
	for i := 0; i < len(wantLines) || i < len(gotLines); i++ {
		var w, g string
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  golden: %q\n  render: %q", i+1, w, g)
		}
	}
	return "texts are equal"
}
