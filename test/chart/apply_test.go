package chart

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arc-lockdown/arc-lockdown/test/envtest"
)

// TestRenderedObjectsAccepted creates every object of the default render
// and of the full example on a real kube-apiserver with the arc-lockdown,
// Istio and ARC CRDs. Strict field validation is on, so an unknown or
// misspelt field fails as well as a schema or CEL violation.
//
// The full example is rendered with metrics.serviceMonitor.enabled=false:
// envtest has no Prometheus Operator CRDs, so a ServiceMonitor cannot be
// created there. The golden file still covers its render.
func TestRenderedObjectsAccepted(t *testing.T) {
	env := envtest.Start(t, envtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The release namespace, the runner namespaces and the egress gateway
	// namespaces of both value sets. The release namespace enforces the
	// restricted Pod Security Standard.
	for _, name := range []string{releaseNamespace, "arc-runners", "arc-runners-gpu", "istio-system", "istio-egress"} {
		namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if name == releaseNamespace {
			namespace.Labels = map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}
		}
		if err := env.Client.Create(ctx, namespace); err != nil {
			t.Fatalf("create namespace %s: %v", name, err)
		}
	}

	// The full example mounts this ConfigMap as the GitHub Enterprise Server
	// CA bundle. The API server accepts the Deployment without it, but the
	// pod of a real install would not start.
	caBundle := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "ghes-ca", Namespace: releaseNamespace},
		Data:       map[string]string{"ca.pem": "test data"},
	}
	if err := env.Client.Create(ctx, caBundle); err != nil {
		t.Fatalf("create CA bundle ConfigMap: %v", err)
	}

	// Pod Security admission must be active, or the Pod check below would
	// pass whatever security context the chart sets.
	unrestricted := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "unrestricted", Namespace: releaseNamespace},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "example.com/image:1"}}},
	}
	if err := env.Client.Create(ctx, unrestricted); err == nil {
		t.Fatal("a Pod without a security context was admitted to a namespace enforcing the restricted Pod Security Standard")
	}

	full := readValues(t, "full-values.yaml")
	full["metrics"].(map[string]any)["serviceMonitor"].(map[string]any)["enabled"] = false

	cases := []struct {
		name   string
		values map[string]any
		// kinds the render must contain, so a template that renders
		// nothing cannot pass.
		kinds []string
	}{
		{
			name:   "default",
			values: map[string]any{},
			kinds:  []string{"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "ConfigMap", "NetworkPolicy", "EgressPolicy", "Telemetry"},
		},
		{
			name:   "full",
			values: full,
			kinds:  []string{"Deployment", "Secret", "PodDisruptionBudget", "EgressPolicy", "Telemetry", "NetworkPolicy"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			list := objects(t, mustRender(t, loadChart(t), tc.values).Manifest)

			seen := map[string]bool{}
			for _, object := range list {
				seen[object.GetKind()] = true
				if err := env.Client.Create(ctx, object, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
					t.Errorf("create %s %s/%s: %v", object.GetKind(), object.GetNamespace(), object.GetName(), err)
				}
			}
			for _, kind := range tc.kinds {
				if !seen[kind] {
					t.Errorf("render has no %s", kind)
				}
			}

			// No controller-manager runs in envtest, so create a Pod from
			// the Deployment's template to pass it through Pod Security
			// admission.
			deployment := &appsv1.Deployment{}
			object := findKind(t, list, "Deployment")
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object, deployment); err != nil {
				t.Fatalf("decode Deployment: %v", err)
			}
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: deployment.Name + "-pod", Namespace: deployment.Namespace, Labels: deployment.Spec.Template.Labels},
				Spec:       deployment.Spec.Template.Spec,
			}
			if err := env.Client.Create(ctx, pod); err != nil {
				t.Errorf("create a Pod from the Deployment's template in a namespace enforcing the restricted Pod Security Standard: %v", err)
			}
		})
	}
}
