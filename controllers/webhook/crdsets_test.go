package webhook

import (
	"context"
	"slices"
	"testing"

	"github.com/arc-lockdown/arc-lockdown/test/envtest"
)

// TestTriggerOnEachARCCRDSet lists scale sets through the Trigger on an API
// server with each ARC CRD set, because the Trigger decodes
// AutoscalingRunnerSets with the v0.27.6 Go types.
func TestTriggerOnEachARCCRDSet(t *testing.T) {
	for _, set := range envtest.ARCCRDSets {
		t.Run("ARC "+string(set), func(t *testing.T) {
			// The shared API server runs one of the sets already.
			env := testEnv
			if set != testEnvSet || env == nil {
				env = envtest.Start(t, envtest.Options{ARC: set})
			}
			createScaleSets(t, env.Client, "crd-set-runners", nil,
				testScaleSet{name: "web", url: "https://github.com/crdset-org/web"},
				testScaleSet{name: "org", url: "https://github.com/crdset-org"},
				testScaleSet{name: "other", url: "https://github.com/crdset-org/other"},
			)
			trigger := NewTrigger(env.Client, nil)

			n, err := trigger.TriggerRepository(context.Background(), Repository{Host: "github.com", Owner: "crdset-org", Name: "web", DefaultBranch: "main"}, "refs/heads/main")
			if err != nil {
				t.Fatal(err)
			}
			if got := drain(trigger); n != 1 || !slices.Equal(got, []string{"crd-set-runners/web"}) {
				t.Errorf("TriggerRepository = %d, sent %v; want 1, [crd-set-runners/web]", n, got)
			}

			n, err = trigger.TriggerOwner(context.Background(), "github.com", "CRDSET-ORG")
			if err != nil {
				t.Fatal(err)
			}
			if got := drain(trigger); n != 3 || !slices.Equal(got, []string{"crd-set-runners/org", "crd-set-runners/other", "crd-set-runners/web"}) {
				t.Errorf("TriggerOwner = %d, sent %v; want all three", n, got)
			}
		})
	}
}
