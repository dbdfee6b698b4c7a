package lockdown

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// PolicySelects reports whether the policy's selectors match a scale set
// with scaleSetLabels in a namespace with namespaceLabels. An empty or
// missing selector matches everything; an invalid one is an error.
func PolicySelects(policy *egressv1alpha1.EgressPolicy, namespaceLabels, scaleSetLabels map[string]string) (bool, error) {
	ok, err := selectorMatches(policy.Spec.NamespaceSelector, namespaceLabels)
	if err != nil || !ok {
		return false, err
	}
	return selectorMatches(policy.Spec.ScaleSetSelector, scaleSetLabels)
}

// GoverningPolicy returns the policy that governs a scale set: among the
// policies whose selectors match, the highest priority wins and ties go to
// the name that sorts first. It returns nil when no policy selects the
// scale set. A policy with an invalid selector selects nothing, and its
// error is returned alongside so the caller can report it.
func GoverningPolicy(policies []egressv1alpha1.EgressPolicy, namespaceLabels, scaleSetLabels map[string]string) (*egressv1alpha1.EgressPolicy, []error) {
	var best *egressv1alpha1.EgressPolicy
	var errs []error
	for i := range policies {
		policy := &policies[i]
		ok, err := PolicySelects(policy, namespaceLabels, scaleSetLabels)
		if err != nil {
			errs = append(errs, fmt.Errorf("EgressPolicy %s has an invalid selector: %w", policy.Name, err))
			continue
		}
		if ok && Outranks(policy, best) {
			best = policy
		}
	}
	return best, errs
}

// Outranks reports whether policy a outranks b: higher priority first,
// then the name that sorts first. Any policy outranks nil.
func Outranks(a, b *egressv1alpha1.EgressPolicy) bool {
	if b == nil {
		return true
	}
	if a.Spec.Priority != b.Spec.Priority {
		return a.Spec.Priority > b.Spec.Priority
	}
	return a.Name < b.Name
}

func selectorMatches(selector *metav1.LabelSelector, set map[string]string) (bool, error) {
	if selector == nil {
		return true, nil
	}
	s, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return false, err
	}
	return s.Matches(k8slabels.Set(set)), nil
}
