package envtest_test

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/arc-lockdown/arc-lockdown/test/envtest"
)

// A second `make test` must reuse the API server built by the first, so
// the Makefile rule for each binary has to be up to date once it exists.
func TestMakeReusesBuiltAPIServer(t *testing.T) {
	root, err := envtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	assets, err := envtest.AssetsDir()
	if err != nil {
		t.Skipf("envtest binaries not built: %v", err)
	}
	if filepath.Dir(assets) != filepath.Join(root, "bin", "k8s") {
		t.Skipf("KUBEBUILDER_ASSETS points outside bin/k8s: %s", assets)
	}

	for _, binary := range []string{"kube-apiserver", "etcd"} {
		cmd := exec.Command("make", "-q", filepath.Join(assets, binary))
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("make considers %s out of date (%v), so a second run would rebuild it:\n%s", binary, err, out)
		}
	}
}
