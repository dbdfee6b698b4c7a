package accesslog

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/arc-lockdown/arc-lockdown/github"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
	"github.com/arc-lockdown/arc-lockdown/test/envtest"
	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

// arrival is the fixed arrival time of every entry in the integration
// test, so that "first seen" is exact.
var arrival = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

const (
	testNamespace = "arc-runners"
	enforceSet    = "linux"
	auditSet      = "linux-audit"
)

// runnerFixture is one runner pod with its EphemeralRunner, running one job.
type runnerFixture struct {
	name     string
	scaleSet string
	podIP    string
	jobPodIP string // a kubernetes container-mode job pod; "" for none
	jobName  string
	runID    int64
}

// TestFeedbackReachesGitHub streams real ALS messages over gRPC for running
// jobs in an enforce and an audit scale set, and checks the exact check runs
// and annotations that reach the GitHub stand-in, against both ARC CRD sets.
func TestFeedbackReachesGitHub(t *testing.T) {
	for _, set := range envtest.ARCCRDSets {
		t.Run("ARC "+string(set), func(t *testing.T) {
			testFeedbackReachesGitHub(t, set)
		})
	}
}

func testFeedbackReachesGitHub(t *testing.T, set envtest.ARCCRDSet) {
	// The cache's informers log through controller-runtime; a test logger
	// would outlive the first subtest.
	ctrllog.SetLogger(logr.Discard())
	env := envtest.Start(t, envtest.Options{ARC: set})
	gh := ghstandin.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	gh.AddInstallation("octo")
	sha := gh.SetFile("octo/app", "main", ".github/workflows/ci.yml", []byte("on: push\n"))
	enforce := runnerFixture{name: "linux-runner-x7k2p", scaleSet: enforceSet, podIP: "10.244.1.5", jobPodIP: "10.244.1.6", jobName: "build"}
	enforce.runID = gh.AddWorkflowRun("octo/app", ghstandin.WorkflowRun{HeadSHA: sha, HeadBranch: "main"})
	audit := runnerFixture{name: "linux-audit-runner-q9w4z", scaleSet: auditSet, podIP: "10.244.2.5", jobName: "test (ubuntu)"}
	audit.runID = gh.AddWorkflowRun("octo/app", ghstandin.WorkflowRun{HeadSHA: sha, HeadBranch: "main"})

	c := env.Client
	createCluster(ctx, t, c, set, []runnerFixture{enforce, audit})

	podCache, err := cache.New(env.Config, cache.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatalf("create pod cache: %v", err)
	}
	if err := RegisterRunnerPodIndex(ctx, podCache); err != nil {
		t.Fatal(err)
	}
	go func() { _ = podCache.Start(ctx) }()
	if !podCache.WaitForCacheSync(ctx) {
		t.Fatal("pod cache did not sync")
	}

	clients, err := github.NewClientSet(
		github.AppCredentials{AppID: gh.AppID(), PrivateKey: gh.PrivateKeyPEM()},
		github.Options{BaseURLs: map[string]string{"github.com": gh.BaseURL()}, Registerer: prometheus.NewRegistry()},
	)
	if err != nil {
		t.Fatalf("create GitHub clients: %v", err)
	}
	metrics := newTestMetrics(t)
	reporter := NewReporter(Options{FlushInterval: 100 * time.Millisecond, CompletionCheckInterval: 200 * time.Millisecond},
		KubeAttributor{Pods: podCache, Runners: c}, KubeProfileLookup{Reader: c}, NewGitHubPublisher(clients), metrics)
	grpcClient := startPipelineWithClock(t, reporter, func() time.Time { return arrival })

	// The runner pod's sidecar, the job pod's sidecar, the egress gateway,
	// and a pod that is no runner each send what they saw.
	runnerID := identifier(sidecarNode(enforce.podIP, enforce.name, testNamespace))
	jobPodID := identifier(sidecarNode(enforce.jobPodIP, enforce.name+"-workflow", testNamespace))
	auditID := identifier(sidecarNode(audit.podIP, audit.name, testNamespace))
	send(ctx, t, grpcClient,
		tcpMessage(runnerID,
			blackHoleTLS(enforce.podIP, "registry.npmjs.org", "104.16.1.34"),
			blackHoleTLS(enforce.podIP, "registry.npmjs.org", "104.16.1.34"),
			blackHoleTLS(enforce.podIP, "", "203.0.113.7"),
			allowedTLS(enforce.podIP, "github.com")),
		tcpMessage(nil, blackHoleTLS(enforce.podIP, "registry.npmjs.org", "104.16.1.35")),
	)
	send(ctx, t, grpcClient, httpMessage(jobPodID, blockAllHTTP(enforce.jobPodIP, "example.com", "93.184.216.34")))
	send(ctx, t, grpcClient, tcpMessage(identifier(gatewayNode()), gatewayDeniedTCP(enforce.podIP, "pypi.org")))
	send(ctx, t, grpcClient, tcpMessage(identifier(sidecarNode("10.244.3.3", "web-0", testNamespace)), blackHoleTLS("10.244.3.3", "evil.example", "198.51.100.1")))
	send(ctx, t, grpcClient, tcpMessage(auditID,
		passthroughTLS(audit.podIP, "registry.npmjs.org", "104.16.1.34"),
		passthroughTLS(audit.podIP, "api.example.com", "198.51.100.20"),
		passthroughTLS(audit.podIP, "github.com", "140.82.112.3"),
		allowedTLS(audit.podIP, "npm.corp.example.com")))

	enforceRun := waitForCheckRun(t, gh, "egress / build", func(r ghstandin.CheckRun) bool { return len(r.Annotations) == 4 })
	auditRun := waitForCheckRun(t, gh, "egress / test (ubuntu)", func(r ghstandin.CheckRun) bool { return len(r.Annotations) == 2 })

	wantEnforceSummary := "Egress of this job outside the runner's profile (mode: enforce, scale set arc-runners/linux).\n\n" +
		"| Destination | Port | Result | Connections | First seen (UTC) |\n" +
		"|---|---|---|---|---|\n" +
		"| `registry.npmjs.org` | 443 | blocked | 3 | 2026-12-04 12:00:00 |\n" +
		"| `203.0.113.7` (IP address only) | 443 | blocked | 1 | 2026-12-04 12:00:00 |\n" +
		"| `example.com` | 80 | blocked | 1 | 2026-12-04 12:00:00 |\n" +
		"| `pypi.org` | 443 | denied | 1 | 2026-12-04 12:00:00 |\n" +
		"\n### Mirrors to use instead\n\n" +
		"- `registry.npmjs.org`: use the mirror `npm-mirror`: `npm config set registry https://npm.corp.example.com/`\n" +
		"\nA destination marked \"IP address only\" sent no TLS server name or HTTP host, so only its IP address is known.\n"
	checkRunFields(t, enforceRun, sha, "in_progress", "", "4 destinations blocked", wantEnforceSummary, "")

	path := ".github/workflows/ci.yml"
	wantAnnotations := []ghstandin.Annotation{
		{Path: path, StartLine: 1, EndLine: 1, Level: "failure", Title: "Egress blocked: registry.npmjs.org:443",
			Message: "registry.npmjs.org:443 blocked, 3 connection(s) so far, first seen 2026-12-04T12:00:00Z. Use the mirror npm-mirror instead: npm config set registry https://npm.corp.example.com/."},
		{Path: path, StartLine: 1, EndLine: 1, Level: "failure", Title: "Egress blocked: 203.0.113.7:443",
			Message: "203.0.113.7:443 blocked, 1 connection(s) so far, first seen 2026-12-04T12:00:00Z. Only the destination IP address is known: the connection sent no TLS server name or HTTP host. Add it to .github/egress.yaml if the job needs it."},
		{Path: path, StartLine: 1, EndLine: 1, Level: "failure", Title: "Egress blocked: example.com:80",
			Message: "example.com:80 blocked, 1 connection(s) so far, first seen 2026-12-04T12:00:00Z. Add it to .github/egress.yaml if the job needs it."},
		{Path: path, StartLine: 1, EndLine: 1, Level: "failure", Title: "Egress denied at the gateway: pypi.org:443",
			Message: "pypi.org:443 denied, 1 connection(s) so far, first seen 2026-12-04T12:00:00Z. Policy: ns\\x5bistio-system\\x5d-policy\\x5barc-runners-egress\\x5d-rule\\x5b0\\x5d. Add it to .github/egress.yaml if the job needs it."},
	}
	checkAnnotations(t, enforceRun.Annotations, wantAnnotations)

	wantAuditText := "Suggested `.github/egress.yaml` covering every destination this job used:\n\n" +
		"```yaml\nversion: 1\nmode: audit\nallow:\n  - npm-mirror  # replaces registry.npmjs.org\n  - host: api.example.com\n  - host: github.com\n```\n\n" +
		"Switch `mode` to `enforce` once the job passes with it.\n"
	wantAuditSummary := "Egress of this job outside the runner's profile (mode: audit, scale set arc-runners/linux-audit).\n\n" +
		"| Destination | Port | Result | Connections | First seen (UTC) |\n" +
		"|---|---|---|---|---|\n" +
		"| `registry.npmjs.org` | 443 | would be blocked | 1 | 2026-12-04 12:00:00 |\n" +
		"| `api.example.com` | 443 | would be blocked | 1 | 2026-12-04 12:00:00 |\n" +
		"\n### Mirrors to use instead\n\n" +
		"- `registry.npmjs.org`: use the mirror `npm-mirror`: `npm config set registry https://npm.corp.example.com/`\n"
	checkRunFields(t, auditRun, sha, "in_progress", "", "2 destinations would be blocked (audit mode)", wantAuditSummary, wantAuditText)
	checkAnnotations(t, auditRun.Annotations, []ghstandin.Annotation{
		{Path: path, StartLine: 1, EndLine: 1, Level: "warning", Title: "Egress would be blocked: registry.npmjs.org:443",
			Message: "registry.npmjs.org:443 would be blocked, 1 connection(s) so far, first seen 2026-12-04T12:00:00Z. Use the mirror npm-mirror instead: npm config set registry https://npm.corp.example.com/."},
		{Path: path, StartLine: 1, EndLine: 1, Level: "warning", Title: "Egress would be blocked: api.example.com:443",
			Message: "api.example.com:443 would be blocked, 1 connection(s) so far, first seen 2026-12-04T12:00:00Z. Add it to .github/egress.yaml if the job needs it."},
	})

	if got := testutil.ToFloat64(metrics.Dropped.WithLabelValues(DropUnknownSource)); got != 1 {
		t.Errorf("entries dropped from unknown sources = %v, want 1", got)
	}
	if got := testutil.ToFloat64(metrics.Blocked.WithLabelValues(testNamespace, enforceSet, "registry.npmjs.org")); got != 3 {
		t.Errorf("blocked connections to registry.npmjs.org = %v, want 3", got)
	}

	// The jobs end: the enforce runner's job fields are cleared, the audit
	// runner is deleted. Both runs complete without repeating annotations.
	clearJob(ctx, t, c, enforce.name)
	deleteRunner(ctx, t, c, audit.name)
	enforceRun = waitForCheckRun(t, gh, "egress / build", func(r ghstandin.CheckRun) bool { return r.Status == "completed" })
	auditRun = waitForCheckRun(t, gh, "egress / test (ubuntu)", func(r ghstandin.CheckRun) bool { return r.Status == "completed" })
	checkRunFields(t, enforceRun, sha, "completed", "failure", "4 destinations blocked", wantEnforceSummary, "")
	checkAnnotations(t, enforceRun.Annotations, wantAnnotations)
	checkRunFields(t, auditRun, sha, "completed", "neutral", "2 destinations would be blocked (audit mode)", wantAuditSummary, wantAuditText)
	if got := len(auditRun.Annotations); got != 2 {
		t.Errorf("audit run has %d annotations after completion, want 2", got)
	}
	if runs := gh.CheckRuns("octo/app"); len(runs) != 2 {
		t.Errorf("check runs on octo/app = %d, want 2 (one per job)", len(runs))
	}

	// Per job: one workflow-run read, one check-run lookup, at most
	// MaxUpdatesPerJob+1 writes and one extra request for a write with
	// more than 50 of the at most 100 annotations.
	requests := len(gh.RequestsTo("", `^/repos/octo/app/(check-runs|commits/[0-9a-f]+/check-runs|actions/runs/)`))
	capPerJob := 1 + 1 + DefaultOptions().MaxUpdatesPerJob + 1 + 1
	if requests > 2*capPerJob {
		t.Errorf("GitHub requests for 2 jobs = %d, cap %d per job", requests, capPerJob)
	}
	t.Logf("GitHub requests for 2 jobs: %d", requests)
}

func startPipelineWithClock(t *testing.T, reporter *Reporter, clock func() time.Time) accesslogClient {
	t.Helper()
	return startPipelineServer(t, reporter, &Server{BindAddress: "127.0.0.1:0", Reporter: reporter, Metrics: reporter.metrics, Clock: clock})
}

func send(ctx context.Context, t *testing.T, client accesslogClient, messages ...*streamMessage) {
	t.Helper()
	if err := sendStream(ctx, client, messages...); err != nil {
		t.Fatalf("stream access logs: %v", err)
	}
}

func waitForCheckRun(t *testing.T, gh *ghstandin.Server, name string, done func(ghstandin.CheckRun) bool) ghstandin.CheckRun {
	t.Helper()
	var found ghstandin.CheckRun
	waitFor(t, time.Minute, "check run "+name, func() bool {
		for _, run := range gh.CheckRuns("octo/app") {
			if run.Name == name && done(run) {
				found = run
				return true
			}
		}
		return false
	})
	return found
}

func checkRunFields(t *testing.T, run ghstandin.CheckRun, sha, status, conclusion, title, summary, text string) {
	t.Helper()
	if run.HeadSHA != sha {
		t.Errorf("%s: head SHA = %q, want %q", run.Name, run.HeadSHA, sha)
	}
	if run.Status != status {
		t.Errorf("%s: status = %q, want %q", run.Name, run.Status, status)
	}
	if run.Conclusion != conclusion {
		t.Errorf("%s: conclusion = %q, want %q", run.Name, run.Conclusion, conclusion)
	}
	if run.Title != title {
		t.Errorf("%s: title = %q, want %q", run.Name, run.Title, title)
	}
	if run.Summary != summary {
		t.Errorf("%s: summary =\n%s\nwant\n%s", run.Name, run.Summary, summary)
	}
	if run.Text != text {
		t.Errorf("%s: text =\n%s\nwant\n%s", run.Name, run.Text, text)
	}
	if !strings.HasPrefix(run.ExternalID, "arc-lockdown/egress/octo/app/") {
		t.Errorf("%s: external ID = %q", run.Name, run.ExternalID)
	}
}

func checkAnnotations(t *testing.T, got, want []ghstandin.Annotation) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("annotations = %d, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("annotation %d =\n%+v\nwant\n%+v", i, got[i], want[i])
		}
	}
}

// createCluster creates the namespace, the policy, the scale sets with
// their ScaleSetEgress status, and the runner pods and EphemeralRunners with
// their job fields, each status written through the status subresource.
func createCluster(ctx context.Context, t *testing.T, c client.Client, set envtest.ARCCRDSet, runners []runnerFixture) {
	t.Helper()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("create namespace", c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}}))
	must("create EgressPolicy", c.Create(ctx, &egressv1alpha1.EgressPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: egressv1alpha1.EgressPolicySpec{Catalog: []egressv1alpha1.CatalogEntry{{
			Name:         "npm-mirror",
			Destinations: []egressv1alpha1.Destination{{Host: "npm.corp.example.com"}},
			Replaces:     []string{"registry.npmjs.org"},
			Hint:         "npm config set registry https://npm.corp.example.com/",
		}}},
	}))

	for _, s := range []struct {
		name string
		mode egressv1alpha1.Mode
	}{{enforceSet, egressv1alpha1.ModeEnforce}, {auditSet, egressv1alpha1.ModeAudit}} {
		ars := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "actions.github.com/v1alpha1", "kind": "AutoscalingRunnerSet",
			"metadata": map[string]any{"name": s.name, "namespace": testNamespace},
			"spec": map[string]any{
				"githubConfigUrl":    "https://github.com/octo",
				"githubConfigSecret": "github-app",
				"template": map[string]any{"spec": map[string]any{"containers": []any{
					map[string]any{"name": "runner", "image": "ghcr.io/actions/actions-runner:latest"},
				}}},
			},
		}}
		must("create AutoscalingRunnerSet "+s.name, c.Create(ctx, ars))
		sse := &egressv1alpha1.ScaleSetEgress{
			ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: testNamespace},
			Spec:       egressv1alpha1.ScaleSetEgressSpec{ScaleSetName: s.name},
		}
		must("create ScaleSetEgress "+s.name, c.Create(ctx, sse))
		sse.Status = egressv1alpha1.ScaleSetEgressStatus{
			Policy: "default", Mode: s.mode,
			Hosts: []string{"github.com", "npm.corp.example.com"},
		}
		must("update ScaleSetEgress status "+s.name, c.Status().Update(ctx, sse))
	}

	for _, r := range runners {
		labels := map[string]string{
			labelComponent: componentRunner, labelScaleSetName: r.scaleSet, labelScaleSetNamespace: testNamespace,
			"actions.github.com/organization": "octo", "actions-ephemeral-runner": "True",
		}
		createPod(ctx, t, c, r.name, labels, r.podIP)
		if r.jobPodIP != "" {
			createPod(ctx, t, c, r.name+"-workflow", map[string]string{labelRunnerPod: r.name}, r.jobPodIP)
		}

		runner := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "actions.github.com/v1alpha1", "kind": "EphemeralRunner",
			"metadata": map[string]any{"name": r.name, "namespace": testNamespace, "labels": toAny(labels)},
			"spec": map[string]any{
				"githubConfigUrl": "https://github.com/octo", "githubConfigSecret": "github-app", "runnerScaleSetId": int64(7),
				"spec": map[string]any{"containers": []any{map[string]any{"name": "runner", "image": "ghcr.io/actions/actions-runner:latest"}}},
			},
		}}
		must("create EphemeralRunner "+r.name, c.Create(ctx, runner))
		status := map[string]any{
			"phase": "Running", "ready": true, "runnerId": int64(31), "runnerName": r.name,
			"jobRepositoryName": "octo/app",
			"jobWorkflowRef":    "octo/app/.github/workflows/ci.yml@refs/heads/main",
			"workflowRunId":     r.runID,
			"jobRequestId":      int64(1001),
			"jobDisplayName":    r.jobName,
		}
		// The two CRD sets disagree on status.failures, the field that breaks
		// ARC v0.27.6's Go types; write each set's form.
		if set == envtest.ARCModule {
			status["failures"] = map[string]any{"pod-1": true}
		} else {
			status["jobId"] = "job-" + r.name
			status["failures"] = map[string]any{"pod-1": "2026-12-04T11:59:00Z"}
		}
		runner.Object["status"] = status
		must("update EphemeralRunner status "+r.name, c.Status().Update(ctx, runner))
	}

	// An unrelated pod, which must never be attributed.
	createPod(ctx, t, c, "web-0", map[string]string{"app": "web"}, "10.244.3.3")
}

func createPod(ctx context.Context, t *testing.T, c client.Client, name string, labels map[string]string, ip string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
	}
	if err := c.Create(ctx, pod); err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
	if err := c.Status().Update(ctx, pod); err != nil {
		t.Fatalf("update pod %s status: %v", name, err)
	}
}

func clearJob(ctx context.Context, t *testing.T, c client.Client, name string) {
	t.Helper()
	runner := &unstructured.Unstructured{}
	runner.SetGroupVersionKind(ephemeralRunnerGVK)
	if err := c.Get(ctx, client.ObjectKey{Namespace: testNamespace, Name: name}, runner); err != nil {
		t.Fatalf("get EphemeralRunner %s: %v", name, err)
	}
	status, _, _ := unstructured.NestedMap(runner.Object, "status")
	for _, field := range []string{"jobRepositoryName", "jobWorkflowRef", "workflowRunId", "jobRequestId", "jobDisplayName", "jobId"} {
		delete(status, field)
	}
	runner.Object["status"] = status
	if err := c.Status().Update(ctx, runner); err != nil {
		t.Fatalf("clear job fields of EphemeralRunner %s: %v", name, err)
	}
}

func deleteRunner(ctx context.Context, t *testing.T, c client.Client, name string) {
	t.Helper()
	runner := &unstructured.Unstructured{}
	runner.SetGroupVersionKind(ephemeralRunnerGVK)
	runner.SetNamespace(testNamespace)
	runner.SetName(name)
	if err := c.Delete(ctx, runner); err != nil {
		t.Fatalf("delete EphemeralRunner %s: %v", name, err)
	}
}

func toAny(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
