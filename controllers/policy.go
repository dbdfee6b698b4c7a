package controllers

import (
	"context"
	"fmt"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// selectPolicy returns the EgressPolicy that governs the scale set: among
// the policies whose namespace and scale-set selectors match, the highest
// priority wins and ties go to the name that sorts first. It returns nil
// when no policy selects the scale set.
func (r *ScaleSetReconciler) selectPolicy(ctx context.Context, ars *actionsv1alpha1.AutoscalingRunnerSet) (*egressv1alpha1.EgressPolicy, error) {
	ns, err := r.getNamespace(ctx, ars.Namespace)
	if err != nil {
		return nil, err
	}

	var policies egressv1alpha1.EgressPolicyList
	if err := r.Client.List(ctx, &policies); err != nil {
		return nil, fmt.Errorf("list EgressPolicies: %w", err)
	}

	var best *egressv1alpha1.EgressPolicy
	for i := range policies.Items {
		policy := &policies.Items[i]
		ok, err := policySelects(policy, ns, ars)
		if err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Skipping EgressPolicy with an invalid selector", "policy", policy.Name)
			continue
		}
		if ok && ranksHigher(policy, best) {
			best = policy
		}
	}
	return best, nil
}

// getNamespace reads a namespace from the cache.
func (r *ScaleSetReconciler) getNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	var ns corev1.Namespace
	if err := r.Client.Get(ctx, types.NamespacedName{Name: name}, &ns); err != nil {
		return nil, fmt.Errorf("get namespace %s: %w", name, err)
	}
	return &ns, nil
}

// policySelects reports whether the policy's selectors match the scale set
// and its namespace. An empty or missing selector matches everything.
func policySelects(policy *egressv1alpha1.EgressPolicy, ns *corev1.Namespace, ars *actionsv1alpha1.AutoscalingRunnerSet) (bool, error) {
	ok, err := selectorMatches(policy.Spec.NamespaceSelector, ns.Labels)
	if err != nil || !ok {
		return false, err
	}
	return selectorMatches(policy.Spec.ScaleSetSelector, ars.Labels)
}

func selectorMatches(selector *metav1.LabelSelector, set map[string]string) (bool, error) {
	if selector == nil {
		return true, nil
	}
	s, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return false, err
	}
	return s.Matches(labels.Set(set)), nil
}

// ranksHigher reports whether a outranks b: higher priority first, then
// the name that sorts first. Any policy outranks nil.
func ranksHigher(a, b *egressv1alpha1.EgressPolicy) bool {
	if b == nil {
		return true
	}
	if a.Spec.Priority != b.Spec.Priority {
		return a.Spec.Priority > b.Spec.Priority
	}
	return a.Name < b.Name
}
