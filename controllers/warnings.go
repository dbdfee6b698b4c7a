package controllers

import (
	"fmt"
	"sort"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/arc-lockdown/arc-lockdown/github"
	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// scaleSetWarnings returns the render warnings plus the checks that need
// the cluster or the scope: runner pods without an Istio sidecar and
// organization or enterprise scale sets. The result is sorted and holds
// one warning per reason and message.
func scaleSetWarnings(ars *actionsv1alpha1.AutoscalingRunnerSet, ns *corev1.Namespace, scope github.Scope, scopeErr error, rendered []lockdown.Warning) []egressv1alpha1.ScaleSetWarning {
	seen := map[egressv1alpha1.ScaleSetWarning]bool{}
	var out []egressv1alpha1.ScaleSetWarning
	add := func(reason, message string) {
		w := egressv1alpha1.ScaleSetWarning{Reason: reason, Message: message}
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}

	for _, w := range rendered {
		add(w.Reason, w.Message)
	}
	if message := sidecarProblem(ars, ns); message != "" && !hasReason(rendered, lockdown.WarningSidecarInjectionDisabled) {
		add(ReasonNoSidecar, message)
	}
	if scopeErr == nil && scope.Repo == "" {
		add(ReasonOrganizationScaleSet, fmt.Sprintf("%s is an organization or enterprise scale set: its runner pods serve jobs of many repositories and start before a job is assigned, so one profile (for an organization, the egress file of its .github repository) covers every repository's jobs; use repository-level scale sets for per-repository profiles", scope.String()))
	}

	sort.Slice(out, func(i, j int) bool {
		if out[i].Reason != out[j].Reason {
			return out[i].Reason < out[j].Reason
		}
		return out[i].Message < out[j].Message
	})
	return out
}

// sidecarProblem returns why runner pods of the scale set get no Istio
// sidecar, or "" when injection is on: the pod template's
// sidecar.istio.io/inject label or annotation set to "false", or a
// namespace without the istio-injection=enabled or istio.io/rev label and
// a template that does not ask for injection itself.
func sidecarProblem(ars *actionsv1alpha1.AutoscalingRunnerSet, ns *corev1.Namespace) string {
	template := ars.Spec.Template
	if template.Labels[annotationSidecarInject] == "false" || template.Annotations[annotationSidecarInject] == "false" {
		return fmt.Sprintf("the pod template sets %s=\"false\", so runner pods get no Istio sidecar: only the NetworkPolicies confine them, they cannot reach the egress gateway, and no access log reports what they try to reach; remove the setting", annotationSidecarInject)
	}
	if template.Labels[annotationSidecarInject] == "true" {
		return ""
	}
	if ns.Labels[labelIstioInjection] == "enabled" || ns.Labels[labelIstioRevision] != "" {
		return ""
	}
	return fmt.Sprintf("namespace %s has neither the label %s=enabled nor %s, and the pod template does not set the label %s=\"true\", so runner pods get no Istio sidecar: only the NetworkPolicies confine them and they cannot reach the egress gateway; label the namespace for injection", ns.Name, labelIstioInjection, labelIstioRevision, annotationSidecarInject)
}

func hasReason(warnings []lockdown.Warning, reason string) bool {
	for _, w := range warnings {
		if w.Reason == reason {
			return true
		}
	}
	return false
}
