package chart

import (
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
)

// TestLintClean runs `helm lint --strict` on the chart with the default
// values and with the full example, and expects no warning or error. The
// only informational message allowed is the missing icon, because the
// project publishes no icon URL.
func TestLintClean(t *testing.T) {
	kube, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
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
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = releaseNamespace
			lint.KubeVersion = kube

			result := lint.Run([]string{chartDir(t)}, values)

			if result.TotalChartsLinted != 1 {
				t.Errorf("linted %d charts, expected 1", result.TotalChartsLinted)
			}
			for _, message := range result.Messages {
				if message.Severity == support.InfoSev && message.Err.Error() == "icon is recommended" {
					continue
				}
				t.Errorf("lint: %v", message)
			}
			for _, err := range result.Errors {
				t.Errorf("lint error: %v", err)
			}
		})
	}
}
