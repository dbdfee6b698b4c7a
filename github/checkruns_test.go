package github

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

func annotations(n int) []Annotation {
	out := make([]Annotation, n)
	for i := range out {
		out[i] = Annotation{
			Path:      EgressConfigPath,
			StartLine: i + 1,
			Level:     "failure",
			Title:     "blocked",
			Message:   fmt.Sprintf("connection %d to blocked.example.com:443 was blocked", i),
		}
	}
	return out
}

func checkRunClient(t *testing.T, s *ghstandin.Server) *Client {
	t.Helper()
	cs, _ := newTestClientSet(t, s, nil)
	client, err := cs.For(context.Background(), mustScope(t, "https://github.com/octo-org/app"))
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func TestUpsertCheckRunBatchesAnnotations(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	head := s.SetFile("octo-org/app", "", "README.md", []byte("hi\n"))
	client := checkRunClient(t, s)

	id, err := client.UpsertCheckRun(context.Background(), "octo-org", "app", CheckRun{
		Name: "egress / build", HeadSHA: head, ExternalID: "scale-set/arc-runners",
		Status: "completed", Conclusion: "failure", Title: "3 destinations blocked", Summary: "## Blocked",
		Annotations: annotations(120),
	})
	if err != nil {
		t.Fatalf("UpsertCheckRun: %v", err)
	}

	writes := s.RequestsTo("", `^/repos/octo-org/app/check-runs`)
	if len(writes) != 3 {
		t.Fatalf("check run writes = %d, want 3", len(writes))
	}
	wantMethods := []string{http.MethodPost, http.MethodPatch, http.MethodPatch}
	wantCounts := []int{50, 50, 20}
	// The run stays in progress until its last batch is written.
	wantStatus := []string{"in_progress", "", "completed"}
	for i, r := range writes {
		var body struct {
			Status string `json:"status"`
			Output struct {
				Annotations []json.RawMessage `json:"annotations"`
			} `json:"output"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("request %d body: %v", i, err)
		}
		if r.Method != wantMethods[i] || len(body.Output.Annotations) != wantCounts[i] {
			t.Errorf("request %d: %s with %d annotations, want %s with %d", i, r.Method, len(body.Output.Annotations), wantMethods[i], wantCounts[i])
		}
		if body.Status != wantStatus[i] {
			t.Errorf("request %d: status %q, want %q", i, body.Status, wantStatus[i])
		}
	}

	runs := s.CheckRuns("octo-org/app")
	if len(runs) != 1 {
		t.Fatalf("check runs = %d, want 1", len(runs))
	}
	run := runs[0]
	if run.ID != id || len(run.Annotations) != 120 {
		t.Errorf("run %d has %d annotations, want run %d with 120", run.ID, len(run.Annotations), id)
	}
	if run.Annotations[119].StartLine != 120 || run.Annotations[119].EndLine != 120 || run.Annotations[119].Level != "failure" {
		t.Errorf("last annotation = %+v, want line 120, failure", run.Annotations[119])
	}
	if run.Status != "completed" || run.Conclusion != "failure" || run.ExternalID != "scale-set/arc-runners" {
		t.Errorf("run status %s, conclusion %s, external ID %s", run.Status, run.Conclusion, run.ExternalID)
	}
}

func TestUpsertCheckRunUpdatesAfterRestart(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	head := s.SetFile("octo-org/app", "", "README.md", []byte("hi\n"))
	run := CheckRun{Name: "egress / build", HeadSHA: head, ExternalID: "scale-set/a", Status: "in_progress", Summary: "first"}

	first, err := checkRunClient(t, s).UpsertCheckRun(context.Background(), "octo-org", "app", run)
	if err != nil {
		t.Fatal(err)
	}
	// A new ClientSet stands for a restarted controller or another replica.
	run.Summary, run.Conclusion = "second", "success"
	second, err := checkRunClient(t, s).UpsertCheckRun(context.Background(), "octo-org", "app", run)
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Errorf("second upsert returned run %d, want the existing %d", second, first)
	}
	// Another external ID on the same head is another run.
	run.ExternalID = "scale-set/b"
	other, err := checkRunClient(t, s).UpsertCheckRun(context.Background(), "octo-org", "app", run)
	if err != nil {
		t.Fatal(err)
	}
	if other == first {
		t.Errorf("a different external ID reused run %d", first)
	}

	runs := s.CheckRuns("octo-org/app")
	if len(runs) != 2 {
		t.Fatalf("check runs = %d, want 2", len(runs))
	}
	if runs[0].Summary != "second" || runs[0].Conclusion != "success" {
		t.Errorf("updated run summary %q, conclusion %q; want second, success", runs[0].Summary, runs[0].Conclusion)
	}
	if n := len(s.RequestsTo(http.MethodPost, `/check-runs$`)); n != 2 {
		t.Errorf("creates = %d, want 2", n)
	}
	lists := s.RequestsTo(http.MethodGet, `/check-runs$`)
	if len(lists) == 0 || !strings.Contains(lists[0].RawQuery, "app_id="+itoa(s.AppID())) {
		t.Errorf("list requests %v do not filter by the App ID", lists)
	}
}

func TestUpsertCheckRunReusesKnownID(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	head := s.SetFile("octo-org/app", "", "README.md", []byte("hi\n"))
	client := checkRunClient(t, s)
	run := CheckRun{Name: "egress / build", HeadSHA: head, ExternalID: "x", Summary: "one"}
	for range 3 {
		if _, err := client.UpsertCheckRun(context.Background(), "octo-org", "app", run); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.RequestsTo(http.MethodGet, `/check-runs$`)); n != 1 {
		t.Errorf("list requests = %d, want 1 (the ID is remembered)", n)
	}
	if n := len(s.CheckRuns("octo-org/app")); n != 1 {
		t.Errorf("check runs = %d, want 1", n)
	}
}

func TestUpsertCheckRunTruncatesOutput(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	head := s.SetFile("octo-org/app", "", "README.md", []byte("hi\n"))
	client := checkRunClient(t, s)
	long := strings.Repeat("é", MaxOutputChars+10)

	if _, err := client.UpsertCheckRun(context.Background(), "octo-org", "app", CheckRun{
		Name: "egress / build", HeadSHA: head, Title: long, Summary: long, Text: long,
	}); err != nil {
		t.Fatalf("UpsertCheckRun: %v", err)
	}
	run := s.CheckRuns("octo-org/app")[0]
	for name, got := range map[string]string{"title": run.Title, "summary": run.Summary, "text": run.Text} {
		if n := utf8.RuneCountInString(got); n != MaxOutputChars {
			t.Errorf("%s has %d characters, want %d", name, n, MaxOutputChars)
		}
		if !strings.HasSuffix(got, truncationMarker) {
			t.Errorf("%s does not end with the truncation marker", name)
		}
	}
}

func TestUpsertCheckRunRejectsInvalidInput(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	head := s.SetFile("octo-org/app", "", "README.md", []byte("hi\n"))
	client := checkRunClient(t, s)

	for name, run := range map[string]CheckRun{
		"no name":                  {HeadSHA: head},
		"completed, no conclusion": {Name: "n", HeadSHA: head, Status: "completed"},
		"bad level":                {Name: "n", HeadSHA: head, Annotations: []Annotation{{Path: "a", Message: "m", Level: "error"}}},
	} {
		if _, err := client.UpsertCheckRun(context.Background(), "octo-org", "app", run); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if n := len(s.RequestsTo("", `check-runs`)); n != 0 {
		t.Errorf("requests = %d, want none for invalid input", n)
	}
}

func TestWorkflowRunCached(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	head := s.SetFile("octo-org/app", "feature", "README.md", []byte("hi\n"))
	runID := s.AddWorkflowRun("octo-org/app", ghstandin.WorkflowRun{HeadSHA: head, HeadBranch: "feature"})
	client := checkRunClient(t, s)

	for range 2 {
		got, err := client.WorkflowRun(context.Background(), "octo-org", "app", runID)
		if err != nil {
			t.Fatal(err)
		}
		if got.HeadSHA != head || got.HeadBranch != "feature" {
			t.Errorf("WorkflowRun = %+v, want %s on feature", got, head)
		}
	}
	if n := len(s.RequestsTo(http.MethodGet, `/actions/runs/`)); n != 1 {
		t.Errorf("workflow run requests = %d, want 1", n)
	}

	if _, err := client.WorkflowRun(context.Background(), "octo-org", "app", runID+1000); err == nil {
		t.Errorf("a missing run returned no error")
	}
}
