package lockdown

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// labelNamespaceName is the label the API server sets on every namespace to
// its own name (Kubernetes 1.22 and later).
const labelNamespaceName = "kubernetes.io/metadata.name"

var networkPolicyTypeMeta = metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"}

// renderNetworkPolicies renders the egress NetworkPolicies: one for the
// runner pods and, in kubernetes container mode, one for the job and step
// pods. Both are Egress-only, so ingress stays as it is, and both select
// only the pods that run job code, so other pods of the namespace keep
// their egress.
func (r *renderer) renderNetworkPolicies() {
	runnerRules := r.meshEgressRules()
	if r.out.ContainerMode == ContainerModeKubernetes && len(r.mesh.APIServerCIDRs) > 0 {
		runnerRules = append(runnerRules, r.apiServerRule())
	}
	if r.mode == egressv1alpha1.ModeAudit {
		// An empty rule allows every destination and port, so that
		// ALLOW_ANY traffic the sidecar passes through is not dropped.
		runnerRules = append(runnerRules, networkingv1.NetworkPolicyEgressRule{})
	}
	runner := &networkingv1.NetworkPolicy{
		TypeMeta:   networkPolicyTypeMeta,
		ObjectMeta: r.objectMeta(r.ss.Namespace, ComponentRunnerEgress, "runner-egress"),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{
				LabelARCScaleSetName: r.ss.Name,
				LabelARCComponent:    "runner",
			}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      runnerRules,
		},
	}
	r.add(runner)

	if r.out.ContainerMode != ContainerModeKubernetes {
		return
	}
	// The hooks label job and step pods with runner-pod=<runner pod name>
	// and nothing else, so this selector cannot tell scale sets apart: it
	// selects the job pods of every scale set in the namespace. That is
	// safe because every scale set renders the same rules here (DNS,
	// istiod, the egress gateway, the access-log receiver) and
	// NetworkPolicies add up, so job pods get no more than that. For the same reason audit mode does not open
	// this policy. The API server is left out because only the runner pod
	// calls it, not the job and step pods.
	job := &networkingv1.NetworkPolicy{
		TypeMeta:   networkPolicyTypeMeta,
		ObjectMeta: r.objectMeta(r.ss.Namespace, ComponentJobEgress, "job-egress"),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key:      LabelRunnerPod,
				Operator: metav1.LabelSelectorOpExists,
			}}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      r.meshEgressRules(),
		},
	}
	r.add(job)
}

// meshEgressRules allows what every meshed pod needs: cluster DNS, istiod,
// the egress gateway pods and, when configured, the controller pods that
// receive the sidecar's access logs. Ports are pod ports, because
// NetworkPolicy matches after Service translation.
func (r *renderer) meshEgressRules() []networkingv1.NetworkPolicyEgressRule {
	dnsPorts := []networkingv1.NetworkPolicyPort{
		protocolPort(corev1.ProtocolUDP, 53),
		protocolPort(corev1.ProtocolTCP, 53),
	}
	if r.mesh.DNSExtraPort != 0 {
		dnsPorts = append(dnsPorts,
			protocolPort(corev1.ProtocolUDP, r.mesh.DNSExtraPort),
			protocolPort(corev1.ProtocolTCP, r.mesh.DNSExtraPort))
	}
	rules := []networkingv1.NetworkPolicyEgressRule{
		{
			To:    []networkingv1.NetworkPolicyPeer{podsInNamespace(r.mesh.DNSNamespace, r.mesh.DNSLabels)},
			Ports: dnsPorts,
		},
		{
			To:    []networkingv1.NetworkPolicyPeer{podsInNamespace(r.mesh.IstiodNamespace, r.mesh.IstiodLabels)},
			Ports: []networkingv1.NetworkPolicyPort{protocolPort(corev1.ProtocolTCP, r.mesh.IstiodPort)},
		},
		{
			To: []networkingv1.NetworkPolicyPeer{podsInNamespace(r.mesh.EgressGatewayNamespace, r.mesh.EgressGatewayLabels)},
			Ports: []networkingv1.NetworkPolicyPort{
				protocolPort(corev1.ProtocolTCP, r.mesh.EgressGatewayTLSPort),
				protocolPort(corev1.ProtocolTCP, r.mesh.EgressGatewayHTTPPort),
			},
		},
	}
	if r.mesh.AccessLogEnabled() {
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{
			To:    []networkingv1.NetworkPolicyPeer{podsInNamespace(r.mesh.AccessLogNamespace, r.mesh.AccessLogLabels)},
			Ports: []networkingv1.NetworkPolicyPort{protocolPort(corev1.ProtocolTCP, r.mesh.AccessLogPort)},
		})
	}
	return rules
}

func (r *renderer) apiServerRule() networkingv1.NetworkPolicyEgressRule {
	rule := networkingv1.NetworkPolicyEgressRule{}
	for _, cidr := range r.mesh.APIServerCIDRs {
		rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
	}
	for _, port := range r.mesh.APIServerPorts {
		rule.Ports = append(rule.Ports, protocolPort(corev1.ProtocolTCP, port))
	}
	return rule
}

func podsInNamespace(namespace string, labels map[string]string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{labelNamespaceName: namespace}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: copyMap(labels)},
	}
}

func protocolPort(protocol corev1.Protocol, port int32) networkingv1.NetworkPolicyPort {
	p := intstr.FromInt32(port)
	return networkingv1.NetworkPolicyPort{Protocol: &protocol, Port: &p}
}
