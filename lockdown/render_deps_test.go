package lockdown_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRenderImportsNoClients keeps the package pure: rendering must not
// pull in a Kubernetes or GitHub client.
func TestRenderImportsNoClients(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps returned %d packages, want the package's whole import graph", len(deps))
	}
	for _, forbidden := range []string{"sigs.k8s.io/controller-runtime/pkg/client", "github.com/google/go-github"} {
		for _, dep := range deps {
			if dep == forbidden || strings.HasPrefix(dep, forbidden+"/") {
				t.Errorf("package lockdown depends on %s", dep)
			}
		}
	}
}
