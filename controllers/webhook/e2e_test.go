package webhook

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/arc-lockdown/arc-lockdown/controllers"
	"github.com/arc-lockdown/arc-lockdown/github"
	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

// e2e is the controller manager with the scale-set reconciler, the
// Trigger and the webhook Server, running against the shared API server
// and a GitHub stand-in. One scale set, <ns>/web, reads acme/<ns>.
type e2e struct {
	admin   client.Client
	standin *ghstandin.Server
	ns      string
	repo    string
	url     string
}

// startE2E starts everything and waits for the first profile to be
// applied from a file allowing host first.
func startE2E(tb testing.TB, ns, first string) *e2e {
	tb.Helper()
	env := requireEnv(tb)
	e := &e2e{admin: env.Client, standin: ghstandin.New(tb), ns: ns, repo: "acme/" + ns}
	e.standin.AddInstallation("acme")
	e.standin.AddRepository(e.repo, "main")
	firstSHA := e.standin.SetFile(e.repo, "main", ConfigPath, configAllowing(first))

	ctx := context.Background()
	gateway := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: lockdown.DefaultMeshOptions().EgressGatewayNamespace}}
	if err := e.admin.Create(ctx, gateway); err != nil && !apierrors.IsAlreadyExists(err) {
		tb.Fatalf("create gateway namespace: %v", err)
	}
	labels := map[string]string{"egress-test": ns}
	createScaleSets(tb, e.admin, ns, map[string]string{"istio-injection": "enabled"},
		testScaleSet{name: "web", url: "https://github.com/" + e.repo, labels: labels})
	policy := testPolicy()
	policy.Name = ns
	policy.Spec.ScaleSetSelector = &metav1.LabelSelector{MatchLabels: labels}
	if err := e.admin.Create(ctx, policy); err != nil {
		tb.Fatalf("create EgressPolicy: %v", err)
	}
	tb.Cleanup(func() { _ = e.admin.Delete(context.Background(), policy) })

	e.url = e.startManager(tb)
	e.waitApplied(tb, firstSHA, 30*time.Second)
	e.settle(tb)
	return e
}

// settle waits until the stand-in has served no request for the file for
// a second. Right after the first apply, the reconciler reconciles again
// for the objects it just created and may read the file once more.
func (e *e2e) settle(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	last := -1
	for time.Now().Before(deadline) {
		n := len(e.standin.RequestsTo(http.MethodGet, "/contents/"))
		if n == last {
			return
		}
		last = n
		time.Sleep(time.Second)
	}
	tb.Fatal("the controller kept reading the egress file for 15s after the first apply")
}

// startManager runs the manager until the test ends and returns the
// webhook URL.
func (e *e2e) startManager(tb testing.TB) string {
	tb.Helper()
	env := requireEnv(tb)
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 controllers.NewScheme(),
		Cache:                  controllers.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		tb.Fatalf("create manager: %v", err)
	}
	clients, err := github.NewClientSet(
		github.AppCredentials{AppID: e.standin.AppID(), PrivateKey: e.standin.PrivateKeyPEM()},
		github.Options{BaseURLs: map[string]string{"github.com": e.standin.BaseURL()}},
	)
	if err != nil {
		tb.Fatal(err)
	}

	// A resync far in the future: only the webhook makes the reconciler
	// read GitHub again.
	reconciler := &controllers.ScaleSetReconciler{
		Client:       mgr.GetClient(),
		Recorder:     mgr.GetEventRecorder("arc-lockdown"),
		Fetcher:      controllers.GitHubFetcher{Clients: clients},
		Mesh:         lockdown.DefaultMeshOptions(),
		ResyncPeriod: time.Hour,
	}
	trigger := NewTrigger(mgr.GetClient(), reconciler)
	reconciler.ExtraSources = []source.Source{trigger.Source()}

	handler, err := NewHandler(Options{Secret: []byte(testSecret), Trigger: trigger})
	if err != nil {
		tb.Fatal(err)
	}
	server, err := NewServer("127.0.0.1:0", handler)
	if err != nil {
		tb.Fatal(err)
	}
	if err := mgr.Add(server); err != nil {
		tb.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	if err := reconciler.SetupWithManager(ctx, mgr); err != nil {
		cancel()
		tb.Fatalf("set up reconciler: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("manager stopped with an error: %v", err)
		}
	})

	waitCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	addr := server.Addr(waitCtx)
	if addr == nil {
		tb.Fatal("webhook server did not start listening")
	}
	return "http://" + addr.String() + Path
}

// configAllowing returns an egress file that allows host.
func configAllowing(host string) []byte {
	return []byte(fmt.Sprintf("version: 1\nallow:\n  - host: %s\n", host))
}

// commitAndPush commits a file allowing host to main on the stand-in and
// delivers the signed push event to the webhook server. It returns the
// commit SHA.
func (e *e2e) commitAndPush(tb testing.TB, host string) string {
	tb.Helper()
	sha := e.standin.SetFile(e.repo, "main", ConfigPath, configAllowing(host))
	payload := e.pushPayload(tb, sha)

	req := newDelivery("push", payload)
	httpReq, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(payload))
	if err != nil {
		tb.Fatal(err)
	}
	httpReq.Header = req.Header
	resp, err := http.DefaultClient.Do(httpReq)
	if err != nil {
		tb.Fatalf("deliver push: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("push delivery: status = %d, want 200", resp.StatusCode)
	}
	return sha
}

// pushPayload is GitHub's example push to a default branch, pointed at
// the test repository and commit.
func (e *e2e) pushPayload(tb testing.TB, sha string) []byte {
	tb.Helper()
	var base []byte
	for _, example := range examplePayloads(tb, "push") {
		if bytes.Contains(example, []byte(`"refs/heads/master"`)) {
			base = example
			break
		}
	}
	owner, name, _ := strings.Cut(e.repo, "/")
	return editJSON(tb, base, func(m map[string]any) {
		m["ref"], m["after"] = "refs/heads/main", sha
		repo := m["repository"].(map[string]any)
		repo["name"], repo["full_name"] = name, e.repo
		repo["html_url"] = "https://github.com/" + e.repo
		repo["default_branch"], repo["master_branch"] = "main", "main"
		repo["owner"].(map[string]any)["login"] = owner
		commit := m["commits"].([]any)[0].(map[string]any)
		commit["id"], commit["added"], commit["modified"] = sha, []any{}, []any{ConfigPath}
	})
}

// appliedCommit returns the commit of the profile applied to the scale set.
func (e *e2e) appliedCommit() (string, error) {
	var sse egressv1alpha1.ScaleSetEgress
	if err := e.admin.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: "web"}, &sse); err != nil {
		return "", err
	}
	if sse.Status.AppliedSource == nil {
		return "", nil
	}
	return sse.Status.AppliedSource.CommitSHA, nil
}

// waitApplied polls every 5 ms until the profile of commit sha is applied.
func (e *e2e) waitApplied(tb testing.TB, sha string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := e.appliedCommit()
		if err == nil && got == sha {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("profile of commit %s not applied within %s: applied %q, error %v", sha, timeout, got, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serviceEntryHosts returns the hosts of the scale set's ServiceEntries.
func (e *e2e) serviceEntryHosts(tb testing.TB) []string {
	tb.Helper()
	var list istionetworkingv1.ServiceEntryList
	err := e.admin.List(context.Background(), &list, client.MatchingLabels{
		egressv1alpha1.LabelScaleSet:          "web",
		egressv1alpha1.LabelScaleSetNamespace: e.ns,
	})
	if err != nil {
		tb.Fatalf("list ServiceEntries: %v", err)
	}
	var hosts []string
	for _, se := range list.Items {
		hosts = append(hosts, se.Spec.Hosts...)
	}
	slices.Sort(hosts)
	return hosts
}

func TestSignedPushChangesRenderedObjects(t *testing.T) {
	e := startE2E(t, "e2e-push", "first.corp.example.com")
	if hosts := e.serviceEntryHosts(t); !slices.Contains(hosts, "first.corp.example.com") {
		t.Fatalf("ServiceEntry hosts %v lack first.corp.example.com", hosts)
	}

	// A commit without a webhook is not read before the resync.
	quiet := e.standin.SetFile(e.repo, "main", ConfigPath, configAllowing("quiet.corp.example.com"))
	time.Sleep(2 * time.Second)
	if got, err := e.appliedCommit(); err != nil || got == quiet {
		t.Fatalf("applied commit = %q (error %v) without a webhook; the test cannot tell the webhook's effect apart", got, err)
	}

	sha := e.commitAndPush(t, "second.corp.example.com")
	e.waitApplied(t, sha, 10*time.Second)

	hosts := e.serviceEntryHosts(t)
	if !slices.Contains(hosts, "second.corp.example.com") {
		t.Errorf("ServiceEntry hosts %v lack second.corp.example.com", hosts)
	}
	if slices.Contains(hosts, "first.corp.example.com") {
		t.Errorf("ServiceEntry hosts %v still hold first.corp.example.com", hosts)
	}
}

// benchRuns counts the calls of BenchmarkPushToApplied.
var benchRuns int

// BenchmarkPushToApplied measures the time from delivering a signed push
// to the webhook server until the scale set's ScaleSetEgress reports the
// pushed commit applied, and reports its p50 and p95. Run it with
// -benchtime=100x for the 100 pushes docs/benchmarks.md records.
func BenchmarkPushToApplied(b *testing.B) {
	// The framework calls a benchmark more than once, and namespaces are
	// never fully deleted without a namespace controller.
	benchRuns++
	e := startE2E(b, fmt.Sprintf("bench-push-%d", benchRuns), "first.corp.example.com")
	durations := make([]time.Duration, 0, b.N)

	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		sha := e.commitAndPush(b, fmt.Sprintf("host-%d.corp.example.com", i))
		e.waitApplied(b, sha, 30*time.Second)
		durations = append(durations, time.Since(start))
	}
	b.StopTimer()

	slices.Sort(durations)
	b.ReportMetric(float64(percentile(durations, 50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(durations, 95).Microseconds())/1000, "p95-ms")
}

// percentile returns the p-th percentile of sorted durations by the
// nearest-rank method.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}
