package chart

import (
	"fmt"
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// podPeer is a pod in a namespace, with the namespace label the API server
// sets.
func podPeer(namespace string, labels map[string]string, ip string) *matcher.TrafficPeer {
	return &matcher.TrafficPeer{
		IP: ip,
		Internal: &matcher.InternalPeer{
			Namespace:       namespace,
			NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": namespace},
			PodLabels:       labels,
		},
	}
}

// controllerPolicy renders the chart and builds its NetworkPolicy with
// cyclonus's matcher, an implementation of NetworkPolicy semantics.
func controllerPolicy(t *testing.T, values map[string]any) *matcher.Policy {
	t.Helper()
	list := objects(t, mustRender(t, loadChart(t), values).Manifest)
	var policy networkingv1.NetworkPolicy
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(findKind(t, list, "NetworkPolicy").Object, &policy); err != nil {
		t.Fatalf("decode NetworkPolicy: %v", err)
	}
	var built *matcher.Policy
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("cyclonus rejected the NetworkPolicy: %s", fmt.Sprint(r))
			}
		}()
		built = matcher.BuildNetworkPolicies(false, []*networkingv1.NetworkPolicy{&policy})
	}()
	return built
}

// networkCase is one connection and whether the policy must allow it.
type networkCase struct {
	name     string
	source   *matcher.TrafficPeer
	dest     *matcher.TrafficPeer
	port     int
	protocol corev1.Protocol
	allowed  bool
}

// checkCases checks ingress for connections to the controller and egress
// for connections from it.
func checkCases(t *testing.T, policy *matcher.Policy, controller *matcher.TrafficPeer, cases []networkCase) {
	t.Helper()
	for _, tc := range cases {
		traffic := &matcher.Traffic{Source: tc.source, Destination: tc.dest, ResolvedPort: tc.port, Protocol: tc.protocol}
		result := policy.IsTrafficAllowed(traffic)
		var got bool
		switch {
		case tc.dest == controller:
			got = result.Ingress.IsAllowed()
		case tc.source == controller:
			got = result.Egress.IsAllowed()
		default:
			t.Fatalf("case %q involves no controller pod", tc.name)
		}
		if got != tc.allowed {
			t.Errorf("%s (%s -> %s:%d/%s): allowed = %v, expected %v", tc.name, tc.source.IP, tc.dest.IP, tc.port, tc.protocol, got, tc.allowed)
		}
	}
}

var (
	runnerPod         = podPeer("arc-runners", map[string]string{"app.kubernetes.io/component": "runner"}, "10.1.0.10")
	jobPod            = podPeer("arc-runners", map[string]string{"runner-pod": "k8s-mode-abcde-runner-fghij"}, "10.1.0.11")
	gatewayPod        = podPeer("istio-system", map[string]string{"istio": "egressgateway"}, "10.1.2.3")
	ingressGatewayPod = podPeer("istio-system", map[string]string{"istio": "ingressgateway"}, "10.1.2.4")
	otherPod          = podPeer("default", map[string]string{"app": "web"}, "10.1.3.3")
	dnsPod            = podPeer("kube-system", map[string]string{"k8s-app": "kube-dns"}, "10.1.1.2")
	dnsImpostor       = podPeer("default", map[string]string{"k8s-app": "kube-dns"}, "10.1.3.53")
	externalHost      = &matcher.TrafficPeer{IP: "198.51.100.7"}
)

// TestNetworkPolicyDefaultValues checks the controller's NetworkPolicy of
// the default values connection by connection.
func TestNetworkPolicyDefaultValues(t *testing.T) {
	controller := podPeer(releaseNamespace, map[string]string{
		"app.kubernetes.io/name":      "arc-lockdown",
		"app.kubernetes.io/instance":  releaseName,
		"app.kubernetes.io/component": "controller",
	}, "10.2.0.5")
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP

	checkCases(t, controllerPolicy(t, map[string]any{}), controller, []networkCase{
		{"access log from a runner pod", runnerPod, controller, 9977, tcp, true},
		{"access log from a job pod", jobPod, controller, 9977, tcp, true},
		{"access log from the egress gateway", gatewayPod, controller, 9977, tcp, true},
		{"access log from the ingress gateway", ingressGatewayPod, controller, 9977, tcp, false},
		{"access log from another namespace", otherPod, controller, 9977, tcp, false},
		{"webhook from another namespace", otherPod, controller, 9443, tcp, true},
		{"webhook from outside the cluster", externalHost, controller, 9443, tcp, true},
		{"metrics scrape", otherPod, controller, 8080, tcp, true},
		{"kubelet probe", externalHost, controller, 8081, tcp, true},
		{"another port from a runner pod", runnerPod, controller, 9090, tcp, false},
		{"access log port over UDP", runnerPod, controller, 9977, udp, false},
		{"DNS over UDP", controller, dnsPod, 53, udp, true},
		{"DNS over TCP", controller, dnsPod, 53, tcp, true},
		{"DNS pod port 8053", controller, dnsPod, 8053, udp, false},
		{"DNS label in another namespace", controller, dnsImpostor, 53, udp, false},
		{"GitHub on 443", controller, externalHost, 443, tcp, true},
		{"API server on 6443", controller, externalHost, 6443, tcp, true},
		{"external port 80", controller, externalHost, 80, tcp, false},
		{"external DNS server", controller, externalHost, 53, udp, false},
	})
}

// TestNetworkPolicyFullExample checks that the full example's peers and
// address ranges narrow the controller's NetworkPolicy.
func TestNetworkPolicyFullExample(t *testing.T) {
	controller := podPeer(releaseNamespace, map[string]string{
		"app.kubernetes.io/name":      "arc-lockdown",
		"app.kubernetes.io/instance":  releaseName,
		"app.kubernetes.io/component": "controller",
	}, "10.2.0.5")
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	gpuRunner := podPeer("arc-runners-gpu", map[string]string{"app.kubernetes.io/component": "runner"}, "10.1.4.10")
	legacyRunner := podPeer("arc-runners-legacy", map[string]string{"app": "runner"}, "10.1.5.10")
	gateway := podPeer("istio-egress", map[string]string{"istio": "egressgateway", "app": "istio-egressgateway"}, "10.1.6.3")
	gatewayMissingLabel := podPeer("istio-egress", map[string]string{"istio": "egressgateway"}, "10.1.6.4")
	ingressController := podPeer("ingress-nginx", map[string]string{"app": "ingress-nginx"}, "10.1.7.2")
	prometheus := podPeer("monitoring", map[string]string{"app": "prometheus"}, "10.1.8.2")
	github := &matcher.TrafficPeer{IP: "192.0.2.10"}
	apiServer := &matcher.TrafficPeer{IP: "10.0.0.10"}
	otherAddress := &matcher.TrafficPeer{IP: "10.0.0.99"}

	checkCases(t, controllerPolicy(t, readValues(t, "full-values.yaml")), controller, []networkCase{
		{"access log from a second runner namespace", gpuRunner, controller, 9977, tcp, true},
		{"access log from an extra peer", legacyRunner, controller, 9977, tcp, true},
		{"access log from the egress gateway", gateway, controller, 9977, tcp, true},
		{"access log from a pod with only some gateway labels", gatewayMissingLabel, controller, 9977, tcp, false},
		{"webhook from the ingress controller", ingressController, controller, 9443, tcp, true},
		{"webhook from another namespace", otherPod, controller, 9443, tcp, false},
		{"metrics from Prometheus", prometheus, controller, 8080, tcp, true},
		{"metrics from another namespace", otherPod, controller, 8080, tcp, false},
		{"DNS pod port 8053", controller, dnsPod, 8053, udp, true},
		{"GitHub range on 443", controller, github, 443, tcp, true},
		{"GitHub range on 8443", controller, github, 8443, tcp, true},
		{"address outside the GitHub range", controller, externalHost, 443, tcp, false},
		{"API server endpoint", controller, apiServer, 6443, tcp, true},
		{"API server endpoint on 443", controller, apiServer, 443, tcp, false},
		{"other address on the API server port", controller, otherAddress, 6443, tcp, false},
	})
}
