package webhook

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// exampleScaleSets maps the repositories of GitHub's example payloads onto
// scale sets in namespace ns.
func exampleScaleSets(t *testing.T, ns string) {
	t.Helper()
	createScaleSets(t, requireEnv(t).Client, ns, nil,
		testScaleSet{name: "hello-world", url: "https://github.com/Codertocat/Hello-World"},
		testScaleSet{name: "hello-world-release", url: "https://github.com/Codertocat/Hello-World", configRef: "release"},
		testScaleSet{name: "codertocat-org", url: "https://github.com/Codertocat"},
		testScaleSet{name: "space", url: "https://github.com/Codertocat/Space"},
		testScaleSet{name: "octocat-hello", url: "https://github.com/octocat/Hello-World"},
		testScaleSet{name: "octo-org-example", url: "https://github.com/octo-org/example-workflow"},
		testScaleSet{name: "unrelated", url: "https://github.com/acme/web-app"},
		testScaleSet{name: "other-host", url: "https://ghes.example.com/Codertocat/Hello-World"},
		testScaleSet{name: "enterprise", url: "https://github.com/enterprises/Codertocat"},
		testScaleSet{name: "invalid-url", url: "github.com/Codertocat/Hello-World"},
	)
}

// prefixed returns "ns/name" for each name.
func prefixed(ns string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = ns + "/" + n
	}
	slices.Sort(out)
	return out
}

func TestExamplePushes(t *testing.T) {
	const ns = "example-pushes"
	exampleScaleSets(t, ns)
	trigger := NewTrigger(requireEnv(t).Client, nil)
	h, err := NewHandler(Options{Secret: []byte(testSecret), Trigger: trigger})
	if err != nil {
		t.Fatal(err)
	}

	for i, example := range examplePayloads(t, "push") {
		var push struct {
			Ref string `json:"ref"`
		}
		if err := json.Unmarshal(example, &push); err != nil {
			t.Fatal(err)
		}

		// As published, no example changes the egress file: a tag push, or
		// README.md added on master.
		w := serve(h, newDelivery("push", example))
		if w.Code != http.StatusOK {
			t.Errorf("example %d (%s): status = %d, want 200; body: %s", i, push.Ref, w.Code, w.Body)
		}
		if got := drain(trigger); len(got) != 0 {
			t.Errorf("example %d (%s) as published triggered %v", i, push.Ref, got)
		}

		// The same push with its commits changing the egress file.
		changed := editJSON(t, example, func(m map[string]any) {
			m["commits"] = []any{map[string]any{
				"id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433",
				"distinct": true, "message": "Allow the npm mirror", "timestamp": "2019-05-15T15:20:30-05:00",
				"url":       "https://github.com/Codertocat/Hello-World/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
				"author":    map[string]any{"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com", "username": "Codertocat"},
				"committer": map[string]any{"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
				"added":     []any{}, "removed": []any{}, "modified": []any{ConfigPath},
			}}
		})
		w = serve(h, newDelivery("push", changed))
		if w.Code != http.StatusOK {
			t.Errorf("example %d (%s) changing the file: status = %d, want 200; body: %s", i, push.Ref, w.Code, w.Body)
		}
		var want []string
		if push.Ref == "refs/heads/master" {
			want = prefixed(ns, "hello-world")
		}
		if got := drain(trigger); !slices.Equal(got, want) {
			t.Errorf("example %d (%s) changing the file triggered %v, want %v", i, push.Ref, got, want)
		}
	}
}

func TestPushesOfOtherRefsAndRepositories(t *testing.T) {
	const ns = "other-pushes"
	exampleScaleSets(t, ns)
	trigger := NewTrigger(requireEnv(t).Client, nil)
	h, err := NewHandler(Options{Secret: []byte(testSecret), Trigger: trigger})
	if err != nil {
		t.Fatal(err)
	}
	base := pushOfConfig(t)

	tests := []struct {
		name string
		edit func(m map[string]any)
		want []string
	}{
		{"branch named by config-ref", func(m map[string]any) { m["ref"] = "refs/heads/release" }, prefixed(ns, "hello-world-release")},
		{"other branch", func(m map[string]any) { m["ref"] = "refs/heads/feature" }, nil},
		{"organization's .github repository", func(m map[string]any) {
			repo := m["repository"].(map[string]any)
			repo["name"], repo["full_name"] = ".github", "Codertocat/.github"
			repo["html_url"] = "https://github.com/Codertocat/.github"
		}, prefixed(ns, "codertocat-org")},
		{"repository named in another case", func(m map[string]any) {
			repo := m["repository"].(map[string]any)
			repo["name"] = "hello-world"
		}, prefixed(ns, "hello-world")},
		{"GitHub Enterprise Server host", func(m map[string]any) {
			repo := m["repository"].(map[string]any)
			repo["html_url"] = "https://ghes.example.com/Codertocat/Hello-World"
		}, prefixed(ns, "other-host")},
		{"forced push without commits", func(m map[string]any) {
			m["forced"] = true
			m["commits"] = []any{}
		}, prefixed(ns, "hello-world")},
		{"commit removing the file", func(m map[string]any) {
			commit := m["commits"].([]any)[0].(map[string]any)
			commit["modified"], commit["removed"] = []any{}, []any{ConfigPath}
		}, prefixed(ns, "hello-world")},
		{"file in another directory", func(m map[string]any) {
			commit := m["commits"].([]any)[0].(map[string]any)
			commit["modified"] = []any{"docs/.github/egress.yaml"}
		}, nil},
		{"deleted branch", func(m map[string]any) { m["deleted"] = true }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(h, newDelivery("push", editJSON(t, base, tt.edit)))
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body: %s", w.Code, w.Body)
			}
			if got := drain(trigger); !slices.Equal(got, tt.want) {
				t.Errorf("triggered %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExampleInstallationEvents(t *testing.T) {
	const ns = "example-installations"
	exampleScaleSets(t, ns)
	trigger := NewTrigger(requireEnv(t).Client, nil)
	forgetter := &forgetRecorder{}
	h, err := NewHandler(Options{Secret: []byte(testSecret), Trigger: trigger, Installations: forgetter})
	if err != nil {
		t.Fatal(err)
	}
	codertocatAll := prefixed(ns, "hello-world", "hello-world-release", "codertocat-org", "space")

	for i, example := range examplePayloads(t, "installation") {
		var e struct {
			Action       string `json:"action"`
			Installation struct {
				ID int64 `json:"id"`
			} `json:"installation"`
			Repositories []struct {
				FullName string `json:"full_name"`
			} `json:"repositories"`
		}
		if err := json.Unmarshal(example, &e); err != nil {
			t.Fatal(err)
		}

		w := serve(h, newDelivery("installation", example))
		if w.Code != http.StatusOK {
			t.Errorf("example %d (%s): status = %d, want 200; body: %s", i, e.Action, w.Code, w.Body)
		}

		var want []string
		switch {
		case len(e.Repositories) == 0:
			want = codertocatAll
		case e.Repositories[0].FullName == "Codertocat/Hello-World":
			want = prefixed(ns, "hello-world", "hello-world-release")
		case e.Repositories[0].FullName == "octocat/Hello-World":
			want = prefixed(ns, "octocat-hello")
		default:
			t.Fatalf("example %d lists unexpected repositories %v", i, e.Repositories)
		}
		if got := drain(trigger); !slices.Equal(got, want) {
			t.Errorf("example %d (%s) triggered %v, want %v", i, e.Action, got, want)
		}
		if n := len(forgetter.ids); n == 0 || forgetter.ids[n-1] != e.Installation.ID {
			t.Errorf("example %d (%s): forgotten installations %v, want the last to be %d", i, e.Action, forgetter.ids, e.Installation.ID)
		}
	}

	for i, example := range examplePayloads(t, "installation_repositories") {
		var e struct {
			Action string `json:"action"`
		}
		if err := json.Unmarshal(example, &e); err != nil {
			t.Fatal(err)
		}
		if w := serve(h, newDelivery("installation_repositories", example)); w.Code != http.StatusOK {
			t.Errorf("installation_repositories example %d: status = %d, want 200; body: %s", i, w.Code, w.Body)
		}
		want := prefixed(ns, "space")
		if e.Action == "removed" {
			want = prefixed(ns, "octocat-hello")
		}
		if got := drain(trigger); !slices.Equal(got, want) {
			t.Errorf("installation_repositories example %d (%s) triggered %v, want %v", i, e.Action, got, want)
		}
	}
}

func TestExampleWorkflowJobs(t *testing.T) {
	jobs := &jobRecorder{}
	h, err := NewHandler(Options{Secret: []byte(testSecret), Jobs: jobs})
	if err != nil {
		t.Fatal(err)
	}

	var wantInProgress, wantCompleted int
	for i, example := range examplePayloads(t, "workflow_job") {
		var e struct {
			Action string `json:"action"`
		}
		if err := json.Unmarshal(example, &e); err != nil {
			t.Fatal(err)
		}
		switch e.Action {
		case "in_progress":
			wantInProgress++
		case "completed":
			wantCompleted++
		}
		if w := serve(h, newDelivery("workflow_job", example)); w.Code != http.StatusOK {
			t.Errorf("example %d (%s): status = %d, want 200; body: %s", i, e.Action, w.Code, w.Body)
		}
	}

	if len(jobs.inProgress) != wantInProgress || len(jobs.completed) != wantCompleted {
		t.Fatalf("observer got %d in_progress and %d completed, want %d and %d", len(jobs.inProgress), len(jobs.completed), wantInProgress, wantCompleted)
	}
	first := jobs.inProgress[0]
	want := JobInfo{
		Repository: Repository{Host: "github.com", Owner: "octo-org", Name: "example-workflow", DefaultBranch: "main"},
		JobID:      2832853555,
		JobName:    "Test workflow",
		RunID:      940463255,
		HeadSHA:    "e3103f8eb03e1ad7f2331c5446b23c070fc54055",
		RunnerName: "my runner",
		Labels:     []string{"gpu", "db-app", "dc-03"},
	}
	if first.Repository != want.Repository || first.JobID != want.JobID || first.JobName != want.JobName ||
		first.RunID != want.RunID || first.HeadSHA != want.HeadSHA || first.RunnerName != want.RunnerName ||
		!slices.Equal(first.Labels, want.Labels) {
		t.Errorf("first in_progress job = %+v, want %+v", first, want)
	}
	completed := jobs.completed[0]
	if completed.Conclusion != "failure" || completed.WorkflowName != "CodeQL" || completed.RunID != 2202229078 {
		t.Errorf("first completed job = %+v, want conclusion failure, workflow CodeQL, run 2202229078", completed)
	}
}

func TestExamplePullRequests(t *testing.T) {
	checker := &checkRecorder{}
	h, err := NewHandler(Options{Secret: []byte(testSecret), Checker: checker})
	if err != nil {
		t.Fatal(err)
	}

	var wantChecks int
	for i, example := range examplePayloads(t, "pull_request") {
		var e struct {
			Action  string         `json:"action"`
			Changes map[string]any `json:"changes"`
		}
		if err := json.Unmarshal(example, &e); err != nil {
			t.Fatal(err)
		}
		want := http.StatusOK
		if e.Action == "opened" || e.Action == "synchronize" || e.Action == "reopened" || (e.Action == "edited" && e.Changes["base"] != nil) {
			want = http.StatusAccepted
			wantChecks++
		}
		if w := serve(h, newDelivery("pull_request", example)); w.Code != want {
			t.Errorf("example %d (%s): status = %d, want %d; body: %s", i, e.Action, w.Code, want, w.Body)
		}
		h.WaitForChecks()
	}

	got := checker.checked()
	if len(got) != wantChecks {
		t.Fatalf("checks started = %d, want %d", len(got), wantChecks)
	}
	want := PullRequest{
		Repository: Repository{Host: "github.com", Owner: "Codertocat", Name: "Hello-World", DefaultBranch: "master"},
		Number:     2,
		HeadSHA:    "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
		BaseRef:    "master",
		BaseSHA:    "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
	}
	found := false
	for _, pr := range got {
		found = found || pr == want
	}
	if !found {
		t.Errorf("checks %+v do not include %+v", got, want)
	}
}
