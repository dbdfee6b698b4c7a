package envtest

import (
	"context"
	"fmt"
	"time"

	networkingapiv1 "istio.io/api/networking/v1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// serviceEntryDNSRule is the part of istiod's validating webhook for
// ServiceEntry that Istio's CRD schema does not carry: with resolution DNS
// or DNS_ROUND_ROBIN and no endpoints, every host must be a fully qualified
// name, because Envoy resolves the host itself.
//
// NOTE: istiod's webhook does not run here, so this ValidatingAdmissionPolicy
// reproduces that one rule. Other webhook-only checks of istiod (for
// example on VirtualService routes) are not reproduced.
const serviceEntryDNSRule = `!(has(object.spec.resolution) && object.spec.resolution in ['DNS', 'DNS_ROUND_ROBIN'] && !has(object.spec.endpoints)) || object.spec.hosts.all(h, !h.startsWith('*'))`

// installIstioWebhookRules creates the admission policy above and waits
// until the API server enforces it.
func installIstioWebhookRules(ctx context.Context, c client.Client) error {
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "istio-serviceentry-dns-hosts"},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{
				ResourceRules: []admissionv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionv1.RuleWithOperations{
						Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
						Rule: admissionv1.Rule{
							APIGroups:   []string{"networking.istio.io"},
							APIVersions: []string{"*"},
							Resources:   []string{"serviceentries"},
						},
					},
				}},
			},
			Validations: []admissionv1.Validation{{
				Expression: serviceEntryDNSRule,
				Message:    "wildcard hosts are not allowed with resolution DNS and no endpoints: use resolution NONE or DYNAMIC_DNS",
				Reason:     ptr.To(metav1.StatusReasonInvalid),
			}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "istio-serviceentry-dns-hosts"},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
	if err := c.Create(ctx, policy); err != nil {
		return fmt.Errorf("create ValidatingAdmissionPolicy %s: %w", policy.Name, err)
	}
	if err := c.Create(ctx, binding); err != nil {
		return fmt.Errorf("create ValidatingAdmissionPolicyBinding %s: %w", binding.Name, err)
	}
	return waitForRule(ctx, c)
}

// waitForRule dry-runs an invalid ServiceEntry until the API server rejects
// it, because a new admission policy takes effect a moment after creation.
func waitForRule(ctx context.Context, c client.Client) error {
	probe := &istionetworkingv1.ServiceEntry{
		ObjectMeta: metav1.ObjectMeta{Name: "admission-probe", Namespace: metav1.NamespaceDefault},
		Spec: networkingapiv1.ServiceEntry{
			Hosts:      []string{"*.probe.example.com"},
			Ports:      []*networkingapiv1.ServicePort{{Number: 443, Name: "tls", Protocol: "TLS"}},
			Resolution: networkingapiv1.ServiceEntry_DNS,
		},
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		switch {
		case apierrors.IsInvalid(err):
			return nil
		case err != nil:
			return fmt.Errorf("dry-run the admission probe: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("admission policy for ServiceEntry hosts not enforced after 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
