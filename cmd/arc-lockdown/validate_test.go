package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validatePolicy = `apiVersion: egress.arc-lockdown.io/v1alpha1
kind: EgressPolicy
metadata:
  name: runners
spec:
  catalog:
    - name: npm-mirror
      destinations:
        - host: npm.corp.example.com
      replaces: [registry.npmjs.org]
      hint: npm config set registry https://npm.corp.example.com/
  allowedHosts: ["*.corp.example.com"]
  deny: [registry.npmjs.org]
`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCommand(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidateExitCodes(t *testing.T) {
	dir := t.TempDir()
	policy := writeFile(t, dir, "policy.yaml", validatePolicy)
	good := writeFile(t, dir, "good.yaml", "version: 1\nallow:\n  - npm-mirror\n  - host: artifacts.corp.example.com\n")
	outside := writeFile(t, dir, "outside.yaml", "version: 1\nallow:\n  - host: artifacts.example.net\n")
	bad := writeFile(t, dir, "bad.yaml", "version: 1\nallow:\n  - npm-mirorr\n  - host: \"*.com\"\n")
	denied := writeFile(t, dir, "denied.yaml", "version: 1\nallow:\n  - host: \"*.npmjs.org\"\n")
	badPolicy := writeFile(t, dir, "bad-policy.yaml", validatePolicy+"  colour: blue\n")
	wrongKind := writeFile(t, dir, "wrong-kind.yaml", strings.Replace(validatePolicy, "kind: EgressPolicy", "kind: ConfigMap", 1))
	huge := writeFile(t, dir, "huge.yaml", "version: 1\n#"+strings.Repeat("x", 70000)+"\n")
	brokenBaseline := writeFile(t, dir, "broken-baseline.yaml", validatePolicy+"  baseline:\n    - host: \"*\"\n")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr string
	}{
		{
			name:       "valid file",
			args:       []string{"--policy", policy, good},
			wantCode:   0,
			wantStdout: []string{"1 file checked: 0 errors, 0 warnings"},
		},
		{
			name:       "missing file is a usage error",
			args:       []string{filepath.Join(dir, "missing.yaml")},
			wantCode:   2,
			wantStderr: "missing.yaml: file not found",
		},
		{
			name:       "directory is a usage error",
			args:       []string{dir},
			wantCode:   2,
			wantStderr: "not a regular file",
		},
		{
			name:       "without policy notes what was not checked",
			args:       []string{good},
			wantCode:   0,
			wantStdout: []string{"1 file checked: 0 errors, 0 warnings", "note: without --policy only the format and the default deny list were checked"},
		},
		{
			name:       "dropped entry is a warning",
			args:       []string{"--policy", policy, outside},
			wantCode:   0,
			wantStdout: []string{outside + ":3:11: warning: artifacts.example.net is outside the hosts the policy lets repositories add", "0 errors, 1 warning"},
		},
		{
			name:     "every problem is printed with its position",
			args:     []string{"--policy", policy, bad},
			wantCode: 1,
			wantStdout: []string{
				bad + `:3:5: catalog name not found in the policy (value "npm-mirorr"); did you mean "npm-mirror"?`,
				bad + `:4:11: wildcard "*.com" covers every domain`,
				"2 errors",
			},
		},
		{
			name:       "wildcard over a denied host is an error",
			args:       []string{"--policy", policy, denied},
			wantCode:   1,
			wantStdout: []string{denied + `:3:11: *.npmjs.org would reach registry.npmjs.org, which is on the policy's deny list (value "*.npmjs.org"); use catalog entry "npm-mirror" instead`},
		},
		{
			name:       "default deny list applies without a policy",
			args:       []string{denied},
			wantCode:   1,
			wantStdout: []string{denied + ":3:11: *.npmjs.org would reach registry.npmjs.org"},
		},
		{
			name:       "catalog names pass without a policy",
			args:       []string{good},
			wantCode:   0,
			wantStdout: []string{"0 errors, 0 warnings"},
		},
		{
			name:       "one bad file among several fails the run",
			args:       []string{"--policy", policy, good, bad},
			wantCode:   1,
			wantStdout: []string{"2 files checked: 2 errors"},
		},
		{
			name:       "oversized file is rejected without reading it all",
			args:       []string{huge},
			wantCode:   1,
			wantStdout: []string{huge + ": 1:1: file is larger than the maximum of 65536 bytes"},
		},
		{
			name:       "policy problem is a warning without a position",
			args:       []string{"--policy", brokenBaseline, good},
			wantCode:   0,
			wantStdout: []string{good + ": warning: baseline host is invalid: a bare wildcard would allow every host"},
		},
		{
			name:       "no file is a usage error",
			args:       nil,
			wantCode:   2,
			wantStderr: "no file given",
		},
		{
			name:       "unknown flag is a usage error",
			args:       []string{"--polcy", policy, good},
			wantCode:   2,
			wantStderr: "flag provided but not defined: -polcy",
		},
		{
			name:       "policy with an unknown field is rejected",
			args:       []string{"--policy", badPolicy, good},
			wantCode:   2,
			wantStderr: `unknown field "colour"`,
		},
		{
			name:       "manifest of another kind is rejected",
			args:       []string{"--policy", wrongKind, good},
			wantCode:   2,
			wantStderr: `kind "ConfigMap", want apiVersion "egress.arc-lockdown.io/v1alpha1" kind "EgressPolicy"`,
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			code, stdout, stderr := runCommand(append([]string{"validate"}, test.args...)...)
			if code != test.wantCode {
				t.Errorf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, test.wantCode, stdout, stderr)
			}
			for _, want := range test.wantStdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if !strings.Contains(stderr, test.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", test.wantStderr, stderr)
			}
		})
	}
}

func TestValidateHelpExitsZero(t *testing.T) {
	code, _, stderr := runCommand("validate", "-h")
	if code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	if !strings.Contains(stderr, "Usage: arc-lockdown validate [--policy FILE] FILE...") {
		t.Errorf("help lacks the usage line:\n%s", stderr)
	}
}
