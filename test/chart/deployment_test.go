package chart

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestDeploymentHardening checks the parts of the controller Deployment
// that the restricted Pod Security Standard does not: a read-only root
// file system, resource requests and limits, leader election and the
// health probes.
func TestDeploymentHardening(t *testing.T) {
	for name, values := range map[string]map[string]any{
		"default": {},
		"full":    readValues(t, "full-values.yaml"),
	} {
		t.Run(name, func(t *testing.T) {
			var deployment appsv1.Deployment
			object := findKind(t, objects(t, mustRender(t, loadChart(t), values).Manifest), "Deployment")
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object, &deployment); err != nil {
				t.Fatalf("decode Deployment: %v", err)
			}
			pod := deployment.Spec.Template.Spec
			if len(pod.Containers) != 1 {
				t.Fatalf("the pod has %d containers, expected 1", len(pod.Containers))
			}
			container := pod.Containers[0]
			security := container.SecurityContext

			if security == nil || security.ReadOnlyRootFilesystem == nil || !*security.ReadOnlyRootFilesystem {
				t.Error("the container's root file system is not read-only")
			}
			if security == nil || security.AllowPrivilegeEscalation == nil || *security.AllowPrivilegeEscalation {
				t.Error("the container allows privilege escalation")
			}
			if security == nil || security.Capabilities == nil || !slices.Equal(security.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(security.Capabilities.Add) != 0 {
				t.Errorf("the container's capabilities are %+v, expected only drop ALL", security.Capabilities)
			}
			if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
				t.Error("the pod does not require a non-root user")
			}
			if pod.SecurityContext == nil || pod.SecurityContext.SeccompProfile == nil || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Error("the pod does not use the RuntimeDefault seccomp profile")
			}
			if container.Resources.Requests.Cpu().IsZero() || container.Resources.Requests.Memory().IsZero() || container.Resources.Limits.Memory().IsZero() {
				t.Errorf("resources %+v lack a CPU or memory request or a memory limit", container.Resources)
			}
			if !slices.Contains(container.Args, "--leader-elect") {
				t.Errorf("args %q lack --leader-elect", container.Args)
			}
			probes := map[string]*corev1.Probe{"/healthz": container.LivenessProbe, "/readyz": container.ReadinessProbe}
			for path, probe := range probes {
				if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port.String() != "health" {
					t.Errorf("the probe of %s is %+v, expected an HTTP GET on the port named health", path, probe)
				}
			}
			if !slices.Contains(container.Args, "--health-probe-bind-address=:8081") {
				t.Errorf("args %q do not bind the probes to :8081", container.Args)
			}
		})
	}
}
