package controllers

import (
	"context"
	"fmt"

	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// indexScaleSet is the cache index from "namespace/name" of a scale set to
// the objects arc-lockdown rendered for it, read from their labels.
const indexScaleSet = "egress.arc-lockdown.io/scale-set-key"

// renderedKind is one kind that lockdown.Render produces.
type renderedKind struct {
	object func() client.Object
	list   func() client.ObjectList
}

// renderedKinds lists every kind lockdown.Render produces, so that prune
// and the watches cover all of them.
var renderedKinds = []renderedKind{
	{func() client.Object { return &networkingv1.NetworkPolicy{} }, func() client.ObjectList { return &networkingv1.NetworkPolicyList{} }},
	{func() client.Object { return &istionetworkingv1.Sidecar{} }, func() client.ObjectList { return &istionetworkingv1.SidecarList{} }},
	{func() client.Object { return &istionetworkingv1.ServiceEntry{} }, func() client.ObjectList { return &istionetworkingv1.ServiceEntryList{} }},
	{func() client.Object { return &istionetworkingv1.DestinationRule{} }, func() client.ObjectList { return &istionetworkingv1.DestinationRuleList{} }},
	{func() client.Object { return &istionetworkingv1.Gateway{} }, func() client.ObjectList { return &istionetworkingv1.GatewayList{} }},
	{func() client.Object { return &istionetworkingv1.VirtualService{} }, func() client.ObjectList { return &istionetworkingv1.VirtualServiceList{} }},
	{func() client.Object { return &istiosecurityv1.AuthorizationPolicy{} }, func() client.ObjectList { return &istiosecurityv1.AuthorizationPolicyList{} }},
}

// scaleSetKeyOf returns the "namespace/name" of the scale set an object
// was rendered for, or "" when arc-lockdown did not render it.
func scaleSetKeyOf(obj client.Object) string {
	labels := obj.GetLabels()
	if labels[egressv1alpha1.LabelManagedBy] != egressv1alpha1.ManagedByValue {
		return ""
	}
	name, namespace := labels[egressv1alpha1.LabelScaleSet], labels[egressv1alpha1.LabelScaleSetNamespace]
	if name == "" || namespace == "" {
		return ""
	}
	return types.NamespacedName{Namespace: namespace, Name: name}.String()
}

// indexByScaleSet is the indexer function of indexScaleSet.
func indexByScaleSet(obj client.Object) []string {
	if key := scaleSetKeyOf(obj); key != "" {
		return []string{key}
	}
	return nil
}

// objectID names an object across kinds and namespaces.
type objectID struct {
	kind, namespace, name string
}

// prune deletes the objects arc-lockdown rendered for the scale set that
// are not in keep, in every namespace, and returns how many it deleted.
// Only objects that carry the scale set's labels and arc-lockdown's
// managed-by label are candidates.
func (r *ScaleSetReconciler) prune(ctx context.Context, key types.NamespacedName, keep []lockdown.Object) (int, error) {
	rendered := map[objectID]bool{}
	for _, obj := range keep {
		rendered[objectID{obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName()}] = true
	}

	deleted := 0
	for _, kind := range renderedKinds {
		list := kind.list()
		if err := r.Client.List(ctx, list, client.MatchingFields{indexScaleSet: key.String()}); err != nil {
			return deleted, fmt.Errorf("list %T of scale set %s: %w", list, key, err)
		}
		gvk, err := gvkOf(r.Client.Scheme(), kind.object())
		if err != nil {
			return deleted, err
		}
		err = meta.EachListItem(list, func(item runtime.Object) error {
			obj := item.(client.Object)
			if rendered[objectID{gvk.Kind, obj.GetNamespace(), obj.GetName()}] || obj.GetDeletionTimestamp() != nil {
				return nil
			}
			if err := client.IgnoreNotFound(r.Client.Delete(ctx, obj, client.Preconditions{UID: ptrUID(obj.GetUID())})); err != nil {
				return fmt.Errorf("delete %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
			}
			deleted++
			return nil
		})
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

func gvkOf(scheme *runtime.Scheme, obj client.Object) (schema.GroupVersionKind, error) {
	gvks, _, err := scheme.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		return schema.GroupVersionKind{}, fmt.Errorf("kind of %T is not in the scheme: %w", obj, err)
	}
	return gvks[0], nil
}

func ptrUID(uid types.UID) *types.UID {
	return &uid
}
