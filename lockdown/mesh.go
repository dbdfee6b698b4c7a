package lockdown

import (
	"errors"
	"fmt"
	"net/netip"
)

// Service ports of Istio's default egress gateway Service. The Service maps
// them to the pod ports in MeshOptions; VirtualServices and Gateways use
// these, NetworkPolicies and AuthorizationPolicies the pod ports.
const (
	GatewayServiceTLSPort  = 443
	GatewayServiceHTTPPort = 80
)

// MeshOptions describes the Istio installation and cluster services that
// rendered objects refer to.
type MeshOptions struct {
	// EgressGatewayNamespace is the namespace of the egress gateway pods and
	// of the rendered AuthorizationPolicy.
	EgressGatewayNamespace string
	// EgressGatewayLabels select the egress gateway pods.
	EgressGatewayLabels map[string]string
	// EgressGatewayServiceHost is the fully qualified name of the egress
	// gateway Service.
	EgressGatewayServiceHost string
	// EgressGatewayTLSPort and EgressGatewayHTTPPort are the gateway pod
	// ports behind Service ports 443 and 80.
	EgressGatewayTLSPort, EgressGatewayHTTPPort int32

	// IstiodNamespace and IstiodLabels select the istiod pods, which serve
	// xDS and certificates on IstiodPort.
	IstiodNamespace string
	IstiodLabels    map[string]string
	IstiodPort      int32

	// DNSNamespace and DNSLabels select the cluster DNS pods. Port 53 is
	// always allowed over UDP and TCP; DNSExtraPort, when not zero, is a
	// further pod port such as 8053 that some distributions' DNS pods
	// listen on behind Service port 53.
	DNSNamespace string
	DNSLabels    map[string]string
	DNSExtraPort int32

	// APIServerCIDRs and APIServerPorts are the kube-apiserver endpoints
	// that runner pods in kubernetes container mode reach. NetworkPolicy
	// matches endpoint addresses after Service translation, so these are the
	// addresses of the `kubernetes` Service's endpoints, not its ClusterIP.
	APIServerCIDRs []string
	APIServerPorts []int32
	// APIServerHost is the API server's in-cluster name, added to the
	// runner Sidecar's egress hosts in kubernetes mode.
	APIServerHost string

	// TrustDomain is the mesh trust domain of workload principals.
	TrustDomain string

	// AccessLogNamespace and AccessLogLabels select the arc-lockdown
	// controller pods, which receive the sidecars' Envoy gRPC access logs
	// on the pod port AccessLogPort. AccessLogServiceHost is the fully
	// qualified name of the access-log Service in AccessLogNamespace. All
	// four empty turns the access-log rules off, and blocked connections
	// are then not reported.
	AccessLogNamespace   string
	AccessLogLabels      map[string]string
	AccessLogPort        int32
	AccessLogServiceHost string
}

// DefaultMeshOptions returns the names of a default Istio installation
// (istio-system, istio: egressgateway, app: istiod), kube-dns in
// kube-system, the trust domain cluster.local, and the controller of the
// Helm chart installed as release arc-lockdown in namespace
// arc-lockdown-system. APIServerCIDRs is empty: it differs per cluster and
// must be set for kubernetes container mode.
func DefaultMeshOptions() MeshOptions {
	return MeshOptions{
		EgressGatewayNamespace:   "istio-system",
		EgressGatewayLabels:      map[string]string{"istio": "egressgateway"},
		EgressGatewayServiceHost: "istio-egressgateway.istio-system.svc.cluster.local",
		EgressGatewayTLSPort:     8443,
		EgressGatewayHTTPPort:    8080,
		IstiodNamespace:          "istio-system",
		IstiodLabels:             map[string]string{"app": "istiod"},
		IstiodPort:               15012,
		DNSNamespace:             "kube-system",
		DNSLabels:                map[string]string{"k8s-app": "kube-dns"},
		APIServerPorts:           []int32{443, 6443},
		APIServerHost:            "kubernetes.default.svc.cluster.local",
		TrustDomain:              "cluster.local",
		AccessLogNamespace:       "arc-lockdown-system",
		AccessLogLabels: map[string]string{
			"app.kubernetes.io/name":      "arc-lockdown",
			"app.kubernetes.io/instance":  "arc-lockdown",
			"app.kubernetes.io/component": "controller",
		},
		AccessLogPort:        9977,
		AccessLogServiceHost: "arc-lockdown-access-log.arc-lockdown-system.svc.cluster.local",
	}
}

// AccessLogEnabled reports whether any access-log field is set. Validate
// rejects a partly set group, so after Validate a true result means that
// the rendered objects let the sidecars reach the controller.
func (m MeshOptions) AccessLogEnabled() bool {
	return m.AccessLogNamespace != "" || len(m.AccessLogLabels) > 0 ||
		m.AccessLogPort != 0 || m.AccessLogServiceHost != ""
}

// Validate returns every missing or invalid field, joined.
func (m MeshOptions) Validate() error {
	var errs []error
	required := map[string]string{
		"EgressGatewayNamespace":   m.EgressGatewayNamespace,
		"EgressGatewayServiceHost": m.EgressGatewayServiceHost,
		"IstiodNamespace":          m.IstiodNamespace,
		"DNSNamespace":             m.DNSNamespace,
		"TrustDomain":              m.TrustDomain,
	}
	for _, field := range sortedKeys(required) {
		if required[field] == "" {
			errs = append(errs, fmt.Errorf("mesh option %s is empty: set it or start from DefaultMeshOptions()", field))
		}
	}
	selectors := map[string]map[string]string{
		"EgressGatewayLabels": m.EgressGatewayLabels,
		"IstiodLabels":        m.IstiodLabels,
		"DNSLabels":           m.DNSLabels,
	}
	for _, field := range []string{"EgressGatewayLabels", "IstiodLabels", "DNSLabels"} {
		if len(selectors[field]) == 0 {
			errs = append(errs, fmt.Errorf("mesh option %s is empty: an empty selector would match every pod of the namespace", field))
		}
	}
	ports := map[string]int32{
		"EgressGatewayTLSPort":  m.EgressGatewayTLSPort,
		"EgressGatewayHTTPPort": m.EgressGatewayHTTPPort,
		"IstiodPort":            m.IstiodPort,
	}
	for _, field := range sortedKeys(ports) {
		if !validPort(ports[field]) {
			errs = append(errs, fmt.Errorf("mesh option %s is %d: use a port in 1-65535", field, ports[field]))
		}
	}
	if m.DNSExtraPort != 0 && !validPort(m.DNSExtraPort) {
		errs = append(errs, fmt.Errorf("mesh option DNSExtraPort is %d: use a port in 1-65535, or 0 for none", m.DNSExtraPort))
	}
	for _, port := range m.APIServerPorts {
		if !validPort(port) {
			errs = append(errs, fmt.Errorf("mesh option APIServerPorts contains %d: use ports in 1-65535", port))
		}
	}
	for _, cidr := range m.APIServerCIDRs {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			errs = append(errs, fmt.Errorf("mesh option APIServerCIDRs contains invalid CIDR %q: %w", cidr, err))
		}
	}
	errs = append(errs, m.validateAccessLog()...)
	return errors.Join(errs...)
}

// validateAccessLog accepts the access-log fields all set or all empty.
func (m MeshOptions) validateAccessLog() []error {
	if !m.AccessLogEnabled() {
		return nil
	}
	var errs []error
	if m.AccessLogNamespace == "" {
		errs = append(errs, errors.New("mesh option AccessLogNamespace is empty while other AccessLog options are set: set the namespace of the arc-lockdown controller, or leave all four AccessLog options empty"))
	}
	if len(m.AccessLogLabels) == 0 {
		errs = append(errs, errors.New("mesh option AccessLogLabels is empty while other AccessLog options are set: an empty selector would match every pod of the namespace, so set the controller pods' labels"))
	}
	if !validPort(m.AccessLogPort) {
		errs = append(errs, fmt.Errorf("mesh option AccessLogPort is %d: use the controller's access-log pod port in 1-65535 (the chart's controller listens on 9977)", m.AccessLogPort))
	}
	if m.AccessLogServiceHost == "" {
		errs = append(errs, errors.New("mesh option AccessLogServiceHost is empty while other AccessLog options are set: set the fully qualified name of the access-log Service, for example arc-lockdown-access-log.arc-lockdown-system.svc.cluster.local"))
	}
	return errs
}

func validPort(port int32) bool {
	return port >= 1 && port <= 65535
}
