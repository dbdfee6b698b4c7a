package controllers

import (
	"context"
	"fmt"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// CacheOptions returns the manager cache settings the reconciler expects:
// the rendered kinds are cached only when they carry arc-lockdown's
// managed-by label, so the cache does not hold every NetworkPolicy and
// Istio object of the cluster. An object whose label was removed by hand
// looks deleted, and the next apply restores the label.
func CacheOptions() cache.Options {
	managed := labels.SelectorFromSet(labels.Set{egressv1alpha1.LabelManagedBy: egressv1alpha1.ManagedByValue})
	byObject := map[client.Object]cache.ByObject{}
	for _, kind := range renderedKinds {
		byObject[kind.object()] = cache.ByObject{Label: managed}
	}
	return cache.Options{ByObject: byObject}
}

// SetupWithManager registers the reconciler, its cache indexes and its
// watches: scale sets (spec, label and annotation changes), every rendered
// kind through its scale-set labels, so that drift is reverted and the
// AuthorizationPolicy in the gateway's namespace is covered too, the
// ScaleSetEgress objects, EgressPolicies and namespace labels.
func (r *ScaleSetReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	for _, kind := range renderedKinds {
		if err := mgr.GetFieldIndexer().IndexField(ctx, kind.object(), indexScaleSet, indexByScaleSet); err != nil {
			return fmt.Errorf("index %T by scale set: %w", kind.object(), err)
		}
	}

	workers := r.MaxConcurrentReconciles
	if workers <= 0 {
		workers = DefaultMaxConcurrentReconciles
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("scaleset").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		For(&actionsv1alpha1.AutoscalingRunnerSet{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&egressv1alpha1.ScaleSetEgress{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&egressv1alpha1.EgressPolicy{}, handler.EnqueueRequestsFromMapFunc(r.scaleSetsOfPolicy)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.scaleSetsInNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{}))
	for _, kind := range renderedKinds {
		b = b.Watches(kind.object(), handler.EnqueueRequestsFromMapFunc(scaleSetOfObject),
			builder.WithPredicates(driftPredicate(kind.object())))
	}
	for _, src := range r.ExtraSources {
		b = b.WatchesRawSource(src)
	}
	return b.Complete(r)
}

// driftPredicate passes the events of rendered objects that the
// controller did not cause itself, so that its own writes do not queue
// another reconcile of the same scale set:
//   - deletes, which may be drift;
//   - updates that keep or remove the applied-hash annotation, because
//     every apply of changed content changes the hash, so such an update
//     comes from someone else;
//   - creates of AuthorizationPolicies only, because the informer's
//     first list reports them as creates, and an AuthorizationPolicy
//     whose scale set was deleted while the controller was down is
//     removed by no one else. The other kinds have owner references.
func driftPredicate(kind client.Object) predicate.Funcs {
	_, authz := kind.(*istiosecurityv1.AuthorizationPolicy)
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return authz },
		DeleteFunc: func(event.DeleteEvent) bool { return true },
		UpdateFunc: func(e event.UpdateEvent) bool {
			hash := e.ObjectNew.GetAnnotations()[annotationAppliedHash]
			return hash == "" || hash == e.ObjectOld.GetAnnotations()[annotationAppliedHash]
		},
		GenericFunc: func(event.GenericEvent) bool { return true },
	}
}

// scaleSetOfObject maps a rendered object to its scale set by labels.
func scaleSetOfObject(_ context.Context, obj client.Object) []reconcile.Request {
	if scaleSetKeyOf(obj) == "" {
		return nil
	}
	l := obj.GetLabels()
	return []reconcile.Request{{NamespacedName: types.NamespacedName{
		Namespace: l[egressv1alpha1.LabelScaleSetNamespace],
		Name:      l[egressv1alpha1.LabelScaleSet],
	}}}
}

// scaleSetsOfPolicy maps an EgressPolicy to the scale sets it selects.
// The handler calls it with the old and the new policy on an update, so
// scale sets the policy stops selecting are enqueued too.
func (r *ScaleSetReconciler) scaleSetsOfPolicy(ctx context.Context, obj client.Object) []reconcile.Request {
	policy, ok := obj.(*egressv1alpha1.EgressPolicy)
	if !ok {
		return nil
	}
	var list actionsv1alpha1.AutoscalingRunnerSetList
	if err := r.Client.List(ctx, &list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing AutoscalingRunnerSets for a changed EgressPolicy failed", "policy", policy.Name)
		return nil
	}
	namespaces := map[string]*corev1.Namespace{}
	var requests []reconcile.Request
	for i := range list.Items {
		ars := &list.Items[i]
		ns, ok := namespaces[ars.Namespace]
		if !ok {
			var err error
			if ns, err = r.getNamespace(ctx, ars.Namespace); err != nil {
				ns = &corev1.Namespace{}
				ns.Name = ars.Namespace
			}
			namespaces[ars.Namespace] = ns
		}
		if selected, err := lockdown.PolicySelects(policy, ns.Labels, ars.Labels); err == nil && selected {
			requests = append(requests, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ars.Namespace, Name: ars.Name}})
		}
	}
	return requests
}

// scaleSetsInNamespace maps a namespace whose labels changed to its scale
// sets, because namespace labels select policies and enable injection.
func (r *ScaleSetReconciler) scaleSetsInNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	var list actionsv1alpha1.AutoscalingRunnerSetList
	if err := r.Client.List(ctx, &list, client.InNamespace(obj.GetName())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing AutoscalingRunnerSets of a relabelled namespace failed", "namespace", obj.GetName())
		return nil
	}
	requests := make([]reconcile.Request, 0, len(list.Items))
	for _, ars := range list.Items {
		requests = append(requests, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ars.Namespace, Name: ars.Name}})
	}
	return requests
}
