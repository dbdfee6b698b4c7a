package github

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

func TestClientSetFindsAndCachesInstallation(t *testing.T) {
	s := ghstandin.New(t)
	id := s.AddInstallation("octo-org")
	s.AddRepository("octo-org/app", "main")
	cs, _ := newTestClientSet(t, s, nil)
	ctx := context.Background()

	repoClient, err := cs.For(ctx, mustScope(t, "https://github.com/octo-org/app"))
	if err != nil {
		t.Fatalf("For(repository): %v", err)
	}
	if repoClient.InstallationID() != id {
		t.Errorf("repository installation = %d, want %d", repoClient.InstallationID(), id)
	}
	orgClient, err := cs.For(ctx, mustScope(t, "https://github.com/octo-org"))
	if err != nil {
		t.Fatalf("For(organization): %v", err)
	}
	if orgClient != repoClient {
		t.Errorf("organization and repository scopes of one installation got different clients")
	}
	if _, err := cs.For(ctx, mustScope(t, "https://github.com/octo-org/app")); err != nil {
		t.Fatal(err)
	}

	if n := len(s.RequestsTo(http.MethodGet, `^/repos/octo-org/app/installation$`)); n != 1 {
		t.Errorf("repository installation lookups = %d, want 1 (then cached)", n)
	}
	if n := len(s.RequestsTo(http.MethodGet, `^/orgs/octo-org/installation$`)); n != 1 {
		t.Errorf("organization installation lookups = %d, want 1", n)
	}
	for _, r := range s.RequestsTo("", `installation$`) {
		if r.Credential != "app" || r.Header.Get("Authorization") != "Bearer [redacted]" {
			t.Errorf("lookup sent credential %q, Authorization %q; want an App JWT", r.Credential, r.Header.Get("Authorization"))
		}
	}
}

func TestClientSetNotInstalled(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	cs, _ := newTestClientSet(t, s, nil)

	_, err := cs.For(context.Background(), mustScope(t, "https://github.com/other-org"))
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
	if !strings.Contains(err.Error(), "other-org") {
		t.Errorf("error %q does not name the scope", err)
	}
}

func TestClientSetWrongKeyIsRejected(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	pkcs1, _, _ := testKeys(t)
	cs, err := NewClientSet(AppCredentials{AppID: s.AppID(), PrivateKey: pkcs1}, Options{
		BaseURLs: map[string]string{"github.com": s.BaseURL()},
	})
	if err != nil {
		t.Fatal(err)
	}

	_, err = cs.For(context.Background(), mustScope(t, "https://github.com/octo-org"))
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want a 401", err)
	}
	if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "eyJ") {
		t.Errorf("error %q contains key or token material", err)
	}
}

func TestNewClientSetRejectsBadInput(t *testing.T) {
	pkcs1, _, _ := testKeys(t)
	if _, err := NewClientSet(AppCredentials{AppID: 0, PrivateKey: pkcs1}, Options{}); err == nil {
		t.Errorf("App ID 0 accepted")
	}
	if _, err := NewClientSet(AppCredentials{AppID: 1, PrivateKey: []byte("nope")}, Options{}); err == nil {
		t.Errorf("a key that is not PEM was accepted")
	}
	if _, err := NewClientSet(AppCredentials{AppID: 1, PrivateKey: pkcs1}, Options{CABundle: []byte("not pem")}); err == nil {
		t.Errorf("a CA bundle without certificates was accepted")
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	// ghinstallation renews a token a minute before it expires, so a token
	// that lasts 30 seconds is renewed on every request.
	s := ghstandin.New(t, ghstandin.WithTokenTTL(30*time.Second))
	s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n"))
	cs, _ := newTestClientSet(t, s, nil)
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}

	for range 2 {
		if _, err := client.FetchEgressConfig(context.Background(), scope, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	reqs := s.RequestsTo(http.MethodGet, contentsPath)
	if len(reqs) != 2 {
		t.Fatalf("contents requests = %d, want 2", len(reqs))
	}
	if reqs[0].Credential == reqs[1].Credential {
		t.Errorf("both fetches used %q, want a renewed token for the second", reqs[0].Credential)
	}
	for _, r := range s.Requests() {
		if r.Status == http.StatusUnauthorized {
			t.Errorf("%s %s got 401, want every request authorized", r.Method, r.Path)
		}
	}
}

func TestExpiredTokenIsReplaced(t *testing.T) {
	s := ghstandin.New(t)
	id := s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n"))
	cs, _ := newTestClientSet(t, s, nil)
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.FetchEgressConfig(context.Background(), scope, "", ""); err != nil {
		t.Fatal(err)
	}

	// GitHub considers the token expired while ghinstallation still trusts
	// it: the first request gets 401, the retry a new token.
	s.ExpireTokens()
	got, err := client.FetchEgressConfig(context.Background(), scope, "", "")
	if err != nil || got.State != FileFound {
		t.Fatalf("fetch after expiry = %v, %v; want found", got, err)
	}
	reqs := s.RequestsTo(http.MethodGet, contentsPath)
	if len(reqs) != 3 {
		t.Fatalf("contents requests = %d, want 3", len(reqs))
	}
	if reqs[1].Status != http.StatusUnauthorized || reqs[2].Status != http.StatusOK {
		t.Errorf("statuses after expiry = %d, %d; want 401, 200", reqs[1].Status, reqs[2].Status)
	}
	if want := "installation " + itoa(id) + " token 2"; reqs[2].Credential != want {
		t.Errorf("retry credential = %q, want %q", reqs[2].Credential, want)
	}
	if n := s.TokensIssued(); n != 2 {
		t.Errorf("tokens issued = %d, want 2", n)
	}
}

func TestRemovedInstallationIsNotRetried(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n"))
	cs, _ := newTestClientSet(t, s, nil)
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	s.InjectFault(ghstandin.Fault{Method: http.MethodPost, Path: `/access_tokens$`, Status: http.StatusNotFound})

	_, err = client.FetchEgressConfig(context.Background(), scope, "", "")
	if err == nil {
		t.Fatal("FetchEgressConfig succeeded without a token")
	}
	if n := len(s.RequestsTo(http.MethodPost, `/access_tokens$`)); n != 1 {
		t.Errorf("token requests = %d, want 1 (a 404 is not retried)", n)
	}
	if n := len(s.RequestsTo(http.MethodGet, contentsPath)); n != 0 {
		t.Errorf("contents requests = %d, want 0 without a token", n)
	}
}
