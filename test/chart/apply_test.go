package chart

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	istiotelemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
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
	env := sharedEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The release namespace enforces the restricted Pod Security Standard.
	// The runner and egress gateway namespaces of both value sets are shared
	// with TestHelmInstall.
	restricted := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   releaseNamespace,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"},
	}}
	if err := env.Client.Create(ctx, restricted); err != nil {
		t.Fatalf("create namespace %s: %v", releaseNamespace, err)
	}
	createNamespaces(ctx, t, env, "arc-runners", "arc-runners-gpu", "istio-system", "istio-egress")

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

// TestHelmInstall runs a real `helm install` (Helm's install action with its
// Kubernetes client and Secret release storage) against a real
// kube-apiserver, and checks the objects it created.
func TestHelmInstall(t *testing.T) {
	env := sharedEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Another release name, namespace and policy name than the other tests
	// use, because they share the API server.
	const name, namespace = "helm-release", "helm-release-system"
	createNamespaces(ctx, t, env, namespace, "arc-runners", "istio-system")
	values := parseValues(t, "egressPolicy: {name: helm-release}")

	configuration := action.NewConfiguration()
	if err := configuration.Init(kubeconfigGetter(t, env.Config, namespace), namespace, "secret"); err != nil {
		t.Fatalf("initialize Helm: %v", err)
	}
	install := action.NewInstall(configuration)
	install.ReleaseName = name
	install.Namespace = namespace
	install.Timeout = time.Minute
	install.WaitStrategy = kube.HookOnlyStrategy

	result, err := install.RunWithContext(ctx, loadChart(t), values)
	if err != nil {
		t.Fatalf("helm install: %v", err)
	}

	release, ok := result.(*releasev1.Release)
	if !ok {
		t.Fatalf("install returned %T, expected *v1.Release", result)
	}
	if release.Info.Status != rcommon.StatusDeployed {
		t.Errorf("release status = %s, expected %s", release.Info.Status, rcommon.StatusDeployed)
	}
	var deployment appsv1.Deployment
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name + "-arc-lockdown"}, &deployment); err != nil {
		t.Errorf("get the installed Deployment: %v", err)
	}
	var policy egressv1alpha1.EgressPolicy
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "helm-release"}, &policy); err != nil {
		t.Errorf("get the installed EgressPolicy: %v", err)
	}
	var telemetry istiotelemetryv1.Telemetry
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "arc-runners", Name: name + "-arc-lockdown-runners"}, &telemetry); err != nil {
		t.Errorf("get the installed runner Telemetry: %v", err)
	}
}

// kubeconfigGetter writes a kubeconfig for config and returns Helm's
// client getter for it, as `helm --kubeconfig FILE` builds one.
func kubeconfigGetter(t *testing.T, config *rest.Config, namespace string) *genericclioptions.ConfigFlags {
	t.Helper()
	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.Clusters["envtest"] = &clientcmdapi.Cluster{Server: config.Host, CertificateAuthorityData: config.CAData}
	kubeconfig.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: config.CertData, ClientKeyData: config.KeyData, Token: config.BearerToken}
	kubeconfig.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kubeconfig.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig, path); err != nil {
		t.Fatalf("write kubeconfig: %v", err)
	}

	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &path
	flags.Namespace = &namespace
	return flags
}
