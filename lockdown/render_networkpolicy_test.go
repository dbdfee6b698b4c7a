package lockdown_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// Peers of the truth table. Namespace labels carry
// kubernetes.io/metadata.name as the API server sets it.
var (
	runnerPod = internalPeer("arc-runners", map[string]string{
		"actions.github.com/scale-set-name":      "k8s-mode",
		"actions.github.com/scale-set-namespace": "arc-runners",
		"app.kubernetes.io/component":            "runner",
		"actions-ephemeral-runner":               "True",
	}, "10.1.0.10")
	jobPod       = internalPeer("arc-runners", map[string]string{"runner-pod": "k8s-mode-abcde-runner-fghij"}, "10.1.0.11")
	unrelatedPod = internalPeer("arc-runners", map[string]string{"app": "cache"}, "10.1.0.12")
	otherRunner  = internalPeer("arc-runners", map[string]string{
		"actions.github.com/scale-set-name": "web-ci",
		"app.kubernetes.io/component":       "runner",
	}, "10.1.0.13")
	dnsPod     = internalPeer("kube-system", map[string]string{"k8s-app": "kube-dns"}, "10.1.1.2")
	istiodPod  = internalPeer("istio-system", map[string]string{"app": "istiod"}, "10.1.2.2")
	gatewayPod = internalPeer("istio-system", map[string]string{"istio": "egressgateway", "app": "istio-egressgateway"}, "10.1.2.3")
	// ingressGatewayPod shares the namespace of the egress gateway.
	ingressGatewayPod = internalPeer("istio-system", map[string]string{"istio": "ingressgateway"}, "10.1.2.4")
	// controllerPod is the arc-lockdown controller, which receives the
	// sidecars' access logs on 9977 and serves metrics on 8080.
	controllerPod = internalPeer("arc-lockdown-system", map[string]string{
		"app.kubernetes.io/name":      "arc-lockdown",
		"app.kubernetes.io/instance":  "arc-lockdown",
		"app.kubernetes.io/component": "controller",
	}, "10.1.3.5")
	// controllerNeighbour shares the controller's namespace and some of its
	// labels.
	controllerNeighbour = internalPeer("arc-lockdown-system", map[string]string{
		"app.kubernetes.io/name":     "arc-lockdown",
		"app.kubernetes.io/instance": "arc-lockdown",
	}, "10.1.3.6")
	// dnsImpostor carries the DNS label in another namespace.
	dnsImpostor    = internalPeer("arc-runners", map[string]string{"k8s-app": "kube-dns"}, "10.1.0.53")
	externalHost   = &matcher.TrafficPeer{IP: "198.51.100.7"}
	otherExternal  = &matcher.TrafficPeer{IP: "203.0.113.9"}
	apiServerHost  = &matcher.TrafficPeer{IP: "10.0.0.1"}
	apiServerOther = &matcher.TrafficPeer{IP: "10.0.0.2"}
)

func internalPeer(namespace string, labels map[string]string, ip string) *matcher.TrafficPeer {
	return &matcher.TrafficPeer{
		IP: ip,
		Internal: &matcher.InternalPeer{
			Namespace:       namespace,
			NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": namespace},
			PodLabels:       labels,
		},
	}
}

type flow struct {
	name     string
	dest     *matcher.TrafficPeer
	port     int
	protocol corev1.Protocol
}

// Flows every pod is checked on. "Any host port 80" is covered by an
// external address, a pod of the namespace and the egress gateway itself.
var flows = []flow{
	{"DNS over UDP", dnsPod, 53, corev1.ProtocolUDP},
	{"DNS over TCP", dnsPod, 53, corev1.ProtocolTCP},
	{"DNS pod port 8053", dnsPod, 8053, corev1.ProtocolUDP},
	{"DNS label in another namespace", dnsImpostor, 53, corev1.ProtocolUDP},
	{"istiod xDS", istiodPod, 15012, corev1.ProtocolTCP},
	{"istiod other port", istiodPod, 15010, corev1.ProtocolTCP},
	{"egress gateway TLS", gatewayPod, 8443, corev1.ProtocolTCP},
	{"egress gateway HTTP", gatewayPod, 8080, corev1.ProtocolTCP},
	{"egress gateway port 80", gatewayPod, 80, corev1.ProtocolTCP},
	{"ingress gateway TLS", ingressGatewayPod, 8443, corev1.ProtocolTCP},
	{"controller access log", controllerPod, 9977, corev1.ProtocolTCP},
	{"controller access log over UDP", controllerPod, 9977, corev1.ProtocolUDP},
	{"controller metrics", controllerPod, 8080, corev1.ProtocolTCP},
	{"access log port of a neighbour", controllerNeighbour, 9977, corev1.ProtocolTCP},
	{"external 443", externalHost, 443, corev1.ProtocolTCP},
	{"external port 80", otherExternal, 80, corev1.ProtocolTCP},
	{"pod port 80", unrelatedPod, 80, corev1.ProtocolTCP},
	{"other runner", otherRunner, 8080, corev1.ProtocolTCP},
	{"API server", apiServerHost, 6443, corev1.ProtocolTCP},
	{"API server service port", apiServerHost, 443, corev1.ProtocolTCP},
	{"other address on API port", apiServerOther, 6443, corev1.ProtocolTCP},
}

// TestNetworkPolicyTruthTable checks the rendered NetworkPolicies with
// cyclonus's matcher, an implementation of NetworkPolicy semantics that
// shares no code with the renderer.
func TestNetworkPolicyTruthTable(t *testing.T) {
	enforceRunner := map[string]bool{
		"DNS over UDP": true, "DNS over TCP": true, "DNS pod port 8053": true,
		"istiod xDS": true, "egress gateway TLS": true, "egress gateway HTTP": true,
		"controller access log": true,
		"API server":            true, "API server service port": true,
	}
	enforceJob := map[string]bool{
		"DNS over UDP": true, "DNS over TCP": true, "DNS pod port 8053": true,
		"istiod xDS": true, "egress gateway TLS": true, "egress gateway HTTP": true,
		"controller access log": true,
	}

	tests := []struct {
		name    string
		mode    egressv1alpha1.Mode
		source  *matcher.TrafficPeer
		allowed func(flow) bool
	}{
		{"enforce runner pod", egressv1alpha1.ModeEnforce, runnerPod, func(f flow) bool { return enforceRunner[f.name] }},
		{"enforce job pod", egressv1alpha1.ModeEnforce, jobPod, func(f flow) bool { return enforceJob[f.name] }},
		{"enforce unrelated pod", egressv1alpha1.ModeEnforce, unrelatedPod, func(flow) bool { return true }},
		{"enforce runner of another scale set", egressv1alpha1.ModeEnforce, otherRunner, func(flow) bool { return true }},
		{"audit runner pod", egressv1alpha1.ModeAudit, runnerPod, func(flow) bool { return true }},
		{"audit job pod", egressv1alpha1.ModeAudit, jobPod, func(f flow) bool { return enforceJob[f.name] }},
		{"audit unrelated pod", egressv1alpha1.ModeAudit, unrelatedPod, func(flow) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy := cyclonusPolicy(t, testScaleSet("arc-runners", "k8s-mode", lockdown.ContainerModeKubernetes), tt.mode, testMesh())
			for _, f := range flows {
				traffic := &matcher.Traffic{Source: tt.source, Destination: f.dest, ResolvedPort: f.port, Protocol: f.protocol}
				got := policy.IsTrafficAllowed(traffic).Egress.IsAllowed()
				if want := tt.allowed(f); got != want {
					t.Errorf("%s (%s:%d/%s): egress allowed = %v, want %v", f.name, f.dest.IP, f.port, f.protocol, got, want)
				}
			}
		})
	}
}

// TestNetworkPolicyRunnerWithoutKubernetesMode checks that default and dind
// runners get no API server access and no job-pod policy.
func TestNetworkPolicyRunnerWithoutKubernetesMode(t *testing.T) {
	for _, mode := range []string{lockdown.ContainerModeDefault, lockdown.ContainerModeDind} {
		t.Run(mode, func(t *testing.T) {
			policy := cyclonusPolicy(t, testScaleSet("arc-runners", "k8s-mode", mode), egressv1alpha1.ModeEnforce, testMesh())
			cases := []struct {
				source *matcher.TrafficPeer
				dest   *matcher.TrafficPeer
				port   int
				want   bool
			}{
				{runnerPod, apiServerHost, 6443, false},
				{runnerPod, gatewayPod, 8443, true},
				{runnerPod, controllerPod, 9977, true},
				{runnerPod, controllerPod, 8080, false},
				{jobPod, externalHost, 443, true},
			}
			for _, c := range cases {
				traffic := &matcher.Traffic{Source: c.source, Destination: c.dest, ResolvedPort: c.port, Protocol: corev1.ProtocolTCP}
				if got := policy.IsTrafficAllowed(traffic).Egress.IsAllowed(); got != c.want {
					t.Errorf("%v → %s:%d allowed = %v, want %v", c.source.Internal.PodLabels, c.dest.IP, c.port, got, c.want)
				}
			}
		})
	}
}

// TestNetworkPolicyWithoutAccessLog checks that mesh options without an
// access-log receiver open no path to the controller, and that the rest of
// the rules stay.
func TestNetworkPolicyWithoutAccessLog(t *testing.T) {
	policy := cyclonusPolicy(t, testScaleSet("arc-runners", "k8s-mode", lockdown.ContainerModeKubernetes), egressv1alpha1.ModeEnforce, meshWithoutAccessLog())
	cases := []struct {
		name   string
		source *matcher.TrafficPeer
		dest   *matcher.TrafficPeer
		port   int
		want   bool
	}{
		{"runner pod to controller access log", runnerPod, controllerPod, 9977, false},
		{"job pod to controller access log", jobPod, controllerPod, 9977, false},
		{"runner pod to egress gateway", runnerPod, gatewayPod, 8443, true},
		{"job pod to egress gateway", jobPod, gatewayPod, 8443, true},
	}
	for _, c := range cases {
		traffic := &matcher.Traffic{Source: c.source, Destination: c.dest, ResolvedPort: c.port, Protocol: corev1.ProtocolTCP}
		if got := policy.IsTrafficAllowed(traffic).Egress.IsAllowed(); got != c.want {
			t.Errorf("%s (%s:%d): egress allowed = %v, want %v", c.name, c.dest.IP, c.port, got, c.want)
		}
	}
}

// TestSidecarWithoutAccessLog checks that the Sidecar leaves the access-log
// Service out when the mesh options name none.
func TestSidecarWithoutAccessLog(t *testing.T) {
	out := mustRender(t, testScaleSet("ci", "web", lockdown.ContainerModeDefault), testProfile(egressv1alpha1.ModeEnforce), meshWithoutAccessLog())

	for _, host := range findSidecar(t, out).Spec.Egress[0].Hosts {
		if strings.Contains(host, "access-log") {
			t.Errorf("Sidecar egress hosts contain %q without an access-log receiver", host)
		}
	}
}

func cyclonusPolicy(t *testing.T, ss lockdown.ScaleSet, mode egressv1alpha1.Mode, mesh lockdown.MeshOptions) *matcher.Policy {
	t.Helper()
	out := mustRender(t, ss, testProfile(mode), mesh)
	var policies []*networkingv1.NetworkPolicy
	for _, obj := range out.Objects {
		if np, ok := obj.(*networkingv1.NetworkPolicy); ok {
			policies = append(policies, np)
		}
	}
	if len(policies) == 0 {
		t.Fatal("no NetworkPolicy rendered")
	}
	var policy *matcher.Policy
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("cyclonus rejected the rendered NetworkPolicies: %v", fmt.Sprint(r))
			}
		}()
		policy = matcher.BuildNetworkPolicies(false, policies)
	}()
	return policy
}
