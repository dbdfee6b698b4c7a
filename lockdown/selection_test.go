package lockdown

import (
	"testing"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

func TestOutranksOrdersPolicies(t *testing.T) {
	policy := func(name string, priority int32) *egressv1alpha1.EgressPolicy {
		return &egressv1alpha1.EgressPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: egressv1alpha1.EgressPolicySpec{Priority: priority}}
	}
	tests := []struct {
		name string
		a, b *egressv1alpha1.EgressPolicy
		want bool
	}{
		{"any policy beats none", policy("z", -5), nil, true},
		{"higher priority wins", policy("z", 10), policy("a", 1), true},
		{"lower priority loses", policy("a", 1), policy("z", 10), false},
		{"tie goes to first name", policy("a", 3), policy("b", 3), true},
		{"tie loses to first name", policy("b", 3), policy("a", 3), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Outranks(tt.a, tt.b); got != tt.want {
				t.Errorf("Outranks = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPolicySelectsBySelectors(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ci", Labels: map[string]string{"team": "build"}}}
	ars := &actionsv1alpha1.AutoscalingRunnerSet{ObjectMeta: metav1.ObjectMeta{Name: "rs", Namespace: "ci", Labels: map[string]string{"tier": "trusted"}}}
	selector := func(key, value string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{key: value}}
	}
	tests := []struct {
		name       string
		namespaces *metav1.LabelSelector
		scaleSets  *metav1.LabelSelector
		want       bool
	}{
		{"no selectors select everything", nil, nil, true},
		{"matching namespace selector", selector("team", "build"), nil, true},
		{"other namespace label", selector("team", "web"), nil, false},
		{"matching scale-set selector", nil, selector("tier", "trusted"), true},
		{"other scale-set label", nil, selector("tier", "public"), false},
		{"both must match", selector("team", "build"), selector("tier", "public"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy := &egressv1alpha1.EgressPolicy{Spec: egressv1alpha1.EgressPolicySpec{NamespaceSelector: tt.namespaces, ScaleSetSelector: tt.scaleSets}}
			got, err := PolicySelects(policy, ns.Labels, ars.Labels)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("PolicySelects = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPolicySelectsRejectsInvalidSelector(t *testing.T) {
	policy := &egressv1alpha1.EgressPolicy{Spec: egressv1alpha1.EgressPolicySpec{ScaleSetSelector: &metav1.LabelSelector{
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Near"}},
	}}}
	_, err := PolicySelects(policy, nil, nil)
	if err == nil {
		t.Error("an invalid operator selected a scale set, want an error")
	}
}

func TestGoverningPolicyPicksHighestRank(t *testing.T) {
	invalid := egressv1alpha1.EgressPolicy{ObjectMeta: metav1.ObjectMeta{Name: "broken"}, Spec: egressv1alpha1.EgressPolicySpec{
		Priority:         100,
		ScaleSetSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Near"}}},
	}}
	other := egressv1alpha1.EgressPolicy{ObjectMeta: metav1.ObjectMeta{Name: "other-team"}, Spec: egressv1alpha1.EgressPolicySpec{
		Priority:          50,
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "web"}},
	}}
	low := egressv1alpha1.EgressPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	high := egressv1alpha1.EgressPolicy{ObjectMeta: metav1.ObjectMeta{Name: "strict"}, Spec: egressv1alpha1.EgressPolicySpec{Priority: 10}}

	got, errs := GoverningPolicy([]egressv1alpha1.EgressPolicy{invalid, other, low, high}, map[string]string{"team": "build"}, nil)
	if got == nil || got.Name != "strict" {
		t.Errorf("governing policy = %v, want strict", got)
	}
	if len(errs) != 1 {
		t.Errorf("errors = %v, want one for the invalid selector", errs)
	}

	got, _ = GoverningPolicy([]egressv1alpha1.EgressPolicy{other}, map[string]string{"team": "build"}, nil)
	if got != nil {
		t.Errorf("governing policy = %s, want none", got.Name)
	}
}
