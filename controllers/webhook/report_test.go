package webhook

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// testPolicy allows hosts under corp.example.com and denies npm's registry.
func testPolicy() *egressv1alpha1.EgressPolicy {
	spec := lockdown.DefaultPolicySpec()
	spec.AllowedHosts = []string{"*.corp.example.com", "registry.npmjs.org"}
	spec.Catalog = []egressv1alpha1.CatalogEntry{{
		Name:         "npm-mirror",
		Destinations: []egressv1alpha1.Destination{{Host: "npm.corp.example.com"}},
	}}
	return &egressv1alpha1.EgressPolicy{ObjectMeta: metav1.ObjectMeta{Name: "runners"}, Spec: spec}
}

// fileWithErrorAndDrop has an invalid port on line 6 and a denied host on
// line 7.
const fileWithErrorAndDrop = `version: 1
allow:
  - npm-mirror
  - host: artifacts.corp.example.com
  - host: cache.corp.example.com
    ports: [70000]
  - host: registry.npmjs.org
`

func TestReportAnnotatesErrorAndDroppedEntry(t *testing.T) {
	groups := []policyGroup{{policy: testPolicy(), scaleSets: []string{"ci/web"}, githubHost: "github.com"}}

	report := buildReport(fileVersion{data: []byte(fileWithErrorAndDrop), found: true}, fileVersion{}, groups, "main")

	if report.conclusion != conclusionFailure {
		t.Errorf("conclusion = %q, want failure", report.conclusion)
	}
	if len(report.annotations) != 2 {
		t.Fatalf("annotations = %+v, want 2", report.annotations)
	}
	if a := report.annotations[0]; a.line != 6 || a.level != levelFailure || !strings.Contains(a.message, "70000") {
		t.Errorf("first annotation = %+v, want a failure on line 6 naming 70000", a)
	}
	if a := report.annotations[1]; a.line != 7 || a.level != levelWarning || !strings.Contains(a.message, "registry.npmjs.org") {
		t.Errorf("second annotation = %+v, want a warning on line 7 naming registry.npmjs.org", a)
	}
}

func TestReportSummarizesAddedAndRemoved(t *testing.T) {
	groups := []policyGroup{{policy: testPolicy(), scaleSets: []string{"ci/web"}, githubHost: "github.com"}}
	base := "version: 1\nallow:\n  - host: old.corp.example.com\n"
	head := "version: 1\nallow:\n  - npm-mirror\n  - host: artifacts.corp.example.com\n    ports: [443, 8443]\n"

	report := buildReport(fileVersion{data: []byte(head), found: true}, fileVersion{data: []byte(base), found: true}, groups, "main")

	if report.conclusion != conclusionSuccess {
		t.Errorf("conclusion = %q, want success; summary:\n%s", report.conclusion, report.summary)
	}
	if len(report.annotations) != 0 {
		t.Errorf("annotations = %+v, want none", report.annotations)
	}
	for _, want := range []string{
		"- `npm.corp.example.com:443/TLS` (catalog npm-mirror)",
		"- `artifacts.corp.example.com:443,8443/TLS` (repository)",
		"Removed:\n\n- `old.corp.example.com:443/TLS` (repository)",
		"EgressPolicy `runners`",
		"`ci/web`",
	} {
		if !strings.Contains(report.summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, report.summary)
		}
	}
}

func TestReportWithoutScaleSetsChecksSyntaxOnly(t *testing.T) {
	report := buildReport(fileVersion{data: []byte("version: 2\n"), found: true}, fileVersion{}, nil, "main")
	if report.conclusion != conclusionFailure || len(report.annotations) != 1 || report.annotations[0].line != 1 {
		t.Errorf("report = %+v, want one failure on line 1", report)
	}

	report = buildReport(fileVersion{data: []byte("version: 1\n"), found: true}, fileVersion{}, nil, "main")
	if report.conclusion != conclusionNeutral {
		t.Errorf("conclusion = %q, want neutral", report.conclusion)
	}
}

func TestBlankFaultyAllowEntriesKeepsLines(t *testing.T) {
	problems := []lockdown.Problem{{Line: 6, Message: "port out of range"}}
	blanked, ok := blankFaultyAllowEntries([]byte(fileWithErrorAndDrop), problems)
	if !ok {
		t.Fatal("blankFaultyAllowEntries returned false")
	}
	want := "version: 1\nallow:\n  - npm-mirror\n  - host: artifacts.corp.example.com\n\n\n  - host: registry.npmjs.org\n"
	if string(blanked) != want {
		t.Errorf("blanked file =\n%q\nwant\n%q", blanked, want)
	}

	if _, ok := blankFaultyAllowEntries([]byte("version: x\nallow: [a, b]\n"), []lockdown.Problem{{Line: 1}}); ok {
		t.Error("a problem outside a block allow list must not be blanked")
	}
}

func TestReportWithoutPolicyChecksSyntax(t *testing.T) {
	groups := []policyGroup{{scaleSets: []string{"ci/web"}, githubHost: "github.com"}}
	report := buildReport(fileVersion{data: []byte("version: 1\nallow:\n  - host: 10.0.0.1\n"), found: true}, fileVersion{}, groups, "main")
	if report.conclusion != conclusionFailure || len(report.annotations) != 1 || report.annotations[0].line != 3 {
		t.Errorf("report = %+v, want one failure on line 3", report)
	}
}
