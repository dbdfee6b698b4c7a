package chart

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/arc-lockdown/arc-lockdown/test/envtest"
)

// controllerFlags builds the arc-lockdown binary and returns the flag
// names `arc-lockdown controller -h` lists.
func controllerFlags(t *testing.T) map[string]bool {
	t.Helper()
	root, err := envtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	binary := filepath.Join(t.TempDir(), "arc-lockdown")
	build := exec.Command("go", "build", "-o", binary, "./cmd/arc-lockdown")
	build.Dir = root
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/arc-lockdown: %v\n%s", err, output)
	}

	// The flag package prints the usage on stderr and exits 0 for -h.
	output, err := exec.Command(binary, "controller", "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("arc-lockdown controller -h: %v\n%s", err, output)
	}
	flags := map[string]bool{}
	for _, match := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(string(output), -1) {
		flags[match[1]] = true
	}
	if len(flags) == 0 {
		t.Fatalf("no flags found in the usage:\n%s", output)
	}
	return flags
}

// TestDeploymentFlagsExist checks that every flag the Deployment passes to
// `arc-lockdown controller`, with the default values and the full example,
// is a flag the binary defines, so a renamed flag cannot crash the pod.
func TestDeploymentFlagsExist(t *testing.T) {
	flags := controllerFlags(t)
	ch := loadChart(t)

	for name, values := range map[string]map[string]any{
		"default": {},
		"full":    readValues(t, "full-values.yaml"),
	} {
		args := firstContainerArgs(t, findKind(t, objects(t, mustRender(t, ch, values).Manifest), "Deployment"))
		if len(args) == 0 || args[0] != "controller" {
			t.Fatalf("%s: args %q do not start with the controller subcommand", name, args)
		}
		for _, arg := range args[1:] {
			flag, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
			if !flags[flag] {
				t.Errorf("%s: the Deployment passes %s, but `arc-lockdown controller` has no flag %q", name, arg, flag)
			}
		}
	}
}
