package github

import (
	"fmt"
	"net/url"
	"strings"
)

// Scope is the target a scale set's githubConfigUrl names: the GitHub host and an
// enterprise, an organization or a repository.
type Scope struct {
	// Host is the GitHub web host, for example "github.com".
	Host string
	// APIBaseURL is the REST API root with a trailing slash:
	// "https://api.github.com/", "https://api.<tenant>.ghe.com/" or
	// "https://<host>/api/v3/".
	APIBaseURL string
	// Enterprise is set for enterprise-level scale sets.
	Enterprise string
	// Owner is the organization or user; empty for an enterprise.
	Owner string
	// Repo is set for repository-level scale sets.
	Repo string
}

// ParseConfigURL turns a scale set's githubConfigUrl into a Scope. The host
// decides the API root: github.com uses https://api.github.com/, a GitHub
// Enterprise Cloud tenant <tenant>.ghe.com uses https://api.<tenant>.ghe.com/
// and any other host is GitHub Enterprise Server at https://<host>/api/v3/.
// The path names the scope: one segment is an organization (or user),
// enterprises/<name> an enterprise and owner/repo a repository.
func ParseConfigURL(raw string) (Scope, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return Scope{}, fmt.Errorf("invalid githubConfigUrl %q: %w", raw, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return Scope{}, fmt.Errorf("invalid githubConfigUrl %q: want an http or https URL such as https://github.com/my-org", raw)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return Scope{}, fmt.Errorf("invalid githubConfigUrl %q: want scheme, host and path only, such as https://github.com/my-org/my-repo", raw)
	}

	host := strings.ToLower(u.Host)
	scope := Scope{Host: host, APIBaseURL: apiBaseURL(u.Scheme, host)}

	var segments []string
	for _, s := range strings.Split(strings.Trim(u.Path, "/"), "/") {
		if s != "" {
			segments = append(segments, s)
		}
	}
	switch {
	case len(segments) == 2 && strings.EqualFold(segments[0], "enterprises"):
		scope.Enterprise = segments[1]
	case len(segments) == 1 && !strings.EqualFold(segments[0], "enterprises"):
		scope.Owner = segments[0]
	case len(segments) == 2:
		scope.Owner, scope.Repo = segments[0], segments[1]
	default:
		return Scope{}, fmt.Errorf("invalid githubConfigUrl %q: the path must be <org>, <owner>/<repo> or enterprises/<enterprise>", raw)
	}
	return scope, nil
}

func apiBaseURL(scheme, host string) string {
	switch {
	case host == "github.com":
		return "https://api.github.com/"
	case strings.HasSuffix(host, ".ghe.com"):
		return "https://api." + host + "/"
	default:
		return scheme + "://" + host + "/api/v3/"
	}
}

// String returns the scope as host/path, e.g. "github.com/octo-org/app" or
// "github.com/enterprises/octo".
func (s Scope) String() string {
	switch {
	case s.Enterprise != "":
		return s.Host + "/enterprises/" + s.Enterprise
	case s.Repo != "":
		return s.Host + "/" + s.Owner + "/" + s.Repo
	default:
		return s.Host + "/" + s.Owner
	}
}

// OrgConfigRepo is the repository an organization-level scale set reads
// .github/egress.yaml from.
const OrgConfigRepo = ".github"

// ConfigRepository returns the repository whose .github/egress.yaml applies
// to the scope: the repository itself, or the organization's .github
// repository. Enterprise scopes have no such repository.
func ConfigRepository(s Scope) (owner, repo string, err error) {
	switch {
	case s.Enterprise != "":
		return "", "", fmt.Errorf("scope %s is an enterprise: enterprise-level scale sets have no repository to read %s from; use an organization- or repository-level scale set: %w", s, EgressConfigPath, ErrEnterpriseScope)
	case s.Owner == "":
		return "", "", fmt.Errorf("scope %s names no owner", s)
	case s.Repo != "":
		return s.Owner, s.Repo, nil
	default:
		return s.Owner, OrgConfigRepo, nil
	}
}
