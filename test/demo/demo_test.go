package demo

import (
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
	"github.com/arc-lockdown/arc-lockdown/test/envtest"
)

var (
	printReport = flag.Bool("demo.print", false, "print the demo's progress and report to standard output")
	binary      = flag.String("demo.binary", "", "arc-lockdown binary to run as the controller; empty builds one")
	workDir     = flag.String("demo.workdir", "", "directory for the kubeconfig and the controller's log; empty uses a temporary one")
)

// TestDemo runs the scenario of `make demo` and checks what it observed.
func TestDemo(t *testing.T) {
	out := io.Discard
	if *printReport {
		out = os.Stdout
		// `make demo` must fail, not skip, when ARC's CRDs or samples are
		// missing; `make test` skips like the other tests that need them.
		requireInputs(t)
	}
	dir := *workDir
	if dir == "" {
		dir = t.TempDir()
	}
	bin := *binary
	if bin == "" {
		bin = buildController(t)
	}

	result := Run(t, Scenario{Out: out, ControllerBinary: bin, WorkDir: dir})

	webCI := result.ScaleSets["web-ci"].Status
	for _, host := range []string{"npm.corp.example.com", "artifacts.corp.example.com", "github.com"} {
		if !slices.Contains(webCI.Hosts, host) {
			t.Errorf("web-ci hosts %v lack %s", webCI.Hosts, host)
		}
	}
	if slices.Contains(webCI.Hosts, "registry.npmjs.org") {
		t.Errorf("web-ci hosts %v contain the denied registry.npmjs.org", webCI.Hosts)
	}
	if !hasDropped(webCI.Dropped, "registry.npmjs.org") {
		t.Errorf("web-ci dropped entries %+v do not report registry.npmjs.org", webCI.Dropped)
	}
	if !strings.HasPrefix(webCI.Source, "acme/web-app@") {
		t.Errorf("web-ci source = %q, want acme/web-app@<commit>", webCI.Source)
	}

	dind := result.ScaleSets["build-dind"].Status
	invalid := meta.FindStatusCondition(dind.Conditions, egressv1alpha1.ConditionConfigValid)
	if invalid == nil || invalid.Status != "False" {
		t.Fatalf("build-dind ConfigValid = %+v, want False", invalid)
	}
	for _, want := range []string{".github/egress.yaml:3:", "npm-mirror", ".github/egress.yaml:5:", "70000"} {
		if !strings.Contains(invalid.Message, want) {
			t.Errorf("build-dind ConfigValid message does not contain %q:\n%s", want, invalid.Message)
		}
	}
	if slices.Contains(dind.Hosts, "artifacts.corp.example.com") {
		t.Errorf("build-dind enforces hosts of its invalid file: %v", dind.Hosts)
	}
	if dind.ContainerMode != "dind" {
		t.Errorf("build-dind container mode = %q, want dind", dind.ContainerMode)
	}

	kube := result.ScaleSets["k8s-mode"].Status
	if kube.ContainerMode != "kubernetes" {
		t.Errorf("k8s-mode container mode = %q, want kubernetes", kube.ContainerMode)
	}
	if len(result.Objects["k8s-mode"]) == 0 {
		t.Error("no objects applied for k8s-mode")
	}

	run := result.CheckRun
	if run.Name != "egress / build" || run.Status != "completed" || run.Conclusion != "failure" {
		t.Errorf("check run = %q %s/%s, want \"egress / build\" completed/failure", run.Name, run.Status, run.Conclusion)
	}
	var messages []string
	for _, a := range run.Annotations {
		if a.Path != ".github/workflows/ci.yml" {
			t.Errorf("annotation on %q, want .github/workflows/ci.yml", a.Path)
		}
		messages = append(messages, a.Title+"\n"+a.Message)
	}
	all := strings.Join(messages, "\n")
	for _, want := range []string{"registry.npmjs.org", "npm config set registry https://npm.corp.example.com/", "files.pythonhosted.org", "198.51.100.7", "downloads.example.org"} {
		if !strings.Contains(all, want) {
			t.Errorf("annotations do not mention %q:\n%s", want, all)
		}
	}
	for _, a := range run.Annotations {
		if strings.Contains(a.Title, "npm.corp.example.com") {
			t.Errorf("annotation %q reports the allowed mirror as blocked", a.Title)
		}
	}
	if got := len(run.Annotations); got != 4 {
		t.Errorf("check run has %d annotations, want 4 (one per blocked destination)", got)
	}
}

// requireInputs fails the test when a directory the demo reads is missing,
// naming the variable that points at it.
func requireInputs(t *testing.T) {
	t.Helper()
	for _, input := range []struct{ variable, dir string }{
		{"ARC_CRDS_DIR", envtest.CurrentARCCRDsDir()},
		{"ARC_SAMPLES_DIR", envtest.SamplesDir()},
	} {
		if _, err := os.Stat(input.dir); err != nil {
			t.Fatalf("the demo needs %s, which is missing: %v; set %s to the directory", input.dir, err, input.variable)
		}
	}
}

func hasDropped(dropped []egressv1alpha1.DroppedEntry, entry string) bool {
	for _, d := range dropped {
		if d.Entry == entry {
			return true
		}
	}
	return false
}

// buildController builds the arc-lockdown binary into the test's
// temporary directory.
func buildController(t *testing.T) string {
	t.Helper()
	root, err := envtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "arc-lockdown")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/arc-lockdown")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the controller: %v\n%s", err, out)
	}
	return bin
}
