package webhook

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/arc-lockdown/arc-lockdown/github"
)

// parseScopeTemp reads the host, owner and repository of a githubConfigUrl.
// TODO: replace with github.ParseConfigURL once the github package exports
// it; this copy ignores enterprise API hosts and GHES path prefixes.
func parseScopeTemp(raw string) (github.Scope, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return github.Scope{}, fmt.Errorf("invalid githubConfigUrl %q", raw)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	s := github.Scope{Host: strings.ToLower(u.Host)}
	switch {
	case len(parts) == 2 && parts[0] == "enterprises":
		s.Enterprise = parts[1]
	case len(parts) == 1 && parts[0] != "":
		s.Owner = parts[0]
	case len(parts) == 2:
		s.Owner, s.Repo = parts[0], parts[1]
	default:
		return s, fmt.Errorf("githubConfigUrl %q names no enterprise, organization or repository", raw)
	}
	return s, nil
}
