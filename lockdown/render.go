package lockdown

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// Object is a rendered Kubernetes object: typed, with TypeMeta set so that
// it can be applied with server-side apply as it is.
type Object interface {
	metav1.Object
	runtime.Object
}

// Warning is something about a rendered scale set that an administrator
// should know, for example a gap that the objects cannot close.
type Warning struct {
	// Reason is a CamelCase constant, usable as an Event or Condition reason.
	Reason string
	// Message explains the consequence and what to do.
	Message string
}

// Reasons of the warnings Render returns.
const (
	// WarningDindWithoutReroute: job containers on the docker bridge bypass
	// the Istio sidecar.
	WarningDindWithoutReroute = "DindWithoutReroute"
	// WarningAuditMode: the profile is reported, not enforced.
	WarningAuditMode = "AuditMode"
	// WarningAuditJobPods: kubernetes-mode job pods stay restricted in audit
	// mode.
	WarningAuditJobPods = "AuditJobPodsRestricted"
	// WarningDefaultServiceAccount: the runner pods run as the namespace's
	// default ServiceAccount, which other pods may share.
	WarningDefaultServiceAccount = "DefaultServiceAccount"
	// WarningAPIServerUnreachable: kubernetes mode without APIServerCIDRs.
	WarningAPIServerUnreachable = "APIServerUnreachable"
	// WarningWildcardForwarding: a wildcard host's traffic cannot be
	// forwarded by the egress gateway with resolution NONE.
	WarningWildcardForwarding = "WildcardForwarding"
	// WarningPortsNotRouted: only one port per host and protocol passes the
	// egress gateway.
	WarningPortsNotRouted = "PortsNotRouted"
	// WarningSidecarInjectionDisabled: the pod template turns off Istio's
	// sidecar injection.
	WarningSidecarInjectionDisabled = "SidecarInjectionDisabled"
	// WarningAddressesNotRendered: IP destinations of the profile stay
	// blocked.
	WarningAddressesNotRendered = "AddressesNotRendered"
	// WarningAccessLogUnreachable: the mesh options name no access-log
	// receiver, so the runner pods' sidecars cannot report blocked
	// connections.
	WarningAccessLogUnreachable = "AccessLogUnreachable"
)

// Rendered is the set of objects for one scale set, in a stable order.
type Rendered struct {
	// Objects in apply order: NetworkPolicies, Sidecar, ServiceEntries,
	// DestinationRule, Gateway, VirtualServices, AuthorizationPolicy, each
	// kind sorted by namespace and name. Owner references are not set.
	Objects []Object
	// Warnings sorted by reason, then message.
	Warnings []Warning
	// ContainerMode detected from the pod template: ContainerModeDefault,
	// ContainerModeDind or ContainerModeKubernetes.
	ContainerMode string
}

// Component values of the LabelComponent label.
const (
	ComponentRunnerEgress   = "runner-egress"
	ComponentJobEgress      = "job-egress"
	ComponentSidecar        = "sidecar"
	ComponentServiceEntry   = "service-entry"
	ComponentGatewayRoute   = "gateway-route"
	ComponentGateway        = "gateway"
	ComponentVirtualService = "virtual-service"
	ComponentGatewayAuthz   = "gateway-authz"
)

// Pod labels that ARC and runner-container-hooks set.
const (
	// LabelARCScaleSetName is set by ARC on runner pods to the
	// AutoscalingRunnerSet name.
	LabelARCScaleSetName = "actions.github.com/scale-set-name"
	// LabelARCComponent is set by ARC on runner pods to "runner".
	LabelARCComponent = "app.kubernetes.io/component"
	// LabelRunnerPod is the only label runner-container-hooks put on the job
	// and step pods of kubernetes container mode; its value is the runner
	// pod name.
	LabelRunnerPod = "runner-pod"
	// AnnotationRerouteVirtualInterfaces makes Istio's init container
	// redirect traffic arriving from the named interfaces (docker0 for
	// dind) into the sidecar.
	AnnotationRerouteVirtualInterfaces = "istio.io/reroute-virtual-interfaces"
	// annotationSidecarInject is Istio's per-pod injection switch.
	annotationSidecarInject = "sidecar.istio.io/inject"
)

// Render turns one scale set and its effective profile into the
// NetworkPolicies and Istio objects that confine its runners. It does not
// touch a cluster; the result depends only on its arguments.
//
// An empty profile Mode means enforce. Render fails on a profile or mesh
// option it cannot render faithfully, so that a caller never applies a
// weaker lock-down than requested.
func Render(ss ScaleSet, p Profile, mesh MeshOptions) (Rendered, error) {
	if err := validateInputs(ss, p, mesh); err != nil {
		return Rendered{}, err
	}

	hosts, addresses := groupByHost(p.Destinations)
	r := renderer{
		ss:        ss,
		mesh:      mesh,
		mode:      p.Mode,
		hosts:     hosts,
		addresses: addresses,
		out:       Rendered{ContainerMode: DetectContainerMode(ss.Template)},
	}
	if r.mode == "" {
		r.mode = egressv1alpha1.ModeEnforce
	}

	r.warnAboutScaleSet()
	r.renderNetworkPolicies()
	r.renderSidecar()
	r.renderEgressRouting()

	sortObjects(r.out.Objects)
	sort.Slice(r.out.Warnings, func(i, j int) bool {
		a, b := r.out.Warnings[i], r.out.Warnings[j]
		if a.Reason != b.Reason {
			return a.Reason < b.Reason
		}
		return a.Message < b.Message
	})
	return r.out, nil
}

// renderer carries the inputs and the output of one Render call.
type renderer struct {
	ss    ScaleSet
	mesh  MeshOptions
	mode  egressv1alpha1.Mode
	hosts []hostRoute
	// addresses are the profile's IP destinations, which are not rendered.
	addresses []string
	out       Rendered
}

// hostRoute is one profile host with its ports by protocol.
type hostRoute struct {
	host      string
	tlsPorts  []int32
	httpPorts []int32
}

func (h hostRoute) wildcard() bool {
	return len(h.host) > 1 && h.host[0] == '*'
}

// groupByHost merges the destinations of one host (a host may appear once
// per protocol) and sorts them by host. IP addresses are returned apart,
// because the egress gateway routes by name.
func groupByHost(destinations []Destination) (routes []hostRoute, addresses []string) {
	index := map[string]int{}
	for _, d := range destinations {
		if _, err := netip.ParseAddr(strings.Trim(d.Host, "[]")); err == nil {
			if !slices.Contains(addresses, d.Host) {
				addresses = append(addresses, d.Host)
			}
			continue
		}
		i, ok := index[d.Host]
		if !ok {
			i = len(routes)
			index[d.Host] = i
			routes = append(routes, hostRoute{host: d.Host})
		}
		switch d.Protocol {
		case egressv1alpha1.ProtocolHTTP:
			routes[i].httpPorts = mergePorts(routes[i].httpPorts, d.Ports)
		default:
			routes[i].tlsPorts = mergePorts(routes[i].tlsPorts, d.Ports)
		}
	}
	sort.SliceStable(routes, func(i, j int) bool { return routes[i].host < routes[j].host })
	sort.Strings(addresses)
	return routes, addresses
}

func mergePorts(have, add []int32) []int32 {
	out := append(append([]int32(nil), have...), add...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	unique := out[:0]
	for i, port := range out {
		if i == 0 || port != out[i-1] {
			unique = append(unique, port)
		}
	}
	return unique
}

func validateInputs(ss ScaleSet, p Profile, mesh MeshOptions) error {
	var errs []error
	if ss.Name == "" || ss.Namespace == "" {
		errs = append(errs, fmt.Errorf("scale set name %q and namespace %q must both be set", ss.Name, ss.Namespace))
	}
	if ss.ServiceAccountName == "" {
		errs = append(errs, fmt.Errorf("scale set %s/%s has no ServiceAccountName: build it with ScaleSetFromARS", ss.Namespace, ss.Name))
	}
	switch p.Mode {
	case "", egressv1alpha1.ModeEnforce, egressv1alpha1.ModeAudit:
	default:
		errs = append(errs, fmt.Errorf("profile mode %q is invalid: use %q or %q", p.Mode, egressv1alpha1.ModeEnforce, egressv1alpha1.ModeAudit))
	}
	for i, d := range p.Destinations {
		if err := validateDestination(d); err != nil {
			errs = append(errs, fmt.Errorf("profile destination %d (%q): %w", i, d.Host, err))
		}
	}
	if err := mesh.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func validateDestination(d Destination) error {
	if d.Host == "" || d.Host == "*" {
		return errors.New("host must be a DNS name or a wildcard of the form *.example.com")
	}
	if d.Protocol != egressv1alpha1.ProtocolTLS && d.Protocol != egressv1alpha1.ProtocolHTTP {
		return fmt.Errorf("protocol %q is invalid: use %q or %q", d.Protocol, egressv1alpha1.ProtocolTLS, egressv1alpha1.ProtocolHTTP)
	}
	if len(d.Ports) == 0 {
		return errors.New("ports are empty: the effective profile lists at least one port per destination")
	}
	for _, port := range d.Ports {
		if !validPort(port) {
			return fmt.Errorf("port %d is outside 1-65535", port)
		}
	}
	return nil
}

// warnAboutScaleSet adds the warnings that depend on the scale set and the
// mode rather than on one object.
func (r *renderer) warnAboutScaleSet() {
	if r.mode == egressv1alpha1.ModeAudit {
		r.warn(WarningAuditMode, "audit mode: the Sidecar lets unlisted destinations through (ALLOW_ANY) and the runner NetworkPolicy allows all egress, so nothing is blocked; traffic outside the profile is only reported")
	}
	if r.ss.Template.Spec.ServiceAccountName == "" || r.ss.ServiceAccountName == DefaultServiceAccountName {
		r.warn(WarningDefaultServiceAccount, fmt.Sprintf("runner pods of %s/%s run as the ServiceAccount %q, which other pods of the namespace may share: the egress gateway admits every pod with that identity to this profile's hosts; set spec.template.spec.serviceAccountName to a ServiceAccount of its own", r.ss.Namespace, r.ss.Name, r.ss.ServiceAccountName))
	}
	if !r.mesh.AccessLogEnabled() {
		r.warn(WarningAccessLogUnreachable, "the mesh options set no AccessLog namespace, labels, port or Service host: the NetworkPolicies and the Sidecar do not let the sidecars of runner and job pods send access logs to the arc-lockdown controller, so connections blocked at the sidecar are not reported as check runs; set the four AccessLog options to the controller's namespace, pod labels, access-log pod port and Service host")
	}
	if r.ss.Template.Annotations[annotationSidecarInject] == "false" {
		r.warn(WarningSidecarInjectionDisabled, fmt.Sprintf("the pod template sets %s: \"false\": without a sidecar the runner cannot reach the egress gateway (the NetworkPolicy requires Istio mTLS through it), so every destination fails", annotationSidecarInject))
	}

	switch r.out.ContainerMode {
	case ContainerModeDind:
		if _, ok := r.ss.Template.Annotations[AnnotationRerouteVirtualInterfaces]; !ok {
			r.warn(WarningDindWithoutReroute, fmt.Sprintf("dind mode without the pod annotation %s: \"docker0\": containers on the docker bridge send forwarded traffic, which Istio's iptables rules do not redirect into the sidecar, so job containers get no route to the egress gateway; the NetworkPolicy still blocks their direct egress, so their connections fail instead of passing through. Add the annotation to spec.template.metadata.annotations", AnnotationRerouteVirtualInterfaces))
		}
	case ContainerModeKubernetes:
		if len(r.mesh.APIServerCIDRs) == 0 {
			r.warn(WarningAPIServerUnreachable, "kubernetes container mode needs the runner pod to reach the API server, but the mesh options list no APIServerCIDRs: the runner NetworkPolicy blocks it and jobs cannot start; set the addresses of the kubernetes Service's endpoints")
		}
		if r.mode == egressv1alpha1.ModeAudit {
			r.warn(WarningAuditJobPods, "audit mode does not open the job pods of kubernetes mode: their NetworkPolicy selects every pod with the runner-pod label in the namespace, including other scale sets' job pods, so it stays restrictive; their traffic outside the profile is blocked, not only reported")
		}
	}

	var wildcards []string
	for _, h := range r.hosts {
		if h.wildcard() {
			wildcards = append(wildcards, h.host)
		}
		if len(h.tlsPorts) > 1 {
			r.warn(WarningPortsNotRouted, fmt.Sprintf("host %s lists TLS ports %v: the egress gateway tells TLS connections apart by SNI only, so all of them go to port %d", h.host, h.tlsPorts, h.tlsPorts[0]))
		}
		if len(h.httpPorts) > 1 {
			r.warn(WarningPortsNotRouted, fmt.Sprintf("host %s lists HTTP ports %v: the egress gateway receives HTTP on one port, so all of them go to port %d", h.host, h.httpPorts, h.httpPorts[0]))
		}
	}
	// TODO: wildcard hosts are admitted and routed to the egress gateway,
	// but the gateway cannot forward them: with resolution NONE its
	// upstream is the connection's original destination, the gateway pod
	// itself. Forwarding needs an SNI proxy behind the gateway or Istio's
	// DYNAMIC_DNS resolution, which the outer Istio mTLS SNI defeats.
	// TODO: IP destinations are left out, so they stay blocked in enforce
	// mode. A TLS client sends no SNI to an IP address, so reaching one
	// through the gateway needs a ServiceEntry with addresses and a TCP route
	// instead of the SNI route used for names.
	if len(r.addresses) > 0 {
		r.warn(WarningAddressesNotRendered, fmt.Sprintf("IP destinations %s are not rendered, so connections to them stay blocked in enforce mode: the egress gateway routes TLS by server name, which clients do not send to an IP address; request a host name instead", strings.Join(r.addresses, ", ")))
	}
	if len(wildcards) > 0 {
		r.warn(WarningWildcardForwarding, fmt.Sprintf("wildcard hosts %s: their ServiceEntries use resolution NONE because the API server rejects a wildcard with resolution DNS, so the egress gateway forwards their connections to the original destination address, which is the gateway itself, and they fail; list the exact host names, or put an SNI proxy behind the egress gateway", strings.Join(wildcards, ", ")))
	}
}

func (r *renderer) warn(reason, message string) {
	r.out.Warnings = append(r.out.Warnings, Warning{Reason: reason, Message: message})
}

// objectMeta returns the name, namespace and labels every rendered object
// carries.
func (r *renderer) objectMeta(namespace, component string, nameParts ...string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      objectName(r.ss, nameParts...),
		Namespace: namespace,
		Labels: map[string]string{
			egressv1alpha1.LabelScaleSet:          r.ss.Name,
			egressv1alpha1.LabelScaleSetNamespace: r.ss.Namespace,
			egressv1alpha1.LabelComponent:         component,
			egressv1alpha1.LabelManagedBy:         egressv1alpha1.ManagedByValue,
		},
	}
}

func (r *renderer) add(obj Object) {
	r.out.Objects = append(r.out.Objects, obj)
}

// kindOrder is the apply order of the rendered kinds: the NetworkPolicies
// that block direct egress come first, the gateway's admission last.
var kindOrder = map[string]int{
	"NetworkPolicy":       0,
	"Sidecar":             1,
	"ServiceEntry":        2,
	"DestinationRule":     3,
	"Gateway":             4,
	"VirtualService":      5,
	"AuthorizationPolicy": 6,
}

func sortObjects(objs []Object) {
	sort.SliceStable(objs, func(i, j int) bool {
		ki := kindOrder[objs[i].GetObjectKind().GroupVersionKind().Kind]
		kj := kindOrder[objs[j].GetObjectKind().GroupVersionKind().Kind]
		if ki != kj {
			return ki < kj
		}
		if objs[i].GetNamespace() != objs[j].GetNamespace() {
			return objs[i].GetNamespace() < objs[j].GetNamespace()
		}
		return objs[i].GetName() < objs[j].GetName()
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
