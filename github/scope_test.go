package github

import (
	"errors"
	"strings"
	"testing"
)

func TestParseConfigURL(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		want Scope
	}{
		{"github.com organization", "https://github.com/octo-org", Scope{Host: "github.com", APIBaseURL: "https://api.github.com/", Owner: "octo-org"}},
		{"github.com repository", "https://github.com/octo-org/app/", Scope{Host: "github.com", APIBaseURL: "https://api.github.com/", Owner: "octo-org", Repo: "app"}},
		{"github.com enterprise", "https://github.com/enterprises/octo", Scope{Host: "github.com", APIBaseURL: "https://api.github.com/", Enterprise: "octo"}},
		{"ghe.com tenant", "https://acme.ghe.com/octo-org/app", Scope{Host: "acme.ghe.com", APIBaseURL: "https://api.acme.ghe.com/", Owner: "octo-org", Repo: "app"}},
		{"ghes organization", "https://ghes.example.com/octo-org", Scope{Host: "ghes.example.com", APIBaseURL: "https://ghes.example.com/api/v3/", Owner: "octo-org"}},
		{"ghes with port over http", "http://ghes.example.com:8080/enterprises/corp", Scope{Host: "ghes.example.com:8080", APIBaseURL: "http://ghes.example.com:8080/api/v3/", Enterprise: "corp"}},
		{"upper-case host", "https://GitHub.com/Octo-Org", Scope{Host: "github.com", APIBaseURL: "https://api.github.com/", Owner: "Octo-Org"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConfigURL(tc.raw)
			if err != nil {
				t.Fatalf("ParseConfigURL(%q): %v", tc.raw, err)
			}
			if got != tc.want {
				t.Errorf("ParseConfigURL(%q) = %+v, want %+v", tc.raw, got, tc.want)
			}
		})
	}
}

func TestParseConfigURLRejects(t *testing.T) {
	for _, raw := range []string{
		"",
		"github.com/octo-org",
		"ftp://github.com/octo-org",
		"https://github.com",
		"https://github.com/",
		"https://github.com/enterprises",
		"https://github.com/a/b/c",
		"https://github.com/octo-org?x=1",
		"https://user:pass@github.com/octo-org",
		"https://%zz",
	} {
		t.Run(raw, func(t *testing.T) {
			_, err := ParseConfigURL(raw)
			if err == nil {
				t.Fatalf("ParseConfigURL(%q) succeeded, want an error", raw)
			}
			if !strings.Contains(err.Error(), "githubConfigUrl") {
				t.Errorf("error %q does not name githubConfigUrl", err)
			}
			if raw != "" && !strings.Contains(err.Error(), raw) && !strings.Contains(err.Error(), "%zz") {
				t.Errorf("error %q does not name the value %q", err, raw)
			}
		})
	}
}

func TestConfigRepository(t *testing.T) {
	owner, repo, err := ConfigRepository(mustScope(t, "https://github.com/octo-org"))
	if err != nil || owner != "octo-org" || repo != ".github" {
		t.Errorf("organization scope: %s/%s, %v; want octo-org/.github", owner, repo, err)
	}
	owner, repo, err = ConfigRepository(mustScope(t, "https://github.com/octo-org/app"))
	if err != nil || owner != "octo-org" || repo != "app" {
		t.Errorf("repository scope: %s/%s, %v; want octo-org/app", owner, repo, err)
	}
	_, _, err = ConfigRepository(mustScope(t, "https://github.com/enterprises/octo"))
	if !errors.Is(err, ErrEnterpriseScope) {
		t.Errorf("enterprise scope: err = %v, want ErrEnterpriseScope", err)
	}
}
