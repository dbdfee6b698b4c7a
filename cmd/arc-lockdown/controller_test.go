package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestControllerFlagsDefaults(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "arc-system")
	var out bytes.Buffer
	cfg, err := parseControllerFlags(nil, &out)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	want := controllerConfig{
		MetricsBindAddress:     ":8080",
		HealthProbeBindAddress: ":8081",
		LeaderElect:            false,
		ResyncPeriod:           5 * time.Minute,
		Namespace:              "arc-system",
		GitHubAppSecret:        "arc-lockdown-github-app",
		AccessLogBindAddress:   ":9977",
		WebhookBindAddress:     ":9443",
		CheckRunInterval:       3 * time.Second,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults = %+v, want %+v", cfg, want)
	}
}

func TestControllerFlagsParsesEveryFlag(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "")
	args := []string{
		"--metrics-bind-address=127.0.0.1:9090",
		"--health-probe-bind-address=127.0.0.1:9091",
		"--leader-elect",
		"--resync-period=90s",
		"--namespace=ops",
		"--github-app-secret=app",
		"--github-ca-bundle=/etc/ca.pem",
		"--mesh-config=/etc/mesh.yaml",
		"--access-log-bind-address=127.0.0.1:9978",
		"--webhook-bind-address=127.0.0.1:9444",
		"--webhook-secret-file=/etc/webhook/secret",
		"--check-run-interval=10s",
		"--github-api-url=github.com=http://127.0.0.1:8000",
		"--github-api-url=ghes.corp.example.com=https://proxy.corp.example.com/api/v3/",
	}
	cfg, err := parseControllerFlags(args, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	want := controllerConfig{
		MetricsBindAddress:     "127.0.0.1:9090",
		HealthProbeBindAddress: "127.0.0.1:9091",
		LeaderElect:            true,
		ResyncPeriod:           90 * time.Second,
		Namespace:              "ops",
		GitHubAppSecret:        "app",
		GitHubCABundle:         "/etc/ca.pem",
		MeshConfig:             "/etc/mesh.yaml",
		AccessLogBindAddress:   "127.0.0.1:9978",
		WebhookBindAddress:     "127.0.0.1:9444",
		WebhookSecretFile:      "/etc/webhook/secret",
		CheckRunInterval:       10 * time.Second,
		GitHubAPIURLs: map[string]string{
			"github.com":            "http://127.0.0.1:8000/",
			"ghes.corp.example.com": "https://proxy.corp.example.com/api/v3/",
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("parsed = %+v, want %+v", cfg, want)
	}
}

func TestControllerFlagsRejectMissingNamespace(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "")
	_, err := parseControllerFlags(nil, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "POD_NAMESPACE") {
		t.Errorf("err = %v, want one naming --namespace and POD_NAMESPACE", err)
	}
}

func TestControllerFlagsRejectShortResync(t *testing.T) {
	_, err := parseControllerFlags([]string{"--namespace=ops", "--resync-period=10ms"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--resync-period") {
		t.Errorf("err = %v, want one naming --resync-period", err)
	}
}

func TestControllerHelpExitsZero(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseControllerFlags([]string{"-h"}, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	if code := runController([]string{"-h"}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	if !strings.Contains(stderr.String(), "-github-app-secret") {
		t.Errorf("help does not list --github-app-secret:\n%s", stderr.String())
	}
}

func TestLoadMeshOptionsOverlaysDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	content := "egressGatewayNamespace: mesh-egress\napiServerCIDRs: [\"10.0.0.1/32\"]\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	mesh, err := loadMeshOptions(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if mesh.EgressGatewayNamespace != "mesh-egress" {
		t.Errorf("EgressGatewayNamespace = %q, want mesh-egress", mesh.EgressGatewayNamespace)
	}
	if len(mesh.APIServerCIDRs) != 1 || mesh.APIServerCIDRs[0] != "10.0.0.1/32" {
		t.Errorf("APIServerCIDRs = %v, want [10.0.0.1/32]", mesh.APIServerCIDRs)
	}
	if mesh.IstiodPort != 15012 {
		t.Errorf("IstiodPort = %d, want the default 15012", mesh.IstiodPort)
	}
}

func TestLoadMeshOptionsRejectsUnknownField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(path, []byte("egressGatewayNamspace: typo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadMeshOptions(path)
	if err == nil || !strings.Contains(err.Error(), "egressGatewayNamspace") {
		t.Errorf("err = %v, want one naming the unknown field", err)
	}
}

func TestControllerCommandIsRegistered(t *testing.T) {
	if _, ok := commands["controller"]; !ok {
		t.Fatal("the controller command is not registered")
	}
}

func TestControllerFlagsRejectBadAPIURL(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "ops")
	for _, value := range []string{"github.com", "=http://127.0.0.1/", "github.com=ftp://x/", "github.com=not a url"} {
		_, err := parseControllerFlags([]string{"--github-api-url=" + value}, &bytes.Buffer{})
		if err == nil {
			t.Errorf("--github-api-url=%s accepted, want an error", value)
		}
	}
}
