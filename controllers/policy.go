package controllers

import (
	"context"
	"fmt"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
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

	best, errs := lockdown.GoverningPolicy(policies.Items, ns.Labels, ars.Labels)
	for _, err := range errs {
		ctrl.LoggerFrom(ctx).Error(err, "Skipping EgressPolicy with an invalid selector")
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
