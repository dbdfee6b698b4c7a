package github

import (
	"net/http"
	"strings"
	"sync"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/go-logr/logr"
	gogithub "github.com/google/go-github/v60/github"
)

// installationTransport authenticates requests as one App installation.
// ghinstallation fetches a token on first use and a new one a minute before
// the current one expires. When GitHub still returns 401 (the token was
// revoked, or the clocks disagree), installationTransport drops the token
// and sends the request once more with a fresh one.
type installationTransport struct {
	apps           *ghinstallation.AppsTransport
	installationID int64
	baseURL        string // API root without the trailing slash

	mu      sync.Mutex
	current *ghinstallation.Transport
}

func newInstallationTransport(apps *ghinstallation.AppsTransport, installationID int64, baseURL string) *installationTransport {
	t := &installationTransport{apps: apps, installationID: installationID, baseURL: strings.TrimSuffix(baseURL, "/")}
	t.current = t.fresh()
	return t
}

func (t *installationTransport) fresh() *ghinstallation.Transport {
	tr := ghinstallation.NewFromAppsTransport(t.apps, t.installationID)
	tr.BaseURL = t.baseURL
	// Without options ghinstallation sends the JSON body "null", which
	// GitHub's description of the endpoint does not allow.
	tr.InstallationTokenOptions = &gogithub.InstallationTokenOptions{}
	return tr
}

func (t *installationTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	tr := t.current
	t.mu.Unlock()

	retry, err := rewind(req)
	if err != nil {
		retry = nil
	}
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || retry == nil {
		return resp, err
	}

	discard(resp)
	logr.FromContextOrDiscard(req.Context()).Info("GitHub rejected the installation token, fetching a new one",
		"installation", t.installationID, "path", req.URL.Path)
	t.mu.Lock()
	if t.current == tr {
		t.current = t.fresh()
	}
	tr = t.current
	t.mu.Unlock()
	return tr.RoundTrip(retry)
}
