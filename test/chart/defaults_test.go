package chart

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// TestDefaultPolicyMatchesLockdown checks that the EgressPolicy of the
// default values holds lockdown's defaults: DefaultBaseline as the
// baseline, DefaultDeny as the deny list, and DefaultPolicySpec as a whole.
func TestDefaultPolicyMatchesLockdown(t *testing.T) {
	list := objects(t, mustRender(t, loadChart(t), map[string]any{}).Manifest)
	object := findObject(t, list, "EgressPolicy", "default")
	var policy egressv1alpha1.EgressPolicy
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object, &policy); err != nil {
		t.Fatalf("decode EgressPolicy: %v", err)
	}

	if want := lockdown.DefaultBaseline(); !reflect.DeepEqual(policy.Spec.Baseline, want) {
		t.Errorf("egressPolicy.baseline differs from lockdown.DefaultBaseline():\n  chart:    %v\n  lockdown: %v", policy.Spec.Baseline, want)
	}
	if want := lockdown.DefaultDeny(); !reflect.DeepEqual(policy.Spec.Deny, want) {
		t.Errorf("egressPolicy.deny differs from lockdown.DefaultDeny():\n  chart:    %v\n  lockdown: %v", policy.Spec.Deny, want)
	}
	if want := lockdown.DefaultPolicySpec(); !reflect.DeepEqual(policy.Spec, want) {
		t.Errorf("the default EgressPolicy spec differs from lockdown.DefaultPolicySpec():\n  chart:    %+v\n  lockdown: %+v", policy.Spec, want)
	}
}
