package lockdown

import (
	"fmt"
	"strconv"

	networkingapi "istio.io/api/networking/v1"
	securityapi "istio.io/api/security/v1"
	typeapi "istio.io/api/type/v1beta1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// meshGateway is the reserved Gateway name that means "every sidecar".
const meshGateway = "mesh"

// Port names of the rendered Gateway's servers.
const (
	gatewayTLSPortName  = "tls-egress"
	gatewayHTTPPortName = "https-egress"
)

func istioTypeMeta(group, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: group + "/v1", Kind: kind}
}

// renderSidecar renders the Sidecar of the runner pods. Their proxy is
// configured only for the profile's hosts, the egress gateway, the
// controller's access-log Service and (kubernetes mode) the API server. In
// enforce mode REGISTRY_ONLY sends everything else to Istio's
// BlackHoleCluster. The access-log Service must be in scope because Envoy
// sends its gRPC access logs through a cluster of that Service.
//
// Istio treats two Sidecars that select the same pod as undefined, so no
// other Sidecar may select the runner pods. The job pods of kubernetes mode
// carry none of the runner labels and keep the namespace's default Sidecar.
func (r *renderer) renderSidecar() {
	hosts := make([]string, 0, len(r.hosts)+3)
	for _, h := range r.hosts {
		hosts = append(hosts, "./"+h.host)
	}
	hosts = append(hosts, r.mesh.EgressGatewayNamespace+"/"+r.mesh.EgressGatewayServiceHost)
	if r.mesh.AccessLogEnabled() {
		hosts = append(hosts, r.mesh.AccessLogNamespace+"/"+r.mesh.AccessLogServiceHost)
	}
	if r.out.ContainerMode == ContainerModeKubernetes && r.mesh.APIServerHost != "" {
		hosts = append(hosts, "*/"+r.mesh.APIServerHost)
	}

	policy := networkingapi.OutboundTrafficPolicy_REGISTRY_ONLY
	if r.mode == egressv1alpha1.ModeAudit {
		policy = networkingapi.OutboundTrafficPolicy_ALLOW_ANY
	}

	// NOTE: REGISTRY_ONLY is the zero value of the enum, so Istio's JSON
	// encoding leaves "mode" out and prints "outboundTrafficPolicy: {}".
	// Istio reads that back as REGISTRY_ONLY.
	sidecar := &istionetworkingv1.Sidecar{
		TypeMeta:   istioTypeMeta("networking.istio.io", "Sidecar"),
		ObjectMeta: r.objectMeta(r.ss.Namespace, ComponentSidecar, "runner"),
		Spec: networkingapi.Sidecar{
			WorkloadSelector: &networkingapi.WorkloadSelector{Labels: map[string]string{
				LabelARCScaleSetName: r.ss.Name,
				LabelARCComponent:    "runner",
			}},
			Egress:                []*networkingapi.IstioEgressListener{{Hosts: hosts}},
			OutboundTrafficPolicy: &networkingapi.OutboundTrafficPolicy{Mode: policy},
		},
	}
	r.add(sidecar)
}

// renderEgressRouting renders the objects that carry the profile's hosts
// through the egress gateway, following Istio's egress gateway pattern with
// Istio mTLS between sidecar and gateway:
//
//   - a ServiceEntry per host makes the host known to the mesh;
//   - a DestinationRule for the gateway Service contains one subset per host
//     that wraps the connection in Istio mTLS with the host as SNI;
//   - a Gateway opens port 443 (TLS) and port 80 (HTTPS carrying plain
//     HTTP) with ISTIO_MUTUAL on the egress gateway pods;
//   - a VirtualService per host routes the sidecar's traffic to the gateway
//     subset (TLS by SNI, HTTP by Host), and the gateway's traffic to the
//     host;
//   - an AuthorizationPolicy on the gateway admits only this scale set's
//     ServiceAccount, and only to its own hosts.
//
// The Gateway uses ISTIO_MUTUAL on both servers so that the gateway
// receives the runner's workload certificate, because source.principals in
// the AuthorizationPolicy match only on mTLS connections. For that reason the
// HTTP server is declared with protocol HTTPS; the traffic inside the mTLS
// tunnel is the runner's plain HTTP.
//
// NOTE: the VirtualServices apply to every meshed pod of the namespace, not
// only to runners, because job pods carry no label a route could match.
// Other pods there that call a profile host are sent to the gateway too,
// and the gateway denies them unless they share the runner ServiceAccount.
// Two scale sets of one namespace that share a host render two
// VirtualServices for it, which istioctl analyze reports as IST0109; both
// route the host to the same gateway subset and destination.
func (r *renderer) renderEgressRouting() {
	if len(r.hosts) == 0 {
		return
	}

	gatewayName := objectName(r.ss, "egress-gateway")
	gatewayRef := r.ss.Namespace + "/" + gatewayName
	for _, h := range r.hosts {
		r.add(r.serviceEntry(h))
		r.add(r.virtualService(h, gatewayRef))
	}
	r.add(r.destinationRule())
	r.add(r.gateway())
	r.add(r.authorizationPolicy())
}

func (r *renderer) serviceEntry(h hostRoute) *istionetworkingv1.ServiceEntry {
	var ports []*networkingapi.ServicePort
	for _, port := range h.tlsPorts {
		ports = append(ports, &networkingapi.ServicePort{Number: uint32(port), Protocol: "TLS", Name: "tls-" + strconv.Itoa(int(port))})
	}
	for _, port := range h.httpPorts {
		ports = append(ports, &networkingapi.ServicePort{Number: uint32(port), Protocol: "HTTP", Name: "http-" + strconv.Itoa(int(port))})
	}

	// The API server rejects a wildcard host with resolution DNS, because
	// Envoy cannot resolve a wildcard; NONE keeps the original destination.
	resolution := networkingapi.ServiceEntry_DNS
	if h.wildcard() {
		resolution = networkingapi.ServiceEntry_NONE
	}
	return &istionetworkingv1.ServiceEntry{
		TypeMeta:   istioTypeMeta("networking.istio.io", "ServiceEntry"),
		ObjectMeta: r.objectMeta(r.ss.Namespace, ComponentServiceEntry, "se", h.host),
		Spec: networkingapi.ServiceEntry{
			Hosts:      []string{h.host},
			Ports:      ports,
			Location:   networkingapi.ServiceEntry_MESH_EXTERNAL,
			Resolution: resolution,
			ExportTo:   r.exportTo(),
		},
	}
}

// exportTo limits visibility to the scale set's namespace, where its
// sidecars are, and the gateway namespace, where the gateway pods are.
func (r *renderer) exportTo() []string {
	if r.ss.Namespace == r.mesh.EgressGatewayNamespace {
		return []string{"."}
	}
	return []string{".", r.mesh.EgressGatewayNamespace}
}

// subsetName names the DestinationRule subset of one host.
func subsetName(host string) string {
	return withHash(hostLabel(host), hashOf(host))
}

func (r *renderer) destinationRule() *istionetworkingv1.DestinationRule {
	subsets := make([]*networkingapi.Subset, 0, len(r.hosts))
	for _, h := range r.hosts {
		var settings []*networkingapi.TrafficPolicy_PortTrafficPolicy
		if len(h.tlsPorts) > 0 {
			settings = append(settings, istioMutualTo(GatewayServiceTLSPort, h.host))
		}
		if len(h.httpPorts) > 0 {
			settings = append(settings, istioMutualTo(GatewayServiceHTTPPort, h.host))
		}
		subsets = append(subsets, &networkingapi.Subset{
			Name:          subsetName(h.host),
			TrafficPolicy: &networkingapi.TrafficPolicy{PortLevelSettings: settings},
		})
	}
	return &istionetworkingv1.DestinationRule{
		TypeMeta:   istioTypeMeta("networking.istio.io", "DestinationRule"),
		ObjectMeta: r.objectMeta(r.ss.Namespace, ComponentGatewayRoute, "egress-gateway"),
		Spec: networkingapi.DestinationRule{
			Host:     r.mesh.EgressGatewayServiceHost,
			Subsets:  subsets,
			ExportTo: []string{"."},
		},
	}
}

// istioMutualTo wraps connections to one gateway Service port in Istio mTLS
// and sets the SNI the gateway's server matches. For a wildcard host the
// SNI is the wildcard itself, because the real name is not known here.
func istioMutualTo(port uint32, host string) *networkingapi.TrafficPolicy_PortTrafficPolicy {
	return &networkingapi.TrafficPolicy_PortTrafficPolicy{
		Port: &networkingapi.PortSelector{Number: port},
		Tls:  &networkingapi.ClientTLSSettings{Mode: networkingapi.ClientTLSSettings_ISTIO_MUTUAL, Sni: host},
	}
}

func (r *renderer) gateway() *istionetworkingv1.Gateway {
	var tlsHosts, httpHosts []string
	for _, h := range r.hosts {
		if len(h.tlsPorts) > 0 {
			tlsHosts = append(tlsHosts, "./"+h.host)
		}
		if len(h.httpPorts) > 0 {
			httpHosts = append(httpHosts, "./"+h.host)
		}
	}

	var servers []*networkingapi.Server
	if len(tlsHosts) > 0 {
		servers = append(servers, &networkingapi.Server{
			Port:  &networkingapi.Port{Number: GatewayServiceTLSPort, Protocol: "TLS", Name: gatewayTLSPortName},
			Hosts: tlsHosts,
			Tls:   &networkingapi.ServerTLSSettings{Mode: networkingapi.ServerTLSSettings_ISTIO_MUTUAL},
		})
	}
	if len(httpHosts) > 0 {
		servers = append(servers, &networkingapi.Server{
			Port:  &networkingapi.Port{Number: GatewayServiceHTTPPort, Protocol: "HTTPS", Name: gatewayHTTPPortName},
			Hosts: httpHosts,
			Tls:   &networkingapi.ServerTLSSettings{Mode: networkingapi.ServerTLSSettings_ISTIO_MUTUAL},
		})
	}

	// NOTE: Istio applies a Gateway to every pod its selector matches in
	// the cluster, not only in this namespace (unless istiod runs with
	// PILOT_SCOPE_GATEWAY_TO_NAMESPACE). Scale sets that share a host put
	// the same SNI on the gateway's port 443 more than once. Every copy
	// routes the host to the same destination, and the AuthorizationPolicies
	// stay per scale set. Which duplicate server Istio keeps was not tested.
	return &istionetworkingv1.Gateway{
		TypeMeta:   istioTypeMeta("networking.istio.io", "Gateway"),
		ObjectMeta: r.objectMeta(r.ss.Namespace, ComponentGateway, "egress-gateway"),
		Spec: networkingapi.Gateway{
			Selector: copyMap(r.mesh.EgressGatewayLabels),
			Servers:  servers,
		},
	}
}

func (r *renderer) virtualService(h hostRoute, gatewayRef string) *istionetworkingv1.VirtualService {
	subset := subsetName(h.host)
	vs := &istionetworkingv1.VirtualService{
		TypeMeta:   istioTypeMeta("networking.istio.io", "VirtualService"),
		ObjectMeta: r.objectMeta(r.ss.Namespace, ComponentVirtualService, "vs", h.host),
	}
	spec := &vs.Spec
	spec.Hosts = []string{h.host}
	spec.Gateways = []string{meshGateway, gatewayRef}
	spec.ExportTo = r.exportTo()

	if len(h.tlsPorts) > 0 {
		for _, port := range h.tlsPorts {
			spec.Tls = append(spec.Tls, &networkingapi.TLSRoute{
				Match: []*networkingapi.TLSMatchAttributes{{
					Gateways: []string{meshGateway},
					Port:     uint32(port),
					SniHosts: []string{h.host},
				}},
				Route: []*networkingapi.RouteDestination{{Destination: r.toGateway(subset, GatewayServiceTLSPort)}},
			})
		}
		// The gateway terminates the Istio mTLS wrapper, so the runner's own
		// TLS stream arrives as TCP on the server whose SNI matched this
		// host: a TCP route forwards it unchanged.
		spec.Tcp = append(spec.Tcp, &networkingapi.TCPRoute{
			Match: []*networkingapi.L4MatchAttributes{{Gateways: []string{gatewayRef}, Port: GatewayServiceTLSPort}},
			Route: []*networkingapi.RouteDestination{{Destination: toHost(h.host, h.tlsPorts[0])}},
		})
	}

	if len(h.httpPorts) > 0 {
		for _, port := range h.httpPorts {
			spec.Http = append(spec.Http, &networkingapi.HTTPRoute{
				Match: []*networkingapi.HTTPMatchRequest{{Gateways: []string{meshGateway}, Port: uint32(port)}},
				Route: []*networkingapi.HTTPRouteDestination{{Destination: r.toGateway(subset, GatewayServiceHTTPPort)}},
			})
		}
		// NOTE: for an HTTP port other than 80 the Host header carries that
		// port. Whether the gateway's virtual host for port 80 matches it was
		// not checked against a running gateway.
		spec.Http = append(spec.Http, &networkingapi.HTTPRoute{
			Match: []*networkingapi.HTTPMatchRequest{{Gateways: []string{gatewayRef}, Port: GatewayServiceHTTPPort}},
			Route: []*networkingapi.HTTPRouteDestination{{Destination: toHost(h.host, h.httpPorts[0])}},
		})
	}

	return vs
}

func (r *renderer) toGateway(subset string, port uint32) *networkingapi.Destination {
	return &networkingapi.Destination{
		Host:   r.mesh.EgressGatewayServiceHost,
		Subset: subset,
		Port:   &networkingapi.PortSelector{Number: port},
	}
}

func toHost(host string, port int32) *networkingapi.Destination {
	return &networkingapi.Destination{Host: host, Port: &networkingapi.PortSelector{Number: uint32(port)}}
}

// authorizationPolicy admits this scale set's ServiceAccount to its own
// hosts on the gateway pods: TLS by the SNI of the mTLS connection (set by
// the DestinationRule subset), HTTP by the Host header. ALLOW policies of
// other scale sets add their own identities and hosts. Once any ALLOW
// policy selects the gateway, a request that none of them matches is denied.
//
// NOTE: runner-container-hooks create the job and step pods of kubernetes
// mode. The gateway admits them only if they run as the runner pod's
// ServiceAccount, and this package does not check which one they use.
func (r *renderer) authorizationPolicy() *istiosecurityv1.AuthorizationPolicy {
	principal := fmt.Sprintf("%s/ns/%s/sa/%s", r.mesh.TrustDomain, r.ss.Namespace, r.ss.ServiceAccountName)
	from := []*securityapi.Rule_From{{Source: &securityapi.Source{Principals: []string{principal}}}}

	var tlsHosts, httpHosts []string
	for _, h := range r.hosts {
		if len(h.tlsPorts) > 0 {
			tlsHosts = append(tlsHosts, h.host)
		}
		if len(h.httpPorts) > 0 {
			// A client puts a port other than 80 into the Host header.
			httpHosts = append(httpHosts, h.host)
			for _, port := range h.httpPorts {
				if port != GatewayServiceHTTPPort {
					httpHosts = append(httpHosts, h.host+":"+strconv.Itoa(int(port)))
				}
			}
		}
	}

	var rules []*securityapi.Rule
	if len(tlsHosts) > 0 {
		rules = append(rules, &securityapi.Rule{
			From: from,
			To: []*securityapi.Rule_To{{Operation: &securityapi.Operation{
				Ports: []string{strconv.Itoa(int(r.mesh.EgressGatewayTLSPort))},
			}}},
			When: []*securityapi.Condition{{Key: "connection.sni", Values: tlsHosts}},
		})
	}
	if len(httpHosts) > 0 {
		rules = append(rules, &securityapi.Rule{
			From: from,
			To: []*securityapi.Rule_To{{Operation: &securityapi.Operation{
				Hosts: httpHosts,
				Ports: []string{strconv.Itoa(int(r.mesh.EgressGatewayHTTPPort))},
			}}},
		})
	}

	// The policy lives in the gateway namespace, so its name carries the
	// scale set's namespace as well as its name.
	meta := r.objectMeta(r.mesh.EgressGatewayNamespace, ComponentGatewayAuthz, "egress")
	meta.Name = objectName(r.ss, r.ss.Namespace, "egress")
	return &istiosecurityv1.AuthorizationPolicy{
		TypeMeta:   istioTypeMeta("security.istio.io", "AuthorizationPolicy"),
		ObjectMeta: meta,
		Spec: securityapi.AuthorizationPolicy{
			Selector: &typeapi.WorkloadSelector{MatchLabels: copyMap(r.mesh.EgressGatewayLabels)},
			Action:   securityapi.AuthorizationPolicy_ALLOW,
			Rules:    rules,
		},
	}
}
