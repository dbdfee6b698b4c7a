package github

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

const contentsPath = `^/repos/octo-org/app/contents/\.github/egress\.yaml$`

func TestFetchEgressConfigFound(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	content := []byte("version: 1\negress:\n  - host: example.com\n")
	commit := s.SetFile("octo-org/app", "", EgressConfigPath, content)
	s.AddCommit("octo-org/app", "", "unrelated change")
	cs, _ := newTestClientSet(t, s, nil)
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}

	got, err := client.FetchEgressConfig(context.Background(), scope, "", "")
	if err != nil {
		t.Fatalf("FetchEgressConfig: %v", err)
	}
	if got.State != FileFound {
		t.Fatalf("State = %v, want found", got.State)
	}
	if string(got.Content) != string(content) {
		t.Errorf("Content = %q, want %q", got.Content, content)
	}
	if got.BlobSHA != ghstandin.BlobSHA(content) {
		t.Errorf("BlobSHA = %s, want %s", got.BlobSHA, ghstandin.BlobSHA(content))
	}
	if got.CommitSHA != commit {
		t.Errorf("CommitSHA = %s, want %s (the last commit that changed the file)", got.CommitSHA, commit)
	}
	if got.Repository != "octo-org/app" || got.Path != EgressConfigPath || got.Ref != "main" {
		t.Errorf("Repository, Path, Ref = %s, %s, %s; want octo-org/app, %s, main", got.Repository, got.Path, got.Ref, EgressConfigPath)
	}
	if got.ETag == "" {
		t.Errorf("ETag is empty")
	}
}

func TestFetchEgressConfigNotModified(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n"))
	cs, _ := newTestClientSet(t, s, nil)
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}

	first, err := client.FetchEgressConfig(context.Background(), scope, "", "")
	if err != nil {
		t.Fatal(err)
	}
	second, err := client.FetchEgressConfig(context.Background(), scope, "", first.ETag)
	if err != nil {
		t.Fatalf("second fetch: %v", err)
	}
	if second.State != FileNotModified {
		t.Errorf("second State = %v, want not modified", second.State)
	}
	if second.ETag != first.ETag {
		t.Errorf("second ETag = %s, want %s", second.ETag, first.ETag)
	}

	reqs := s.RequestsTo(http.MethodGet, contentsPath)
	if len(reqs) != 2 {
		t.Fatalf("contents requests = %d, want 2", len(reqs))
	}
	if got := reqs[0].Header.Get("If-None-Match"); got != "" {
		t.Errorf("first request If-None-Match = %q, want none", got)
	}
	if got := reqs[1].Header.Get("If-None-Match"); got != first.ETag {
		t.Errorf("second request If-None-Match = %q, want %q", got, first.ETag)
	}
	if reqs[1].Status != http.StatusNotModified {
		t.Errorf("second response status = %d, want 304", reqs[1].Status)
	}
	if n := len(s.RequestsTo(http.MethodGet, `/commits$`)); n != 1 {
		t.Errorf("commit lookups = %d, want 1 (none after a 304)", n)
	}

	commit := s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n# changed\n"))
	third, err := client.FetchEgressConfig(context.Background(), scope, "", first.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if third.State != FileFound || third.CommitSHA != commit || third.ETag == first.ETag {
		t.Errorf("after a change: State %v, CommitSHA %s, ETag %s; want found, %s, a new ETag", third.State, third.CommitSHA, third.ETag, commit)
	}
}

func TestFetchEgressConfigNotFound(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", "README.md", []byte("hi\n"))
	cs, _ := newTestClientSet(t, s, nil)
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}

	got, err := client.FetchEgressConfig(context.Background(), scope, "", "")
	if err != nil {
		t.Fatalf("FetchEgressConfig: %v", err)
	}
	if got.State != FileNotFound {
		t.Errorf("State = %v, want not found", got.State)
	}

	s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n"))
	s.DeleteFile("octo-org/app", "", EgressConfigPath)
	got, err = client.FetchEgressConfig(context.Background(), scope, "", "")
	if err != nil || got.State != FileNotFound {
		t.Errorf("after delete: %v, %v; want not found", got, err)
	}
}

func TestFetchEgressConfigOrganization(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	content := []byte("version: 1\n")
	s.SetFile("octo-org/.github", "", EgressConfigPath, content)
	s.SetFile("octo-org/.github", "policy", EgressConfigPath, []byte("version: 1\n# branch\n"))
	cs, _ := newTestClientSet(t, s, nil)
	scope := mustScope(t, "https://github.com/octo-org")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}

	got, err := client.FetchEgressConfig(context.Background(), scope, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != FileFound || got.Repository != "octo-org/.github" || string(got.Content) != string(content) {
		t.Errorf("got %v from %s with %q; want found in octo-org/.github with %q", got.State, got.Repository, got.Content, content)
	}

	branch, err := client.FetchEgressConfig(context.Background(), scope, "policy", "")
	if err != nil {
		t.Fatal(err)
	}
	if branch.Ref != "policy" || !strings.Contains(string(branch.Content), "# branch") {
		t.Errorf("ref policy: Ref %s, content %q; want the policy branch's file", branch.Ref, branch.Content)
	}
}

func TestFetchEgressConfigServerError(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n"))
	cs, _ := newTestClientSet(t, s, nil)
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	s.InjectFault(ghstandin.Fault{Method: http.MethodGet, Path: contentsPath, Status: http.StatusInternalServerError})

	got, err := client.FetchEgressConfig(context.Background(), scope, "", "")
	if err == nil {
		t.Fatalf("FetchEgressConfig = %v, want an error", got)
	}
	if got != nil {
		t.Errorf("result = %+v, want nil with the error", got)
	}
	if !strings.Contains(err.Error(), "500") {
		t.Errorf("error %q does not mention the 500", err)
	}
	if strings.Contains(err.Error(), "ghs_") || strings.Contains(err.Error(), "Bearer") {
		t.Errorf("error %q contains a credential", err)
	}
	if n := len(s.RequestsTo(http.MethodGet, contentsPath)); n != 1+DefaultMaxRetries {
		t.Errorf("contents requests = %d, want %d (the first and %d retries)", n, 1+DefaultMaxRetries, DefaultMaxRetries)
	}
}

func TestFetchEgressConfigRetriesServerError(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n"))
	cs, _ := newTestClientSet(t, s, nil)
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	s.InjectFault(ghstandin.Fault{Method: http.MethodGet, Path: contentsPath, Status: http.StatusBadGateway, Count: 2})

	got, err := client.FetchEgressConfig(context.Background(), scope, "", "")
	if err != nil || got.State != FileFound {
		t.Fatalf("FetchEgressConfig = %v, %v; want found after retries", got, err)
	}
	reqs := s.RequestsTo(http.MethodGet, contentsPath)
	if len(reqs) != 3 || reqs[0].Status != 502 || reqs[1].Status != 502 || reqs[2].Status != 200 {
		t.Errorf("contents requests = %d, want 502, 502, 200", len(reqs))
	}
}

func TestFetchEgressConfigSizeCap(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", EgressConfigPath, []byte(strings.Repeat("#", MaxConfigSize+1)))
	cs, _ := newTestClientSet(t, s, nil)
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}

	_, err = client.FetchEgressConfig(context.Background(), scope, "", "")
	if err == nil || !strings.Contains(err.Error(), "65537 bytes") {
		t.Errorf("err = %v, want one naming the size 65537 bytes", err)
	}
}

func TestFetchEgressConfigEnterprise(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	cs, _ := newTestClientSet(t, s, nil)
	_, err := cs.For(context.Background(), mustScope(t, "https://github.com/enterprises/octo"))
	if !errors.Is(err, ErrEnterpriseScope) {
		t.Errorf("For(enterprise) err = %v, want ErrEnterpriseScope", err)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("requests = %d, want 0", n)
	}
}
