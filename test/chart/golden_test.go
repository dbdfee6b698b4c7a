package chart

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGoldenRenders compares the manifests and NOTES.txt of the default
// values and of a full example with the files under testdata. The chart's
// generated RBAC file is replaced by testdata/role-fixture.yaml, because it
// changes with every new kubebuilder marker; TestRBACMatchesGeneratedRules
// checks the real file.
func TestGoldenRenders(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("testdata", "role-fixture.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ch := withRoleFile(t, loadChart(t), fixture)
	cases := []struct {
		name   string
		values string
	}{
		{name: "default"},
		{name: "full", values: "full-values.yaml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			values := map[string]any{}
			if tc.values != "" {
				values = readValues(t, tc.values)
			}
			out := mustRender(t, ch, values)

			compareGolden(t, tc.name+".golden.yaml", []byte(out.Manifest))
			compareGolden(t, tc.name+".notes.golden.txt", []byte(out.Notes))
		})
	}
}
