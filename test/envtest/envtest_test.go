package envtest_test

import (
	"context"
	"strings"
	"testing"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	networkingapiv1 "istio.io/api/networking/v1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
	"github.com/arc-lockdown/arc-lockdown/test/envtest"
)

func TestAPIServerStoresSampleScaleSetAndServiceEntry(t *testing.T) {
	for _, set := range envtest.ARCCRDSets {
		t.Run("ARC "+string(set), func(t *testing.T) {
			env := envtest.Start(t, envtest.Options{ARC: set})
			ctx := context.Background()

			sample := envtest.SampleObject(t, "kube-mode-repo.yaml", "AutoscalingRunnerSet")
			createNamespace(t, env.Client, sample.GetNamespace())
			if err := env.Client.Create(ctx, sample); err != nil {
				t.Fatalf("create sample AutoscalingRunnerSet: %v", err)
			}

			var ars actionsv1alpha1.AutoscalingRunnerSet
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(sample), &ars); err != nil {
				t.Fatalf("read AutoscalingRunnerSet back: %v", err)
			}
			if got, want := ars.Spec.GitHubConfigUrl, "https://github.com/acme/data-pipeline"; got != want {
				t.Errorf("githubConfigUrl = %q, want %q", got, want)
			}
			if got := len(ars.Spec.Template.Spec.Containers); got != 1 {
				t.Fatalf("template containers = %d, want 1", got)
			}
			if !hasEnv(ars.Spec.Template.Spec.Containers[0], "ACTIONS_RUNNER_CONTAINER_HOOKS") {
				t.Errorf("runner container lost ACTIONS_RUNNER_CONTAINER_HOOKS: %+v", ars.Spec.Template.Spec.Containers[0].Env)
			}

			se := &istionetworkingv1.ServiceEntry{
				ObjectMeta: metav1.ObjectMeta{Name: "npm-mirror", Namespace: sample.GetNamespace()},
				Spec: networkingapiv1.ServiceEntry{
					Hosts:      []string{"npm.corp.example.com"},
					Ports:      []*networkingapiv1.ServicePort{{Number: 443, Name: "tls", Protocol: "TLS"}},
					Resolution: networkingapiv1.ServiceEntry_DNS,
					Location:   networkingapiv1.ServiceEntry_MESH_EXTERNAL,
				},
			}
			if err := env.Client.Create(ctx, se); err != nil {
				t.Fatalf("create ServiceEntry: %v", err)
			}
			var readBack istionetworkingv1.ServiceEntry
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(se), &readBack); err != nil {
				t.Fatalf("read ServiceEntry back: %v", err)
			}
			if got := readBack.Spec.GetHosts(); len(got) != 1 || got[0] != "npm.corp.example.com" {
				t.Errorf("ServiceEntry hosts = %v, want [npm.corp.example.com]", got)
			}
			if got := readBack.Spec.GetResolution(); got != networkingapiv1.ServiceEntry_DNS {
				t.Errorf("ServiceEntry resolution = %v, want DNS", got)
			}
		})
	}
}

func TestAPIServerRejectsWildcardServiceEntryWithDNS(t *testing.T) {
	env := envtest.Start(t, envtest.Options{ARC: envtest.ARCModule})
	createNamespace(t, env.Client, "arc-runners")

	se := &istionetworkingv1.ServiceEntry{
		ObjectMeta: metav1.ObjectMeta{Name: "wildcard", Namespace: "arc-runners"},
		Spec: networkingapiv1.ServiceEntry{
			Hosts:      []string{"*.pypi.corp.example.com"},
			Ports:      []*networkingapiv1.ServicePort{{Number: 443, Name: "tls", Protocol: "TLS"}},
			Resolution: networkingapiv1.ServiceEntry_DNS,
			Location:   networkingapiv1.ServiceEntry_MESH_EXTERNAL,
		},
	}
	err := env.Client.Create(context.Background(), se)
	if err == nil {
		t.Fatal("API server accepted a wildcard ServiceEntry host with resolution DNS")
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("create error = %v, want an Invalid error", err)
	}
	if !strings.Contains(err.Error(), "wildcard hosts are not allowed") {
		t.Errorf("error %q does not mention the wildcard host", err)
	}
}

func TestAPIServerInstallsEveryCRD(t *testing.T) {
	env := envtest.Start(t, envtest.Options{ARC: envtest.ARCCurrent})

	for _, kind := range []runtime.Object{
		&actionsv1alpha1.AutoscalingRunnerSetList{},
		&actionsv1alpha1.EphemeralRunnerList{},
		&istionetworkingv1.SidecarList{},
		&istionetworkingv1.GatewayList{},
		&egressv1alpha1.EgressPolicyList{},
		&egressv1alpha1.ScaleSetEgressList{},
	} {
		list := kind.(client.ObjectList)
		if err := env.Client.List(context.Background(), list); err != nil {
			t.Errorf("list %T: %v", kind, err)
		}
	}
}

func createNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

func hasEnv(c corev1.Container, name string) bool {
	for _, env := range c.Env {
		if env.Name == name {
			return true
		}
	}
	return false
}
