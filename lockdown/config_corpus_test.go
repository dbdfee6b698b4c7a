package lockdown

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The -update flag rewrites golden files. The render tests of this package
// may define the same flag, so it is defined here only when missing.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata")
	}
}

func updateConfigGolden() bool {
	return flag.Lookup("update").Value.String() == "true"
}

// TestBadConfigCorpus runs every file under testdata/config/bad through the
// checks of `arc-lockdown validate` and compares the problems with the
// file's .err golden file. Every file must be rejected, every problem must
// have a line number, and nothing may panic.
func TestBadConfigCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/config/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("bad corpus has %d files, want at least 30", len(files))
	}

	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := checkRejected(t, name, data) + "\n"

			golden := strings.TrimSuffix(file, ".yaml") + ".err"
			if updateConfigGolden() {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run the test with -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("problems differ from %s (run with -update if the change is intended)\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// checkRejected asserts that CheckConfig rejects data under testPolicy with
// line-numbered problems, and returns the error text.
func checkRejected(t *testing.T, name string, data []byte) string {
	t.Helper()
	_, err := CheckConfig(name, data, testPolicy())
	var configErr *ConfigError
	if !errors.As(err, &configErr) {
		t.Fatalf("CheckConfig() error = %v, want a *ConfigError", err)
	}
	if len(configErr.Problems) == 0 {
		t.Fatal("ConfigError lists no problems")
	}
	for _, problem := range configErr.Problems {
		if problem.Line < 1 {
			t.Errorf("problem has no line number: %s", problem)
		}
		if problem.File != name {
			t.Errorf("problem names file %q, want %q", problem.File, name)
		}
		if problem.Message == "" {
			t.Errorf("problem has no message: %+v", problem)
		}
	}
	return configErr.Error()
}

func TestTenMegabyteConfigRejected(t *testing.T) {
	const size = 10 << 20
	var b strings.Builder
	b.Grow(size + 64)
	b.WriteString("version: 1\nallow:\n")
	for b.Len() < size {
		b.WriteString("  - host: artifacts.corp.example.com\n")
	}

	got := checkRejected(t, "huge.yaml", []byte(b.String()))
	if !strings.HasPrefix(got, "huge.yaml:1:1: file is ") || !strings.Contains(got, "the maximum is 65536") {
		t.Errorf("error = %q, want the size limit at line 1", got)
	}
}

func TestGoodConfigFilesAccepted(t *testing.T) {
	files, err := filepath.Glob("testdata/config/good/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no good files under testdata/config/good")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			warnings, err := CheckConfig(file, data, testPolicy())
			if err != nil {
				t.Fatalf("CheckConfig() error:\n%v", err)
			}
			for _, warning := range warnings {
				t.Errorf("unexpected warning at line %d: %s", warning.Line, warning.Reason)
			}
		})
	}
}
