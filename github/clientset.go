package github

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gogithub "github.com/google/go-github/v60/github"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Options.
const (
	DefaultMaxConcurrency   = 10
	DefaultMaxWait          = time.Minute
	DefaultMaxRetries       = 3
	DefaultRetryBaseDelay   = 500 * time.Millisecond
	DefaultInstallationTTL  = time.Hour
	defaultWorkflowRunCache = 4096
)

// Options configure a ClientSet. The zero value works against github.com.
type Options struct {
	// CABundle is PEM certificates to trust in addition to the system
	// roots, for GitHub Enterprise Server behind a private CA.
	CABundle []byte
	// BaseURLs replaces the API root of a host (a Scope.Host such as
	// "github.com") with another URL, e.g. a test server on 127.0.0.1.
	BaseURLs map[string]string
	// MaxConcurrency bounds the requests in flight across all
	// installations; DefaultMaxConcurrency when 0.
	MaxConcurrency int
	// MaxWait is the longest a request waits for a rate limit to reset;
	// beyond it the request fails with *RateLimitError. DefaultMaxWait
	// when 0.
	MaxWait time.Duration
	// MaxRetries is how many times a request is sent again after a rate
	// limit, or, for GET and HEAD, after a 5xx or a network error.
	// DefaultMaxRetries when 0; negative disables retries.
	MaxRetries int
	// RetryBaseDelay is the first backoff after a 5xx; it doubles on each
	// retry. DefaultRetryBaseDelay when 0.
	RetryBaseDelay time.Duration
	// InstallationTTL is how long an installation ID found for an owner or
	// repository is reused; DefaultInstallationTTL when 0.
	InstallationTTL time.Duration
	// Registerer receives the rate-limit gauge; nil disables the metric.
	Registerer prometheus.Registerer
	// Transport carries the requests; a clone of http.DefaultTransport
	// when nil. CABundle does not apply to a caller-supplied Transport.
	Transport http.RoundTripper
	// Clock is the time source for waits and caches; the system clock
	// when nil.
	Clock Clock
}

// ClientSet hands out a Client per GitHub App installation. It is safe for
// concurrent use.
type ClientSet struct {
	creds AppCredentials
	opts  Options
	base  http.RoundTripper
	sem   chan struct{}
	gauge *prometheus.GaugeVec

	mu            sync.Mutex
	apps          map[string]*appClient // by API base URL
	installations map[string]installationEntry
	clients       map[string]*Client // by API base URL and installation ID
}

// appClient is the go-github client that authenticates as the App itself
// (JWT), for finding installations.
type appClient struct {
	gh        *gogithub.Client
	transport *ghinstallation.AppsTransport
}

type installationEntry struct {
	id      int64
	expires time.Time
}

// NewClientSet checks the credentials and options. It contacts GitHub only
// when For is called.
func NewClientSet(creds AppCredentials, opts Options) (*ClientSet, error) {
	if creds.AppID <= 0 {
		return nil, fmt.Errorf("GitHub App ID %d is invalid: set the App's numeric ID", creds.AppID)
	}
	if err := checkPrivateKey(creds.PrivateKey); err != nil {
		return nil, fmt.Errorf("GitHub App %d private key %w", creds.AppID, err)
	}
	opts = withDefaults(opts)

	base := opts.Transport
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if len(opts.CABundle) > 0 {
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(opts.CABundle) {
				return nil, fmt.Errorf("CA bundle contains no PEM certificate: pass the GitHub Enterprise Server CA in PEM")
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		base = tr
	}

	gauge, err := newRemainingGauge(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &ClientSet{
		creds:         creds,
		opts:          opts,
		base:          base,
		sem:           make(chan struct{}, opts.MaxConcurrency),
		gauge:         gauge,
		apps:          map[string]*appClient{},
		installations: map[string]installationEntry{},
		clients:       map[string]*Client{},
	}, nil
}

func withDefaults(o Options) Options {
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = DefaultMaxConcurrency
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.RetryBaseDelay <= 0 {
		o.RetryBaseDelay = DefaultRetryBaseDelay
	}
	if o.InstallationTTL <= 0 {
		o.InstallationTTL = DefaultInstallationTTL
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	return o
}

// baseURL returns the API root for a scope, honouring Options.BaseURLs.
func (cs *ClientSet) baseURL(scope Scope) (string, error) {
	base := scope.APIBaseURL
	if override, ok := cs.opts.BaseURLs[scope.Host]; ok {
		base = override
	}
	if base == "" {
		return "", fmt.Errorf("scope %s has no API base URL: build it with ParseConfigURL", scope)
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base, nil
}

func (cs *ClientSet) newLimiter(host, installation string, next http.RoundTripper) *limiter {
	return &limiter{
		next:       next,
		host:       host,
		sem:        cs.sem,
		clock:      cs.opts.Clock,
		maxWait:    cs.opts.MaxWait,
		maxRetries: cs.opts.MaxRetries,
		baseDelay:  cs.opts.RetryBaseDelay,
		remaining:  cs.gauge.WithLabelValues(host, installation),
	}
}

func newGoGitHub(httpClient *http.Client, base string) (*gogithub.Client, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("invalid GitHub API base URL %q: %w", base, err)
	}
	gh := gogithub.NewClient(httpClient)
	gh.BaseURL = u
	gh.UploadURL = u
	return gh, nil
}

// app returns the JWT-authenticated client for an API root. The caller
// holds cs.mu.
func (cs *ClientSet) app(base string) (*appClient, error) {
	if a := cs.apps[base]; a != nil {
		return a, nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("invalid GitHub API base URL %q: %w", base, err)
	}
	apps, err := ghinstallation.NewAppsTransport(cs.base, cs.creds.AppID, cs.creds.PrivateKey)
	if err != nil {
		// ghinstallation's message does not contain the key.
		return nil, fmt.Errorf("GitHub App %d: %w", cs.creds.AppID, err)
	}
	apps.BaseURL = strings.TrimSuffix(base, "/")
	gh, err := newGoGitHub(&http.Client{Transport: cs.newLimiter(u.Host, "app", apps)}, base)
	if err != nil {
		return nil, err
	}
	a := &appClient{gh: gh, transport: apps}
	cs.apps[base] = a
	return a, nil
}

// For returns the client of the App installation that covers the scope's
// repository or organization, finding the installation through the Apps
// API on first use and caching it for Options.InstallationTTL. An
// enterprise scope fails with ErrEnterpriseScope, a scope without an
// installation with ErrNotInstalled.
func (cs *ClientSet) For(ctx context.Context, scope Scope) (*Client, error) {
	if scope.Enterprise != "" {
		return nil, fmt.Errorf("scope %s: %w: install the GitHub App on the organizations and use organization- or repository-level scale sets", scope, ErrEnterpriseScope)
	}
	if scope.Owner == "" {
		return nil, fmt.Errorf("scope %s names no owner: build it with ParseConfigURL", scope)
	}
	base, err := cs.baseURL(scope)
	if err != nil {
		return nil, err
	}

	id, err := cs.installationID(ctx, base, scope)
	if err != nil {
		return nil, err
	}

	cs.mu.Lock()
	defer cs.mu.Unlock()
	key := base + "#" + strconv.FormatInt(id, 10)
	if c := cs.clients[key]; c != nil {
		return c, nil
	}
	app, err := cs.app(base)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(base)
	tokens := newInstallationTransport(app.transport, id, base)
	gh, err := newGoGitHub(&http.Client{Transport: cs.newLimiter(u.Host, strconv.FormatInt(id, 10), tokens)}, base)
	if err != nil {
		return nil, err
	}
	c := newClient(gh, u.Host, cs.creds.AppID, id, cs.opts.Clock)
	cs.clients[key] = c
	return c, nil
}

func (cs *ClientSet) installationID(ctx context.Context, base string, scope Scope) (int64, error) {
	key := base + "#" + strings.ToLower(scope.Owner+"/"+scope.Repo)
	now := cs.opts.Clock.Now()

	cs.mu.Lock()
	entry, ok := cs.installations[key]
	app, err := cs.app(base)
	cs.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if ok && now.Before(entry.expires) {
		return entry.id, nil
	}

	var inst *gogithub.Installation
	var resp *gogithub.Response
	if scope.Repo != "" {
		inst, resp, err = app.gh.Apps.FindRepositoryInstallation(ctx, scope.Owner, scope.Repo)
	} else {
		inst, resp, err = app.gh.Apps.FindOrganizationInstallation(ctx, scope.Owner)
	}
	if statusCode(resp) == http.StatusNotFound {
		return 0, fmt.Errorf("find the installation of GitHub App %d for %s: %w there; install it on the organization or repository", cs.creds.AppID, scope, ErrNotInstalled)
	}
	if err != nil {
		return 0, fmt.Errorf("find the installation of GitHub App %d for %s: %w", cs.creds.AppID, scope, asRateLimitError(scope.Host, err, now))
	}
	if inst.GetID() == 0 {
		return 0, errors.New("find the installation of GitHub App: GitHub returned an installation without an ID")
	}

	cs.mu.Lock()
	cs.installations[key] = installationEntry{id: inst.GetID(), expires: now.Add(cs.opts.InstallationTTL)}
	cs.mu.Unlock()
	return inst.GetID(), nil
}
