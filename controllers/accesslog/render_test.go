package accesslog

import (
	"strings"
	"testing"
	"time"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

func TestEscapeHost(t *testing.T) {
	tests := map[string]string{
		"registry.npmjs.org":            "registry.npmjs.org",
		"[x](https://evil.example)":     `\x5bx\x5d\x28https\x3a\x2f\x2fevil.example\x29`,
		"a`b<img src=x>":                `a\x60b\x3cimg\x20src\x3dx\x3e`,
		"line\nbreak|cell":              `line\x0abreak\x7ccell`,
		"\xff\xfe":                      `\xff\xfe`,
		"2001:DB8::1":                   "2001:db8::1",
		"a**b.example":                  `a\x2a\x2ab.example`,
		"*.Upper.Example":               `*.\x55pper.\x45xample`,
		"<script>alert(1)</script>.com": `\x3cscript\x3ealert\x281\x29\x3c\x2fscript\x3e.com`,
	}
	for host, want := range tests {
		if got := escapeHost(host); got != want {
			t.Errorf("escapeHost(%q) = %q, want %q", host, got, want)
		}
	}
}

// A crafted SNI must not reach the check run as Markdown, HTML or a link.
func TestRenderCheckRunEscapesHostileSNI(t *testing.T) {
	hostile := "evil.example](https://phish.example) **x** <img src=x> `code`\n# heading"
	first := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	view := reportView{
		Job:          testJob("build"),
		Profile:      ScaleSetProfile{Mode: egressv1alpha1.ModeAudit},
		ProfileKnown: true,
		Destinations: []destinationView{
			{Host: normalizeHost(hostile), HostSource: HostFromSNI, Port: 443, Verdict: VerdictWouldBlock, Count: 1, FirstSeen: first},
		},
		NewAnnotations: []int{0},
	}
	run := renderCheckRun(view)

	for field, text := range map[string]string{"summary": run.Summary, "text": run.Text, "annotation title": run.Annotations[0].Title, "annotation message": run.Annotations[0].Message} {
		for _, bad := range []string{"](", "<img", "**x**", "\n# heading", "`code`", "https://phish"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s contains %q:\n%s", field, bad, text)
			}
		}
	}
	wantRow := "| `evil.example\\x5d\\x28https\\x3a\\x2f\\x2fphish.example\\x29\\x20\\x2a\\x2ax\\x2a\\x2a\\x20\\x3cimg\\x20src\\x3dx\\x3e\\x20\\x60code\\x60\\x0a\\x23\\x20heading` | 443 | would be blocked | 1 | 2026-12-04 12:00:00 |"
	if !strings.Contains(run.Summary, wantRow) {
		t.Errorf("summary lacks the escaped row %s\nsummary:\n%s", wantRow, run.Summary)
	}
	if strings.Contains(run.Text, "host: evil") {
		t.Errorf("suggested egress.yaml contains the hostile host:\n%s", run.Text)
	}
}

func TestJobWorkflowPath(t *testing.T) {
	tests := []struct{ repository, ref, want string }{
		{"octo/app", "octo/app/.github/workflows/ci.yml@refs/heads/main", ".github/workflows/ci.yml"},
		{"octo/app", "octo/shared/.github/workflows/build.yaml@v1", ".github/workflows/build.yaml"},
		{"octo/app", "octo/app/ci.yml@main", ""},
		{"octo/app", "", ""},
	}
	for _, tt := range tests {
		job := Job{Repository: tt.repository, WorkflowRef: tt.ref}
		if got := job.WorkflowPath(); got != tt.want {
			t.Errorf("WorkflowPath of %q = %q, want %q", tt.ref, got, tt.want)
		}
	}
}

func testJob(name string) Job {
	return Job{
		Namespace: "arc-runners", Runner: "runner-" + name, ScaleSet: "linux", ScaleSetNamespace: "arc-runners",
		Repository: "octo/app", WorkflowRef: "octo/app/.github/workflows/ci.yml@refs/heads/main",
		WorkflowRunID: 42, JobID: "job-" + name, Name: name,
	}
}

func TestMatchHost(t *testing.T) {
	tests := []struct {
		pattern, host string
		want          bool
	}{
		{"github.com", "github.com", true},
		{"GitHub.com", "github.com", true},
		{"github.com", "api.github.com", false},
		{"*.actions.githubusercontent.com", "pipelines.actions.githubusercontent.com", true},
		{"*.actions.githubusercontent.com", "a.b.actions.githubusercontent.com", true},
		{"*.actions.githubusercontent.com", "actions.githubusercontent.com", false},
		{"*.example.com", "evilexample.com", false},
	}
	for _, tt := range tests {
		if got := matchHost(tt.pattern, tt.host); got != tt.want {
			t.Errorf("matchHost(%q, %q) = %v, want %v", tt.pattern, tt.host, got, tt.want)
		}
	}
}
