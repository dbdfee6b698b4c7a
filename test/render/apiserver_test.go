package render_test

import (
	"context"
	"strings"
	"testing"
	"time"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	networkingapi "istio.io/api/networking/v1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
	"github.com/arc-lockdown/arc-lockdown/test/envtest"
)

var sampleFiles = []string{"default-repo.yaml", "dind-repo.yaml", "kube-mode-repo.yaml"}

// profile contains exact hosts, a wildcard, an HTTP destination, a host over
// both protocols and a TLS port other than 443.
var profile = lockdown.Profile{
	Destinations: []lockdown.Destination{
		{Host: "*.actions.githubusercontent.com", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS},
		{Host: "api.github.com", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS},
		{Host: "git.corp.example.com", Ports: []int32{443, 8443}, Protocol: egressv1alpha1.ProtocolTLS},
		{Host: "github.com", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS},
		{Host: "mirror.corp.example.com", Ports: []int32{80}, Protocol: egressv1alpha1.ProtocolHTTP},
		{Host: "mirror.corp.example.com", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS},
	},
}

// TestRenderedObjectsAccepted creates each sample AutoscalingRunnerSet,
// reads it back as the controller would, renders it in enforce mode and
// creates every object. It checks that the stored policies let the runner
// sidecars reach the access-log receiver, then applies the audit rendering
// over it with server-side apply. It runs once per ARC CRD set.
func TestRenderedObjectsAccepted(t *testing.T) {
	for _, set := range envtest.ARCCRDSets {
		t.Run("ARC "+string(set), func(t *testing.T) {
			env := envtest.Start(t, envtest.Options{ARC: set})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()

			for _, ns := range []string{"arc-runners", "istio-system"} {
				if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
					t.Fatalf("create namespace %s: %v", ns, err)
				}
			}
			mesh := lockdown.DefaultMeshOptions()
			mesh.DNSExtraPort = 8053
			mesh.APIServerCIDRs = []string{"10.0.0.1/32", "fd00::1/128"}

			for _, file := range sampleFiles {
				t.Run(file, func(t *testing.T) {
					ss := createSample(ctx, t, env, file)

					enforce := render(t, ss, egressv1alpha1.ModeEnforce, mesh)
					for _, obj := range enforce.Objects {
						if err := env.Client.Create(ctx, obj); err != nil {
							t.Errorf("create %s %s/%s: %v", kindOf(obj), obj.GetNamespace(), obj.GetName(), err)
						}
					}
					assertAccessLogReachable(ctx, t, env, ss, enforce, mesh)

					audit := render(t, ss, egressv1alpha1.ModeAudit, mesh)
					for _, obj := range audit.Objects {
						//nolint:staticcheck // Patch with client.Apply applies typed objects as they are.
						err := env.Client.Patch(ctx, obj, client.Apply, client.FieldOwner(egressv1alpha1.ManagedByValue), client.ForceOwnership)
						if err != nil {
							t.Errorf("server-side apply %s %s/%s: %v", kindOf(obj), obj.GetNamespace(), obj.GetName(), err)
						}
					}

					assertSidecarMode(ctx, t, env, audit, networkingapi.OutboundTrafficPolicy_ALLOW_ANY)
				})
			}

			t.Run("wildcard with DNS rejected", func(t *testing.T) {
				assertWildcardDNSRejected(ctx, t, env)
			})
		})
	}
}

// assertWildcardDNSRejected shows that the acceptance test can fail: the
// rendered wildcard ServiceEntry, changed to resolution DNS, is rejected by
// the same API server.
func assertWildcardDNSRejected(ctx context.Context, t *testing.T, env *envtest.Env) {
	t.Helper()
	ss := lockdown.ScaleSet{Name: "web", Namespace: metav1.NamespaceDefault, ServiceAccountName: "web-runner"}
	ss.Template.Spec.ServiceAccountName = "web-runner"
	out := render(t, ss, egressv1alpha1.ModeEnforce, lockdown.DefaultMeshOptions())

	var wildcard *istionetworkingv1.ServiceEntry
	for _, obj := range out.Objects {
		if se, ok := obj.(*istionetworkingv1.ServiceEntry); ok && strings.HasPrefix(se.Spec.Hosts[0], "*.") {
			wildcard = se
		}
	}
	if wildcard == nil {
		t.Fatal("no wildcard ServiceEntry rendered")
	}
	if err := env.Client.Create(ctx, wildcard.DeepCopy()); err != nil {
		t.Fatalf("create rendered wildcard ServiceEntry: %v", err)
	}

	changed := wildcard.DeepCopy()
	changed.Name += "-dns"
	changed.Spec.Resolution = networkingapi.ServiceEntry_DNS
	err := env.Client.Create(ctx, changed)
	if err == nil {
		t.Fatal("API server accepted a wildcard ServiceEntry with resolution DNS")
	}
	if !strings.Contains(err.Error(), "wildcard") {
		t.Errorf("rejection %q does not name the wildcard host", err)
	}
}

func createSample(ctx context.Context, t *testing.T, env *envtest.Env, file string) lockdown.ScaleSet {
	t.Helper()
	obj := envtest.SampleObject(t, file, "AutoscalingRunnerSet")
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatalf("create AutoscalingRunnerSet of %s: %v", file, err)
	}
	var ars actionsv1alpha1.AutoscalingRunnerSet
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), &ars); err != nil {
		t.Fatalf("get AutoscalingRunnerSet %s: %v", obj.GetName(), err)
	}
	return lockdown.ScaleSetFromARS(&ars)
}

func render(t *testing.T, ss lockdown.ScaleSet, mode egressv1alpha1.Mode, mesh lockdown.MeshOptions) lockdown.Rendered {
	t.Helper()
	p := profile
	p.Mode = mode
	out, err := lockdown.Render(ss, p, mesh)
	if err != nil {
		t.Fatalf("Render(%s/%s): %v", ss.Namespace, ss.Name, err)
	}
	if len(out.Objects) == 0 {
		t.Fatal("Render returned no objects")
	}
	return out
}

// assertSidecarMode reads the applied Sidecar back, to see that the field
// survived the API server's schema.
func assertSidecarMode(ctx context.Context, t *testing.T, env *envtest.Env, out lockdown.Rendered, want networkingapi.OutboundTrafficPolicy_Mode) {
	t.Helper()
	for _, obj := range out.Objects {
		if _, ok := obj.(*istionetworkingv1.Sidecar); !ok {
			continue
		}
		var stored istionetworkingv1.Sidecar
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), &stored); err != nil {
			t.Fatalf("get Sidecar %s: %v", obj.GetName(), err)
		}
		if got := stored.Spec.GetOutboundTrafficPolicy().GetMode(); got != want {
			t.Errorf("stored Sidecar outbound traffic policy = %v, want %v", got, want)
		}
		return
	}
	t.Error("no Sidecar rendered")
}

func kindOf(obj lockdown.Object) string {
	return obj.GetObjectKind().GroupVersionKind().Kind
}
