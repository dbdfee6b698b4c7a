package accesslog

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// ScaleSetProfile is the part of a scale set's egress configuration that
// the Reporter uses to classify and describe the connections of its jobs.
type ScaleSetProfile struct {
	// Mode in force: enforce or audit.
	Mode egressv1alpha1.Mode
	// Hosts of the applied profile, as ScaleSetEgress status lists them.
	// A passthrough connection to a host outside them would be blocked.
	Hosts []string
	// Catalog of the EgressPolicy that bounds the scale set: which mirror
	// replaces a public registry, and the hint for the fix.
	Catalog []egressv1alpha1.CatalogEntry
	// GitHubConfigURL is the scale set's spec.githubConfigUrl; it names the
	// GitHub host whose API receives the check runs.
	GitHubConfigURL string
}

// ProfileLookup returns the profile in force for the scale set
// namespace/scaleSet.
type ProfileLookup interface {
	LookupProfile(ctx context.Context, namespace, scaleSet string) (ScaleSetProfile, error)
}

// ProfileLookupFunc adapts a function to ProfileLookup.
type ProfileLookupFunc func(ctx context.Context, namespace, scaleSet string) (ScaleSetProfile, error)

// LookupProfile calls f.
func (f ProfileLookupFunc) LookupProfile(ctx context.Context, namespace, scaleSet string) (ScaleSetProfile, error) {
	return f(ctx, namespace, scaleSet)
}

var autoscalingRunnerSetGVK = schema.GroupVersionKind{
	Group: "actions.github.com", Version: "v1alpha1", Kind: "AutoscalingRunnerSet",
}

// KubeProfileLookup reads a scale set's profile from the cluster. The mode
// and hosts come from the status of the ScaleSetEgress whose
// spec.scaleSetName is the scale set, and the catalog from the EgressPolicy
// that this status names. githubConfigUrl comes from the
// AutoscalingRunnerSet, read as unstructured so that any ARC CRD version
// decodes.
type KubeProfileLookup struct {
	// Reader is usually the manager's client.
	Reader client.Reader
}

// LookupProfile implements ProfileLookup.
func (l KubeProfileLookup) LookupProfile(ctx context.Context, namespace, scaleSet string) (ScaleSetProfile, error) {
	ars := &unstructured.Unstructured{}
	ars.SetGroupVersionKind(autoscalingRunnerSetGVK)
	if err := l.Reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: scaleSet}, ars); err != nil {
		return ScaleSetProfile{}, fmt.Errorf("get AutoscalingRunnerSet %s/%s: %w", namespace, scaleSet, err)
	}
	configURL, _, _ := unstructured.NestedString(ars.Object, "spec", "githubConfigUrl")

	var list egressv1alpha1.ScaleSetEgressList
	if err := l.Reader.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return ScaleSetProfile{}, fmt.Errorf("list ScaleSetEgress in namespace %s: %w", namespace, err)
	}
	var status *egressv1alpha1.ScaleSetEgressStatus
	for i := range list.Items {
		if list.Items[i].Spec.ScaleSetName == scaleSet {
			status = &list.Items[i].Status
			break
		}
	}
	if status == nil || status.Mode == "" {
		return ScaleSetProfile{}, fmt.Errorf("no ScaleSetEgress status for scale set %s/%s: the scale-set reconciler has not applied a profile yet", namespace, scaleSet)
	}

	profile := ScaleSetProfile{Mode: status.Mode, Hosts: status.Hosts, GitHubConfigURL: configURL}
	if status.Policy == "" {
		return profile, nil
	}
	var policy egressv1alpha1.EgressPolicy
	if err := l.Reader.Get(ctx, types.NamespacedName{Name: status.Policy}, &policy); err != nil {
		return ScaleSetProfile{}, fmt.Errorf("get EgressPolicy %s named by ScaleSetEgress of %s/%s: %w", status.Policy, namespace, scaleSet, err)
	}
	profile.Catalog = policy.Spec.Catalog
	return profile, nil
}

// hostInProfile reports whether host matches one of the profile's hosts,
// where "*.example.com" matches every name below example.com at any depth
// (as Istio and the lockdown package read a wildcard), but not
// example.com itself.
func hostInProfile(host string, hosts []string) bool {
	for _, pattern := range hosts {
		if matchHost(pattern, host) {
			return true
		}
	}
	return false
}

func matchHost(pattern, host string) bool {
	pattern = strings.ToLower(pattern)
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+suffix) && len(host) > len(suffix)+1
	}
	return pattern == host
}

// mirrorFor returns the catalog entry that replaces host, if any.
func mirrorFor(host string, catalog []egressv1alpha1.CatalogEntry) (egressv1alpha1.CatalogEntry, bool) {
	for _, entry := range catalog {
		for _, replaced := range entry.Replaces {
			if matchHost(replaced, host) {
				return entry, true
			}
		}
	}
	return egressv1alpha1.CatalogEntry{}, false
}

// catalogNameFor returns the catalog entry whose destinations include host,
// so that a suggested egress.yaml can name the entry instead of the host.
func catalogNameFor(host string, catalog []egressv1alpha1.CatalogEntry) (string, bool) {
	for _, entry := range catalog {
		for _, d := range entry.Destinations {
			if matchHost(d.Host, host) {
				return entry.Name, true
			}
		}
	}
	return "", false
}
