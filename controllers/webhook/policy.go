package webhook

import (
	"context"
	"fmt"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// governingPolicies returns, for each scale set, the EgressPolicy that
// governs it by the reconciler's rule, lockdown.GoverningPolicy. A scale
// set that no policy selects maps to nil.
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

		// A policy with an invalid selector selects nothing here; the
		// reconciler reports it.
		best, _ := lockdown.GoverningPolicy(policies.Items, ns.Labels, ars.Labels)
		governing[client.ObjectKeyFromObject(ars)] = best
	}
	return governing, nil
}
