package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
)

// applyObjects server-side applies each object whose live copy differs
// from it, and returns how many it wrote. Objects in the scale set's
// namespace get a controller owner reference to the scale set; the
// others (the AuthorizationPolicy in the gateway's namespace) cannot
// have one and are removed by cleanUpDeleted instead.
//
// Comparing with the cached live copy first keeps a resync with nothing
// changed free of API writes: a server-side apply of identical content
// is still a PATCH request.
func (r *ScaleSetReconciler) applyObjects(ctx context.Context, ars *actionsv1alpha1.AutoscalingRunnerSet, objs []lockdown.Object) (int, error) {
	written := 0
	for _, obj := range objs {
		desired, err := desiredObject(ars, obj)
		if err != nil {
			return written, err
		}
		current, err := r.upToDate(ctx, desired)
		if err != nil {
			return written, err
		}
		if current {
			continue
		}
		err = r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(desired),
			client.FieldOwner(FieldManager), client.ForceOwnership)
		if err != nil {
			return written, fmt.Errorf("apply %s %s/%s: %w", desired.GetKind(), desired.GetNamespace(), desired.GetName(), err)
		}
		written++
	}
	return written, nil
}

// desiredObject converts a rendered object to the unstructured form that
// is applied: no status, no creation timestamp, the owner reference and
// the hash annotation set.
func desiredObject(ars *actionsv1alpha1.AutoscalingRunnerSet, obj lockdown.Object) (*unstructured.Unstructured, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" || gvk.Version == "" {
		return nil, fmt.Errorf("rendered object %s/%s has no apiVersion and kind", obj.GetNamespace(), obj.GetName())
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	var content map[string]any
	if err := json.Unmarshal(data, &content); err != nil {
		return nil, fmt.Errorf("decode %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	delete(content, "status")
	u := &unstructured.Unstructured{Object: content}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")

	if u.GetNamespace() == ars.Namespace {
		u.SetOwnerReferences([]metav1.OwnerReference{ownerReference(ars)})
	}

	hash, err := contentHash(u.Object)
	if err != nil {
		return nil, err
	}
	annotations := u.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[annotationAppliedHash] = hash
	u.SetAnnotations(annotations)
	return u, nil
}

// contentHash returns a short SHA-256 of the JSON encoding of content;
// encoding/json sorts map keys, so equal content gives equal hashes.
func contentHash(content map[string]any) (string, error) {
	data, err := json.Marshal(content)
	if err != nil {
		return "", fmt.Errorf("hash object: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8]), nil
}

// upToDate reports whether the cached live object holds every field of
// desired with the same value. Fields the API server defaults, or other
// field managers set, are ignored; the hash annotation catches fields
// removed from the profile.
func (r *ScaleSetReconciler) upToDate(ctx context.Context, desired *unstructured.Unstructured) (bool, error) {
	live, err := r.Client.Scheme().New(desired.GroupVersionKind())
	if err != nil {
		return false, fmt.Errorf("rendered kind %s is not in the scheme: %w", desired.GroupVersionKind(), err)
	}
	liveObj, ok := live.(client.Object)
	if !ok {
		return false, fmt.Errorf("rendered kind %s is not a client.Object", desired.GroupVersionKind())
	}
	key := types.NamespacedName{Namespace: desired.GetNamespace(), Name: desired.GetName()}
	if err := r.Client.Get(ctx, key, liveObj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("get %s %s: %w", desired.GetKind(), key, err)
	}
	if liveObj.GetDeletionTimestamp() != nil {
		return false, nil
	}

	data, err := json.Marshal(liveObj)
	if err != nil {
		return false, fmt.Errorf("encode live %s %s: %w", desired.GetKind(), key, err)
	}
	var content map[string]any
	if err := json.Unmarshal(data, &content); err != nil {
		return false, fmt.Errorf("decode live %s %s: %w", desired.GetKind(), key, err)
	}
	// Typed objects read from the cache may lack apiVersion and kind.
	fields := make(map[string]any, len(desired.Object))
	for k, v := range desired.Object {
		if k != "apiVersion" && k != "kind" {
			fields[k] = v
		}
	}
	return containsFields(content, fields), nil
}

// ownerReference makes the scale set the controller of an object, so that
// the garbage collector deletes the object with the scale set, and a
// foreground deletion of the scale set waits for it.
func ownerReference(ars *actionsv1alpha1.AutoscalingRunnerSet) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         actionsv1alpha1.GroupVersion.String(),
		Kind:               "AutoscalingRunnerSet",
		Name:               ars.Name,
		UID:                ars.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

// containsFields reports whether live holds every field of desired with
// the same value. Lists must have the same length, element by element.
// A desired zero value (null, "", 0, false, empty list or map) matches an
// absent field, because the API server drops such fields from typed
// objects.
func containsFields(live, desired any) bool {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return live == nil && isZero(d)
		}
		for k, dv := range d {
			lv, ok := l[k]
			if !ok {
				if isZero(dv) {
					continue
				}
				return false
			}
			if !containsFields(lv, dv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok {
			return live == nil && len(d) == 0
		}
		if len(l) != len(d) {
			return false
		}
		for i := range d {
			if !containsFields(l[i], d[i]) {
				return false
			}
		}
		return true
	default:
		if live == nil {
			return isZero(desired)
		}
		return reflect.DeepEqual(live, desired)
	}
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		for _, item := range x {
			if !isZero(item) {
				return false
			}
		}
		return true
	case []any:
		return len(x) == 0
	case string:
		return x == ""
	case float64:
		return x == 0
	case bool:
		return !x
	default:
		return false
	}
}
