package ghstandin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	jwt "github.com/golang-jwt/jwt/v4"
	gogithub "github.com/google/go-github/v60/github"
)

// recordingTB collects Errorf calls instead of failing, for tests that
// expect the stand-in to report a mismatch.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

// appJWT signs an App JWT with the stand-in's key.
func appJWT(t *testing.T, s *Server, iss string, issued time.Time, lifetime time.Duration) string {
	t.Helper()
	claims := jwt.MapClaims{"iss": iss, "iat": issued.Unix(), "exp": issued.Add(lifetime).Unix()}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(s.key)
	if err != nil {
		t.Fatalf("sign JWT: %v", err)
	}
	return signed
}

func do(t *testing.T, method, url, auth string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

// installationClient returns a go-github client authenticated as the
// installation on owner through ghinstallation.
func installationClient(t *testing.T, s *Server, installationID int64) *gogithub.Client {
	t.Helper()
	tr, err := ghinstallation.New(http.DefaultTransport, s.AppID(), installationID, s.PrivateKeyPEM())
	if err != nil {
		t.Fatalf("ghinstallation.New: %v", err)
	}
	tr.BaseURL = s.URL
	// Without options ghinstallation sends the body "null", which the
	// description's object schema rejects.
	tr.InstallationTokenOptions = &gogithub.InstallationTokenOptions{}
	client, err := gogithub.NewClient(&http.Client{Transport: tr}).WithEnterpriseURLs(s.BaseURL(), s.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	// WithEnterpriseURLs appends api/v3/ to hosts that are not GitHub's.
	client.BaseURL.Path = "/"
	return client
}

func TestStandinRejectsBadJWT(t *testing.T) {
	s := New(t)
	id := s.AddInstallation("octo-org")
	url := fmt.Sprintf("%s/app/installations/%d/access_tokens", s.URL, id)
	now := time.Now()
	other := New(t, WithAppID(99))

	cases := map[string]string{
		"garbage":          "Bearer not-a-jwt",
		"wrong issuer":     "Bearer " + appJWT(t, s, "7", now, time.Minute),
		"expired":          "Bearer " + appJWT(t, s, strconv.FormatInt(s.AppID(), 10), now.Add(-20*time.Minute), 5*time.Minute),
		"too long":         "Bearer " + appJWT(t, s, strconv.FormatInt(s.AppID(), 10), now, 11*time.Minute),
		"issued in future": "Bearer " + appJWT(t, s, strconv.FormatInt(s.AppID(), 10), now.Add(5*time.Minute), 5*time.Minute),
		"token scheme":     "token " + appJWT(t, s, strconv.FormatInt(s.AppID(), 10), now, time.Minute),
		"missing":          "",
	}
	// A JWT signed with the right key names another app's ID.
	cases["other app"] = "Bearer " + appJWT(t, other, strconv.FormatInt(s.AppID()+1, 10), now, time.Minute)

	for name, auth := range cases {
		t.Run(name, func(t *testing.T) {
			resp, body := do(t, http.MethodPost, url, auth, nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401; body %s", resp.StatusCode, body)
			}
			if resp.Header.Get("X-RateLimit-Limit") == "" {
				t.Errorf("401 has no X-RateLimit-Limit header")
			}
		})
	}

	valid := "Bearer " + appJWT(t, s, strconv.FormatInt(s.AppID(), 10), now.Add(-30*time.Second), 2*time.Minute)
	resp, body := do(t, http.MethodPost, url, valid, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("valid JWT: status = %d, want 201; body %s", resp.StatusCode, body)
	}
}

func TestStandinRejects51Annotations(t *testing.T) {
	rec := &recordingTB{TB: t}
	s := New(rec)
	id := s.AddInstallation("octo-org")
	head := s.SetFile("octo-org/app", "", "README.md", []byte("hello\n"))
	client := installationClient(t, s, id)
	ctx := context.Background()

	annotations := func(n int) []*gogithub.CheckRunAnnotation {
		var out []*gogithub.CheckRunAnnotation
		for i := range n {
			out = append(out, &gogithub.CheckRunAnnotation{
				Path: gogithub.String("README.md"), StartLine: gogithub.Int(1), EndLine: gogithub.Int(1),
				AnnotationLevel: gogithub.String("warning"), Message: gogithub.String(fmt.Sprintf("a%d", i)),
			})
		}
		return out
	}
	opts := func(n int) gogithub.CreateCheckRunOptions {
		return gogithub.CreateCheckRunOptions{
			Name: "egress / build", HeadSHA: head,
			Output: &gogithub.CheckRunOutput{Title: gogithub.String("t"), Summary: gogithub.String("s"), Annotations: annotations(n)},
		}
	}

	_, resp, err := client.Checks.CreateCheckRun(ctx, "octo-org", "app", opts(51))
	if err == nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("51 annotations: err = %v, want a 422", err)
	}
	if errs := rec.Errors(); len(errs) != 1 || !strings.Contains(errs[0], "maximum number of items is 50") {
		t.Errorf("test errors = %q, want one about the 50-item maximum", errs)
	}
	if got := len(s.CheckRuns("octo-org/app")); got != 0 {
		t.Errorf("check runs after the rejected create = %d, want 0", got)
	}

	run, _, err := client.Checks.CreateCheckRun(ctx, "octo-org", "app", opts(50))
	if err != nil {
		t.Fatalf("50 annotations: %v", err)
	}
	_, resp, err = client.Checks.UpdateCheckRun(ctx, "octo-org", "app", run.GetID(), gogithub.UpdateCheckRunOptions{
		Name:   "egress / build",
		Output: &gogithub.CheckRunOutput{Title: gogithub.String("t"), Summary: gogithub.String("s"), Annotations: annotations(51)},
	})
	if err == nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("update with 51 annotations: err = %v, want a 422", err)
	}
	if got := len(rec.Errors()); got != 2 {
		t.Errorf("test errors = %d, want 2 (one per rejected request)", got)
	}
	if got := len(s.CheckRuns("octo-org/app")[0].Annotations); got != 50 {
		t.Errorf("annotations after the rejected update = %d, want 50", got)
	}
}

func TestStandinRejectsSchemaViolation(t *testing.T) {
	rec := &recordingTB{TB: t}
	s := New(rec)
	id := s.AddInstallation("octo-org")
	head := s.SetFile("octo-org/app", "", "README.md", []byte("hello\n"))
	client := installationClient(t, s, id)
	token, err := client.Client().Transport.(*ghinstallation.Transport).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// annotation_level must be notice, warning or failure, and output needs
	// a summary.
	body, _ := json.Marshal(map[string]any{
		"name":     "egress / build",
		"head_sha": head,
		"output": map[string]any{
			"title": "t",
			"annotations": []any{map[string]any{
				"path": "README.md", "start_line": 1, "end_line": 1, "annotation_level": "error", "message": "m",
			}},
		},
	})
	resp, _ := do(t, http.MethodPost, s.URL+"/repos/octo-org/app/check-runs", "token "+token, body)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("status = %d, want 422", resp.StatusCode)
	}
	errs := rec.Errors()
	if len(errs) != 1 || !strings.Contains(errs[0], "checks/create") {
		t.Errorf("test errors = %q, want one naming operation checks/create", errs)
	}
	if got := len(s.CheckRuns("octo-org/app")); got != 0 {
		t.Errorf("check runs after the invalid request = %d, want 0", got)
	}

	resp, _ = do(t, http.MethodPost, s.URL+"/repos/octo-org/app/check-runs", "token "+token, []byte(`{"name": `))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed JSON: status = %d, want 400", resp.StatusCode)
	}
	if errs := rec.Errors(); len(errs) != 2 {
		t.Errorf("test errors = %d, want 2 (one per invalid request): %q", len(errs), errs)
	}
}

func TestStandinRejectsUnknownEndpoint(t *testing.T) {
	rec := &recordingTB{TB: t}
	s := New(rec)
	resp, _ := do(t, http.MethodGet, s.URL+"/repos/octo-org/app/pulls", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status = %d, want 404", resp.StatusCode)
	}
	if errs := rec.Errors(); len(errs) != 1 || !strings.Contains(errs[0], "not implemented") {
		t.Errorf("test errors = %q, want one saying the endpoint is not implemented", errs)
	}
}

// TestStandinResponsesMatchSpec drives every kind of response the stand-in
// sends; the stand-in validates each against the OpenAPI description and
// reports a mismatch through the recording TB.
func TestStandinResponsesMatchSpec(t *testing.T) {
	rec := &recordingTB{TB: t}
	s := New(rec)
	id := s.AddInstallation("octo-org")
	head := s.SetFile("octo-org/app", "", ".github/egress.yaml", []byte("version: 1\n"))
	s.SetFile("octo-org/.github", "", ".github/egress.yaml", []byte("version: 1\n"))
	runID := s.AddWorkflowRun("octo-org/app", WorkflowRun{HeadSHA: head, HeadBranch: "main"})
	client := installationClient(t, s, id)
	ctx := context.Background()
	statuses := map[int]bool{}
	note := func(resp *gogithub.Response) {
		if resp != nil {
			statuses[resp.StatusCode] = true
		}
	}

	_, resp, _ := client.Apps.FindOrganizationInstallation(ctx, "octo-org")
	note(resp)
	_, resp, _ = client.Apps.FindOrganizationInstallation(ctx, "nobody")
	note(resp)
	_, resp, _ = client.Apps.FindRepositoryInstallation(ctx, "octo-org", "app")
	note(resp)
	_, resp, _ = client.Apps.FindRepositoryInstallation(ctx, "octo-org", "missing")
	note(resp)

	file, _, resp, _ := client.Repositories.GetContents(ctx, "octo-org", "app", ".github/egress.yaml", nil)
	note(resp)
	_, _, resp, _ = client.Repositories.GetContents(ctx, "octo-org", "app", "missing.yaml", nil)
	note(resp)
	req, _ := client.NewRequest(http.MethodGet, "repos/octo-org/app/contents/.github/egress.yaml", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	_, _, etagResp, _ := client.Repositories.GetContents(ctx, "octo-org", "app", ".github/egress.yaml", nil)
	req.Header.Set("If-None-Match", etagResp.Header.Get("ETag"))
	resp, _ = client.Do(ctx, req, nil)
	note(resp)
	if file == nil || resp == nil || resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional fetch did not produce a 304")
	}

	_, resp, _ = client.Repositories.ListCommits(ctx, "octo-org", "app", &gogithub.CommitsListOptions{Path: ".github/egress.yaml", ListOptions: gogithub.ListOptions{PerPage: 1}})
	note(resp)

	run, resp, _ := client.Checks.CreateCheckRun(ctx, "octo-org", "app", gogithub.CreateCheckRunOptions{
		Name: "egress / build", HeadSHA: head, ExternalID: gogithub.String("x"), DetailsURL: gogithub.String("https://example.invalid/x"),
		Output: &gogithub.CheckRunOutput{Title: gogithub.String("t"), Summary: gogithub.String("s")},
	})
	note(resp)
	_, resp, _ = client.Checks.UpdateCheckRun(ctx, "octo-org", "app", run.GetID(), gogithub.UpdateCheckRunOptions{
		Name: "egress / build", Conclusion: gogithub.String("failure"),
		Output: &gogithub.CheckRunOutput{Title: gogithub.String("t"), Summary: gogithub.String("s"), Text: gogithub.String("x")},
	})
	note(resp)
	_, resp, _ = client.Checks.CreateCheckRun(ctx, "octo-org", "app", gogithub.CreateCheckRunOptions{Name: "x", HeadSHA: strings.Repeat("a", 40)})
	note(resp)
	_, resp, _ = client.Checks.ListCheckRunsForRef(ctx, "octo-org", "app", head, &gogithub.ListCheckRunsOptions{CheckName: gogithub.String("egress / build"), Filter: gogithub.String("all")})
	note(resp)

	_, resp, _ = client.Actions.GetWorkflowRunByID(ctx, "octo-org", "app", runID)
	note(resp)
	_, resp, _ = client.Actions.GetWorkflowRunByID(ctx, "octo-org", "app", runID+100)
	note(resp)

	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable} {
		s.InjectFault(Fault{Method: http.MethodGet, Path: "/commits$", Status: status, Count: 1})
		_, resp, _ = client.Repositories.ListCommits(ctx, "octo-org", "app", nil)
		note(resp)
	}
	s.InjectFault(Fault{Path: "/commits$", Status: http.StatusTooManyRequests, RetryAfter: time.Second, Count: 1})
	_, resp, _ = client.Repositories.ListCommits(ctx, "octo-org", "app", nil)
	note(resp)
	s.InjectFault(Fault{Path: "/commits$", Status: http.StatusForbidden, RetryAfter: time.Second, Count: 1})
	_, resp, _ = client.Repositories.ListCommits(ctx, "octo-org", "app", nil)
	note(resp)
	s.ExhaustRateLimit(id)
	_, resp, _ = client.Repositories.ListCommits(ctx, "octo-org", "app", nil)
	note(resp)

	s.ExpireTokens()
	resp, _ = client.Do(ctx, mustRequest(t, client, "repos/octo-org/app/commits"), nil)
	note(resp)

	for _, want := range []int{200, 201, 304, 401, 403, 404, 422, 429, 500, 502, 503} {
		if !statuses[want] {
			t.Errorf("no response with status %d was exercised", want)
		}
	}
	if errs := rec.Errors(); len(errs) > 0 {
		t.Errorf("stand-in reported %d mismatches with the OpenAPI description:\n%s", len(errs), strings.Join(errs, "\n"))
	}
}

func mustRequest(t *testing.T, client *gogithub.Client, path string) *http.Request {
	t.Helper()
	req, err := client.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestStandinConditionalRequestCostsNothing(t *testing.T) {
	s := New(t)
	id := s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", ".github/egress.yaml", []byte("version: 1\n"))
	client := installationClient(t, s, id)
	ctx := context.Background()

	_, _, first, err := client.Repositories.GetContents(ctx, "octo-org", "app", ".github/egress.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	req := mustRequest(t, client, "repos/octo-org/app/contents/.github/egress.yaml")
	req.Header.Set("If-None-Match", first.Header.Get("ETag"))
	second, _ := client.Do(ctx, req, nil)
	if second.StatusCode != http.StatusNotModified {
		t.Fatalf("status = %d, want 304", second.StatusCode)
	}
	if got, want := second.Header.Get("X-RateLimit-Remaining"), first.Header.Get("X-RateLimit-Remaining"); got != want {
		t.Errorf("remaining after the 304 = %s, want unchanged %s", got, want)
	}

	s.SetFile("octo-org/app", "", ".github/egress.yaml", []byte("version: 1\n# changed\n"))
	third, _ := client.Do(ctx, req, nil)
	if third.StatusCode != http.StatusOK {
		t.Errorf("status after the file changed = %d, want 200", third.StatusCode)
	}
}
