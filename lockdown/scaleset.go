package lockdown

import (
	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	corev1 "k8s.io/api/core/v1"
)

// DefaultServiceAccountName is the ServiceAccount Kubernetes assigns to a
// pod whose spec names none.
const DefaultServiceAccountName = "default"

// ScaleSet is the part of an AutoscalingRunnerSet that rendering reads.
// Callers build it with ScaleSetFromARS, or directly in tests.
type ScaleSet struct {
	// Name and Namespace of the AutoscalingRunnerSet.
	Name, Namespace string
	// Labels and Annotations of the AutoscalingRunnerSet itself.
	Labels, Annotations map[string]string
	// ServiceAccountName is the ServiceAccount of the runner pods. The
	// gateway admits only this identity to the profile's hosts.
	ServiceAccountName string
	// Template is the runner pod template.
	Template corev1.PodTemplateSpec
}

// ScaleSetFromARS copies what rendering needs out of an
// AutoscalingRunnerSet.
//
// ARC's gha-runner-scale-set chart (0.14.2) always writes the runner
// ServiceAccount into spec.template: "<release>-gha-rs-no-permission", or
// "<release>-gha-rs-kube-mode" in kubernetes mode. ARC's controller copies
// the template into each runner pod unchanged, so a template that names no
// ServiceAccount (one not made by the chart) yields pods that run as the
// namespace's "default" ServiceAccount, and that is the identity returned
// here. Render warns about it.
func ScaleSetFromARS(ars *actionsv1alpha1.AutoscalingRunnerSet) ScaleSet {
	template := *ars.Spec.Template.DeepCopy()
	serviceAccount := template.Spec.ServiceAccountName
	if serviceAccount == "" {
		serviceAccount = DefaultServiceAccountName
	}
	return ScaleSet{
		Name:               ars.Name,
		Namespace:          ars.Namespace,
		Labels:             copyMap(ars.Labels),
		Annotations:        copyMap(ars.Annotations),
		ServiceAccountName: serviceAccount,
		Template:           template,
	}
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
