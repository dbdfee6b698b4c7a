package webhook

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arc-lockdown/arc-lockdown/github"
	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

// prFixture is a stand-in repository Codertocat/Hello-World with a pull
// request, a scale set reading the repository and the EgressPolicy
// governing it.
type prFixture struct {
	standin *ghstandin.Server
	handler *Handler
	number  int
	baseSHA string
}

// newPRFixture commits base to the default branch and head to branch
// "feature", and opens a pull request between them. An empty base or head
// leaves the file out of that branch.
func newPRFixture(t *testing.T, ns, base, head string) *prFixture {
	t.Helper()
	env := requireEnv(t)
	s := ghstandin.New(t)
	s.AddInstallation("Codertocat")
	s.AddRepository("Codertocat/Hello-World", "master")

	baseSHA := s.AddCommit("Codertocat/Hello-World", "master", "Start")
	if base != "" {
		baseSHA = s.SetFile("Codertocat/Hello-World", "master", ConfigPath, []byte(base))
	}
	s.SetFile("Codertocat/Hello-World", "feature", "README.md", []byte("Hello\n"))
	if head != "" {
		s.SetFile("Codertocat/Hello-World", "feature", ConfigPath, []byte(head))
	}
	number := s.OpenPullRequest("Codertocat/Hello-World", "master", "feature")

	scaleSetLabels := map[string]string{"egress-test": ns}
	createScaleSets(t, env.Client, ns, nil, testScaleSet{name: "hello-world", url: "https://github.com/Codertocat/Hello-World", labels: scaleSetLabels})
	policy := testPolicy()
	policy.Name = ns
	policy.Spec.ScaleSetSelector = &metav1.LabelSelector{MatchLabels: scaleSetLabels}
	if err := env.Client.Create(context.Background(), policy); err != nil {
		t.Fatalf("create EgressPolicy: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), policy) })

	clients, err := github.NewClientSet(
		github.AppCredentials{AppID: s.AppID(), PrivateKey: s.PrivateKeyPEM()},
		github.Options{BaseURLs: map[string]string{"github.com": s.BaseURL()}},
	)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(Options{
		Secret:  []byte(testSecret),
		Checker: &ConfigChecker{Reader: env.Client, GitHub: NewGitHubChecks(clients)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &prFixture{standin: s, handler: h, number: number, baseSHA: baseSHA}
}

// deliver sends GitHub's example "opened" pull_request event, pointed at
// the fixture's pull request and head commit, and waits for the check.
func (f *prFixture) deliver(t *testing.T, action string) {
	t.Helper()
	headSHA := f.headSHA(t)
	var opened []byte
	for _, example := range examplePayloads(t, "pull_request") {
		if bytes.Contains(example, []byte(`"action":"opened"`)) || bytes.Contains(example, []byte(`"action": "opened"`)) {
			opened = example
			break
		}
	}
	payload := editJSON(t, opened, func(m map[string]any) {
		m["action"] = action
		m["number"] = f.number
		pr := m["pull_request"].(map[string]any)
		pr["number"] = f.number
		pr["head"].(map[string]any)["sha"] = headSHA
		pr["head"].(map[string]any)["ref"] = "feature"
		pr["base"].(map[string]any)["sha"] = f.baseSHA
		pr["base"].(map[string]any)["ref"] = "master"
	})

	w := serve(f.handler, newDelivery("pull_request", payload))
	if w.Code != http.StatusAccepted {
		t.Fatalf("status = %d, want 202; body: %s", w.Code, w.Body)
	}
	f.handler.WaitForChecks()
}

// headSHA returns the latest commit of branch "feature", as the stand-in's
// commits endpoint would.
func (f *prFixture) headSHA(t *testing.T) string {
	t.Helper()
	// Committing nothing moves the branch, so add an empty commit and use
	// it as the head.
	return f.standin.AddCommit("Codertocat/Hello-World", "feature", "Head")
}

// configRuns returns the stand-in's "egress / config" check runs.
func (f *prFixture) configRuns() []ghstandin.CheckRun {
	var runs []ghstandin.CheckRun
	for _, run := range f.standin.CheckRuns("Codertocat/Hello-World") {
		if run.Name == CheckRunName {
			runs = append(runs, run)
		}
	}
	return runs
}

func TestPullRequestCheckAnnotatesErrorAndDrop(t *testing.T) {
	f := newPRFixture(t, "pr-error-and-drop", "version: 1\n", fileWithErrorAndDrop)

	f.deliver(t, "opened")

	runs := f.configRuns()
	if len(runs) != 1 {
		t.Fatalf("check runs = %d, want 1", len(runs))
	}
	run := runs[0]
	if run.Status != "completed" || run.Conclusion != "failure" {
		t.Errorf("status/conclusion = %s/%s, want completed/failure", run.Status, run.Conclusion)
	}
	if len(run.Annotations) != 2 {
		t.Fatalf("annotations = %+v, want exactly 2", run.Annotations)
	}
	failure, warning := run.Annotations[0], run.Annotations[1]
	if failure.Path != ConfigPath || failure.StartLine != 6 || failure.EndLine != 6 || failure.Level != "failure" {
		t.Errorf("first annotation = %+v, want a failure on line 6 of %s", failure, ConfigPath)
	}
	if !strings.Contains(failure.Message, "70000") {
		t.Errorf("failure message %q does not name the port", failure.Message)
	}
	if warning.Path != ConfigPath || warning.StartLine != 7 || warning.EndLine != 7 || warning.Level != "warning" {
		t.Errorf("second annotation = %+v, want a warning on line 7 of %s", warning, ConfigPath)
	}
	if !strings.Contains(warning.Message, "registry.npmjs.org") || !strings.Contains(warning.Message, "deny") {
		t.Errorf("warning message %q does not name the host and the deny list", warning.Message)
	}
}

func TestPullRequestCheckSummarizesMerge(t *testing.T) {
	base := "version: 1\nallow:\n  - host: old.corp.example.com\n"
	head := "version: 1\nallow:\n  - npm-mirror\n"
	f := newPRFixture(t, "pr-summary", base, head)

	f.deliver(t, "synchronize")

	runs := f.configRuns()
	if len(runs) != 1 {
		t.Fatalf("check runs = %d, want 1", len(runs))
	}
	run := runs[0]
	if run.Conclusion != "success" || len(run.Annotations) != 0 {
		t.Errorf("conclusion = %s with %d annotations, want success with none", run.Conclusion, len(run.Annotations))
	}
	for _, want := range []string{"Added:\n\n- `npm.corp.example.com:443/TLS`", "Removed:\n\n- `old.corp.example.com:443/TLS`"} {
		if !strings.Contains(run.Summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, run.Summary)
		}
	}
}

func TestPullRequestWithoutConfigChangeGetsNoCheck(t *testing.T) {
	f := newPRFixture(t, "pr-no-change", "version: 1\n", "")

	f.deliver(t, "opened")

	if runs := f.configRuns(); len(runs) != 0 {
		t.Errorf("check runs = %+v, want none", runs)
	}
	if n := len(f.standin.RequestsTo("GET", `/contents/`)); n != 0 {
		t.Errorf("requests for the file = %d, want 0", n)
	}
}

func TestRepeatedPullRequestCheckAddsNoAnnotations(t *testing.T) {
	f := newPRFixture(t, "pr-repeated", "version: 1\n", fileWithErrorAndDrop)
	headSHA := f.headSHA(t)
	pr := PullRequest{
		Repository: Repository{Host: "github.com", Owner: "Codertocat", Name: "Hello-World", DefaultBranch: "master"},
		Number:     f.number, HeadSHA: headSHA, BaseRef: "master", BaseSHA: f.baseSHA,
	}
	checker := f.handler.opts.Checker

	for range 2 {
		if err := checker.CheckPullRequest(context.Background(), pr); err != nil {
			t.Fatal(err)
		}
	}

	runs := f.configRuns()
	if len(runs) != 1 || len(runs[0].Annotations) != 2 {
		t.Errorf("runs = %d with annotations %+v, want 1 run with 2", len(runs), runs)
	}
}
