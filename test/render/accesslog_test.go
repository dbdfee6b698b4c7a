package render_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	"github.com/arc-lockdown/arc-lockdown/test/envtest"
)

// assertAccessLogReachable reads the created NetworkPolicies and Sidecar
// back from the API server. With cyclonus's NetworkPolicy matcher it checks
// that runner pods and (kubernetes mode) job pods reach the controller's
// access-log port and not its metrics port 8080. It also checks that the
// Sidecar keeps the access-log Service in scope.
func assertAccessLogReachable(ctx context.Context, t *testing.T, env *envtest.Env, ss lockdown.ScaleSet, out lockdown.Rendered, mesh lockdown.MeshOptions) {
	t.Helper()
	var stored []*networkingv1.NetworkPolicy
	for _, obj := range out.Objects {
		switch obj.(type) {
		case *networkingv1.NetworkPolicy:
			var np networkingv1.NetworkPolicy
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), &np); err != nil {
				t.Fatalf("get NetworkPolicy %s: %v", obj.GetName(), err)
			}
			stored = append(stored, &np)
		case *istionetworkingv1.Sidecar:
			var sidecar istionetworkingv1.Sidecar
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), &sidecar); err != nil {
				t.Fatalf("get Sidecar %s: %v", obj.GetName(), err)
			}
			want := mesh.AccessLogNamespace + "/" + mesh.AccessLogServiceHost
			if hosts := sidecar.Spec.GetEgress()[0].GetHosts(); !slices.Contains(hosts, want) {
				t.Errorf("stored Sidecar egress hosts %v lack %q", hosts, want)
			}
		}
	}
	policy := buildCyclonusPolicy(t, stored)

	controller := peer(mesh.AccessLogNamespace, mesh.AccessLogLabels, "10.1.3.5")
	sources := map[string]*matcher.TrafficPeer{
		"runner pod": peer(ss.Namespace, map[string]string{
			lockdown.LabelARCScaleSetName: ss.Name,
			lockdown.LabelARCComponent:    "runner",
		}, "10.1.0.10"),
	}
	if out.ContainerMode == lockdown.ContainerModeKubernetes {
		sources["job pod"] = peer(ss.Namespace, map[string]string{lockdown.LabelRunnerPod: ss.Name + "-runner-abcde"}, "10.1.0.11")
	}
	for name, source := range sources {
		for _, c := range []struct {
			port int
			want bool
		}{
			{int(mesh.AccessLogPort), true},
			{8080, false},
		} {
			traffic := &matcher.Traffic{Source: source, Destination: controller, ResolvedPort: c.port, Protocol: corev1.ProtocolTCP}
			if got := policy.IsTrafficAllowed(traffic).Egress.IsAllowed(); got != c.want {
				t.Errorf("%s → controller port %d: egress allowed = %v, want %v", name, c.port, got, c.want)
			}
		}
	}
}

func buildCyclonusPolicy(t *testing.T, policies []*networkingv1.NetworkPolicy) (policy *matcher.Policy) {
	t.Helper()
	if len(policies) == 0 {
		t.Fatal("no NetworkPolicy rendered")
	}
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("cyclonus rejected the stored NetworkPolicies: %s", fmt.Sprint(r))
		}
	}()
	return matcher.BuildNetworkPolicies(false, policies)
}

func peer(namespace string, labels map[string]string, ip string) *matcher.TrafficPeer {
	return &matcher.TrafficPeer{
		IP: ip,
		Internal: &matcher.InternalPeer{
			Namespace:       namespace,
			NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": namespace},
			PodLabels:       labels,
		},
	}
}
