package webhook

import (
	"context"
	"fmt"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// governingPolicies returns, for each scale set, the EgressPolicy that
// governs it by the reconciler's rule: among the policies whose namespace
// and scale-set selectors match, the highest priority wins and ties go to
// the name that sorts first. A scale set that no policy selects maps to
// nil. Policies with an invalid selector select nothing.
func governingPolicies(ctx context.Context, reader client.Reader, sets []actionsv1alpha1.AutoscalingRunnerSet) (map[client.ObjectKey]*egressv1alpha1.EgressPolicy, error) {
	var policies egressv1alpha1.EgressPolicyList
	if err := reader.List(ctx, &policies); err != nil {
		return nil, fmt.Errorf("list EgressPolicies: %w", err)
	}

	namespaces := map[string]*corev1.Namespace{}
	governing := map[client.ObjectKey]*egressv1alpha1.EgressPolicy{}
	for i := range sets {
		ars := &sets[i]
		ns, ok := namespaces[ars.Namespace]
		if !ok {
			ns = &corev1.Namespace{}
			if err := reader.Get(ctx, client.ObjectKey{Name: ars.Namespace}, ns); err != nil {
				return nil, fmt.Errorf("get namespace %s: %w", ars.Namespace, err)
			}
			namespaces[ars.Namespace] = ns
		}

		var best *egressv1alpha1.EgressPolicy
		for j := range policies.Items {
			policy := &policies.Items[j]
			if selects(policy.Spec.NamespaceSelector, ns.Labels) && selects(policy.Spec.ScaleSetSelector, ars.Labels) && outranks(policy, best) {
				best = policy
			}
		}
		governing[client.ObjectKeyFromObject(ars)] = best
	}
	return governing, nil
}

// selects reports whether a label selector matches a label set. A nil
// selector matches everything and an invalid one matches nothing.
func selects(selector *metav1.LabelSelector, set map[string]string) bool {
	if selector == nil {
		return true
	}
	s, err := metav1.LabelSelectorAsSelector(selector)
	return err == nil && s.Matches(labels.Set(set))
}

// outranks reports whether a outranks b: higher priority first, then the
// name that sorts first. Any policy outranks nil.
func outranks(a, b *egressv1alpha1.EgressPolicy) bool {
	if b == nil {
		return true
	}
	if a.Spec.Priority != b.Spec.Priority {
		return a.Spec.Priority > b.Spec.Priority
	}
	return a.Name < b.Name
}
