package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/arc-lockdown/arc-lockdown/test/envtest"
)

const renderConfig = `version: 1
mode: audit
allow:
  - npm-mirror
  - host: artifacts.corp.example.com
  - host: registry.npmjs.org
`

const renderPolicy = `apiVersion: egress.arc-lockdown.io/v1alpha1
kind: EgressPolicy
metadata:
  name: runners
spec:
  catalog:
    - name: npm-mirror
      destinations:
        - host: npm.corp.example.com
  allowedHosts: ["*.corp.example.com"]
  deny: [registry.npmjs.org]
`

func renderInputFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runRenderCommand(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(append([]string{"render"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func sampleFile(t *testing.T, name string) string {
	t.Helper()
	envtest.SampleObjects(t, name) // skips when the samples are missing
	return filepath.Join(envtest.SamplesDir(), name)
}

// renderedDocuments decodes the YAML stream and returns kind → names.
func renderedDocuments(t *testing.T, stream string) map[string][]string {
	t.Helper()
	docs := map[string][]string{}
	decoder := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(stream), 4096)
	for {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := decoder.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return docs
			}
			t.Fatalf("output is not a YAML stream: %v\n%s", err, stream)
		}
		if obj.Kind != "" {
			docs[obj.Kind] = append(docs[obj.Kind], obj.Metadata.Name)
		}
	}
}

func TestRenderPrintsObjects(t *testing.T) {
	scaleSet := sampleFile(t, "kube-mode-repo.yaml")
	config := renderInputFile(t, "egress.yaml", renderConfig)
	policy := renderInputFile(t, "policy.yaml", renderPolicy)

	code, stdout, stderr := runRenderCommand("--scale-set", scaleSet, "--config", config, "--policy", policy, "--api-server-cidrs", "10.0.0.1/32")
	if code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, stderr)
	}

	docs := renderedDocuments(t, stdout)
	want := map[string]int{"NetworkPolicy": 2, "Sidecar": 1, "DestinationRule": 1, "Gateway": 1, "AuthorizationPolicy": 1}
	for kind, n := range want {
		if len(docs[kind]) != n {
			t.Errorf("%d %s documents, want %d", len(docs[kind]), kind, n)
		}
	}
	for _, host := range []string{"npm.corp.example.com", "artifacts.corp.example.com", "github.com"} {
		if !strings.Contains(stdout, "- "+host+"\n") {
			t.Errorf("output does not list host %s", host)
		}
	}
	if strings.Contains(stdout, "registry.npmjs.org") {
		t.Error("output lists the denied host registry.npmjs.org")
	}
	if !strings.HasPrefix(stdout, "# container mode: kubernetes\n") {
		t.Errorf("output does not start with the container mode:\n%s", firstLines(stdout, 3))
	}
	if !strings.Contains(stdout, "# warning AuditMode:") {
		t.Errorf("output lacks the audit mode warning:\n%s", firstLines(stdout, 5))
	}
	if !strings.Contains(stderr, config+":6:11: dropped \"registry.npmjs.org\"") {
		t.Errorf("stderr does not report the denied entry with its position:\n%s", stderr)
	}
}

func TestRenderWithoutConfig(t *testing.T) {
	scaleSet := sampleFile(t, "default-repo.yaml")

	code, stdout, stderr := runRenderCommand("--scale-set", scaleSet)
	if code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, stderr)
	}
	docs := renderedDocuments(t, stdout)
	if len(docs["NetworkPolicy"]) != 1 || len(docs["AuthorizationPolicy"]) != 1 {
		t.Errorf("documents = %v, want one runner NetworkPolicy and the gateway AuthorizationPolicy", docs)
	}
	if !strings.Contains(stdout, "- api.github.com\n") {
		t.Error("the default baseline host api.github.com is missing")
	}
}

func TestRenderRejectsBadInput(t *testing.T) {
	scaleSet := sampleFile(t, "default-repo.yaml")
	onlyServiceAccount := renderInputFile(t, "sa.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\n  namespace: y\n")
	badConfig := renderInputFile(t, "egress.yaml", "version: 2\nallow:\n  - host: \"*\"\n")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no scale set flag", nil, 2, "--scale-set is required"},
		{"missing scale set file", []string{"--scale-set", filepath.Join(t.TempDir(), "none.yaml")}, 2, "read scale set"},
		{"file without scale set", []string{"--scale-set", onlyServiceAccount}, 2, "contains no AutoscalingRunnerSet"},
		{"invalid config", []string{"--scale-set", scaleSet, "--config", badConfig}, 1, badConfig + ":1:"},
		{"invalid API server CIDR", []string{"--scale-set", scaleSet, "--api-server-cidrs", "10.0.0.0/33"}, 2, `--api-server-cidrs contains "10.0.0.0/33"`},
		{"API server address without prefix", []string{"--scale-set", scaleSet, "--api-server-cidrs", "10.0.0.1"}, 2, "for example 10.0.0.1/32"},
		{"DNS port out of range", []string{"--scale-set", scaleSet, "--dns-extra-port", "70000"}, 2, "--dns-extra-port 70000 is out of range"},
		{"stray argument", []string{"--scale-set", scaleSet, "extra.yaml"}, 2, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runRenderCommand(tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.wantStderr, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout is not empty on failure:\n%s", stdout)
			}
		})
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
