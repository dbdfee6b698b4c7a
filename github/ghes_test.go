package github

import (
	"context"
	"strings"
	"testing"

	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

// TestEnterpriseServerWithCABundle reads the file from a GitHub Enterprise
// Server stand-in: HTTPS under /api/v3 with a certificate only the CA
// bundle trusts.
func TestEnterpriseServerWithCABundle(t *testing.T) {
	s := ghstandin.New(t, ghstandin.WithTLS(), ghstandin.WithPathPrefix("/api/v3"))
	s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n"))
	scope := mustScope(t, "https://ghes.example.com/octo-org/app")
	if scope.APIBaseURL != "https://ghes.example.com/api/v3/" {
		t.Fatalf("APIBaseURL = %s, want https://ghes.example.com/api/v3/", scope.APIBaseURL)
	}
	if !strings.HasSuffix(s.BaseURL(), "/api/v3/") {
		t.Fatalf("stand-in base URL %s lacks /api/v3/", s.BaseURL())
	}

	cs, err := NewClientSet(AppCredentials{AppID: s.AppID(), PrivateKey: s.PrivateKeyPEM()}, Options{
		BaseURLs: map[string]string{"ghes.example.com": s.BaseURL()},
		CABundle: s.CACertPEM(),
	})
	if err != nil {
		t.Fatal(err)
	}
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatalf("For: %v", err)
	}
	got, err := client.FetchEgressConfig(context.Background(), scope, "", "")
	if err != nil || got.State != FileFound {
		t.Fatalf("FetchEgressConfig = %v, %v; want found", got, err)
	}
	if n := len(s.RequestsTo("POST", `^/app/installations/\d+/access_tokens$`)); n != 1 {
		t.Errorf("token requests under /api/v3 = %d, want 1", n)
	}

	untrusting, err := NewClientSet(AppCredentials{AppID: s.AppID(), PrivateKey: s.PrivateKeyPEM()}, Options{
		BaseURLs:   map[string]string{"ghes.example.com": s.BaseURL()},
		MaxRetries: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = untrusting.For(context.Background(), scope)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the CA bundle: err = %v, want a certificate error", err)
	}
}
