package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
	"github.com/arc-lockdown/arc-lockdown/test/envtest"
)

// testEnv is the API server shared by the package's tests; nil when it
// could not start, and then the tests that need it skip.
var (
	testEnv    *envtest.Env
	testEnvSet envtest.ARCCRDSet
	testEnvErr error
)

func TestMain(m *testing.M) {
	// TEST_CONTROLLER_LOGS=1 shows the controller's logs.
	if os.Getenv("TEST_CONTROLLER_LOGS") != "" {
		ctrllog.SetLogger(zap.New(zap.UseDevMode(true)))
	} else {
		ctrllog.SetLogger(logr.Discard())
	}

	set := envtest.ARCCurrent
	if _, err := os.Stat(envtest.CurrentARCCRDsDir()); err != nil {
		set = envtest.ARCModule
	}
	testEnvSet = set
	testEnv, testEnvErr = envtest.New(envtest.Options{ARC: set})

	code := m.Run()

	if testEnv != nil {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop envtest: %v\n", err)
		}
	}
	os.Exit(code)
}

// requireEnv returns the shared API server or skips the test.
func requireEnv(t testing.TB) *envtest.Env {
	t.Helper()
	if testEnv == nil {
		t.Skipf("envtest API server not available (run `make envtest`): %v", testEnvErr)
	}
	return testEnv
}

const testSecret = "It's a Secret to Everybody"

// sign returns the X-Hub-Signature-256 value of body under secret.
func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

var deliveryCounter atomic.Int64

// newDelivery builds a signed JSON delivery of event with a fresh delivery
// ID.
func newDelivery(event string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, Path, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(headerEvent, event)
	r.Header.Set(headerDelivery, fmt.Sprintf("72d3162e-cc78-11e3-81ab-%012d", deliveryCounter.Add(1)))
	r.Header.Set(headerSignature, sign(testSecret, body))
	return r
}

// serve sends one request to h and returns the response.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// examplePayloads returns the example payloads of one event from
// @octokit/webhooks-examples, or skips the test when they are absent.
func examplePayloads(t testing.TB, event string) []json.RawMessage {
	t.Helper()
	dir := os.Getenv("NPM_FIXTURES_DIR")
	if dir == "" {
		root, err := envtest.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "bin", "npm")
	}
	file := filepath.Join(dir, "octokit-webhooks-examples", "api.github.com", "index.json")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Skipf("webhook examples not found at %s (run make fixtures): %v", file, err)
	}
	var index []struct {
		Name     string            `json:"name"`
		Examples []json.RawMessage `json:"examples"`
	}
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	for _, e := range index {
		if e.Name == event {
			return e.Examples
		}
	}
	t.Fatalf("%s has no examples of event %s", file, event)
	return nil
}

// editJSON decodes payload, lets edit change it and encodes it again.
func editJSON(t testing.TB, payload []byte, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatalf("decode payload: %v", err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("encode payload: %v", err)
	}
	return out
}

// testScaleSet describes an AutoscalingRunnerSet to create.
type testScaleSet struct {
	name, url, configRef string
	labels               map[string]string
}

// createScaleSets creates a namespace named ns with the given scale sets
// and deletes it when the test ends.
func createScaleSets(t testing.TB, c client.Client, ns string, nsLabels map[string]string, sets ...testScaleSet) {
	t.Helper()
	ctx := context.Background()
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: nsLabels}}
	if err := c.Create(ctx, namespace); err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	for _, s := range sets {
		ars := &actionsv1alpha1.AutoscalingRunnerSet{
			ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: ns, Labels: s.labels},
			Spec: actionsv1alpha1.AutoscalingRunnerSetSpec{
				GitHubConfigUrl:    s.url,
				GitHubConfigSecret: "github-app",
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "runner", Image: "ghcr.io/actions/actions-runner:latest", Command: []string{"/home/runner/run.sh"}}},
				}},
			},
		}
		if s.configRef != "" {
			ars.Annotations = map[string]string{egressv1alpha1.AnnotationConfigRef: s.configRef}
		}
		if err := c.Create(ctx, ars); err != nil {
			t.Fatalf("create AutoscalingRunnerSet %s/%s: %v", ns, s.name, err)
		}
	}
	t.Cleanup(func() {
		for _, s := range sets {
			_ = c.Delete(context.Background(), &actionsv1alpha1.AutoscalingRunnerSet{ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: ns}})
		}
		_ = c.Delete(context.Background(), namespace)
	})
}

// drain returns the "namespace/name" of every event the trigger sent so
// far, sorted.
func drain(tr *Trigger) []string {
	var names []string
	for {
		select {
		case e := <-tr.Events():
			names = append(names, e.Object.GetNamespace()+"/"+e.Object.GetName())
		default:
			slices.Sort(names)
			return names
		}
	}
}

// jobRecorder is a JobObserver that records its calls.
type jobRecorder struct {
	mu         sync.Mutex
	inProgress []JobInfo
	completed  []JobInfo
}

func (r *jobRecorder) JobInProgress(_ context.Context, job JobInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inProgress = append(r.inProgress, job)
}

func (r *jobRecorder) JobCompleted(_ context.Context, job JobInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.completed = append(r.completed, job)
}

// checkRecorder is a PullRequestChecker that records the pull requests it
// is asked to check.
type checkRecorder struct {
	mu  sync.Mutex
	prs []PullRequest
}

func (r *checkRecorder) CheckPullRequest(_ context.Context, pr PullRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prs = append(r.prs, pr)
	return nil
}

func (r *checkRecorder) checked() []PullRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.prs)
}

// forgetRecorder is an InstallationForgetter that records its calls.
type forgetRecorder struct {
	mu  sync.Mutex
	ids []int64
}

func (r *forgetRecorder) ForgetInstallation(_, _ string, id int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, id)
}
