package accesslog

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	datav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
)

// Verdict is the outcome of one connection or request.
type Verdict int

const (
	// VerdictAllowed is a connection routed to a destination of the profile.
	VerdictAllowed Verdict = iota
	// VerdictBlocked is a connection the sidecar dropped because of
	// REGISTRY_ONLY: upstream cluster BlackHoleCluster, or an HTTP 502 from
	// the route block_all.
	VerdictBlocked
	// VerdictDenied is a connection the egress gateway's AuthorizationPolicy
	// rejected.
	VerdictDenied
	// VerdictPassthrough is a connection that left the mesh through
	// PassthroughCluster. In audit mode it is reported as would be blocked
	// when its destination is outside the profile.
	VerdictPassthrough
	// VerdictWouldBlock is a passthrough connection to a destination outside
	// the profile. Classify never returns it: the Reporter sets it once it
	// has the job's profile.
	VerdictWouldBlock
)

// String returns the verdict as the check run shows it.
func (v Verdict) String() string {
	switch v {
	case VerdictBlocked:
		return "blocked"
	case VerdictDenied:
		return "denied"
	case VerdictPassthrough:
		return "passthrough"
	case VerdictWouldBlock:
		return "would be blocked"
	default:
		return "allowed"
	}
}

// HostSource is the field of an entry that its destination host was taken
// from.
type HostSource int

const (
	// HostUnknown means the entry named no destination.
	HostUnknown HostSource = iota
	// HostFromSNI is the TLS server name the client sent.
	HostFromSNI
	// HostFromAuthority is the HTTP :authority or Host header.
	HostFromAuthority
	// HostFromOriginalDestination is the destination IP address, used when
	// the entry names no host.
	HostFromOriginalDestination
)

// Envoy names that mark a block. Istio's sidecar routes traffic outside the
// registry to BlackHoleCluster (TCP and TLS) or to the route block_all
// (HTTP, which returns 502). In ALLOW_ANY mode it routes unknown traffic to
// PassthroughCluster.
const (
	clusterBlackHole   = "BlackHoleCluster"
	clusterPassthrough = "PassthroughCluster"
	routeBlockAll      = "block_all"
	rbacDeniedPrefix   = "rbac_access_denied_matched_policy"
)

// Egress gateway pod ports and the Service ports they stand for: Istio's
// egress gateway Service maps 443 to 8443 and 80 to 8080.
var gatewayServicePorts = map[uint32]uint32{8443: 443, 8080: 80}

// Stream describes the Envoy that opened an access-log stream, taken from
// the identifier of the stream's first message.
type Stream struct {
	// NodeID is the Envoy node id, for example
	// "sidecar~10.0.0.5~runner-abc.arc-runners~arc-runners.svc.cluster.local".
	NodeID string
	// LogName is the access-log name configured in Envoy.
	LogName string
	// Sidecar is true for a sidecar ("sidecar~" node id), false for a
	// gateway ("router~").
	Sidecar bool
	// PodIP is the IP address in the node id; invalid when the id has none.
	PodIP netip.Addr
}

// ParseStream reads the node id of a stream's identifier. Node ids that do
// not follow Istio's "<type>~<ip>~<pod>.<namespace>~<domain>" form give a
// Stream without PodIP, and entries are then attributed by their downstream
// address.
func ParseStream(node *corev3.Node, logName string) Stream {
	s := Stream{NodeID: node.GetId(), LogName: logName}
	parts := strings.Split(s.NodeID, "~")
	if len(parts) >= 2 {
		s.Sidecar = parts[0] == "sidecar"
		if ip, err := netip.ParseAddr(parts[1]); err == nil {
			s.PodIP = ip.Unmap()
		}
	}
	return s
}

// Entry is one classified access-log entry.
type Entry struct {
	// SourceIP is the pod that opened the connection.
	SourceIP netip.Addr
	// Host is the destination: a lower-case host name, or an IP address
	// when HostSource is HostFromOriginalDestination. It is untrusted input
	// and is escaped wherever it is shown.
	Host string
	// HostSource is the field Host was taken from.
	HostSource HostSource
	// Port is the destination port; 0 when unknown.
	Port uint32
	// Verdict is the outcome of the connection.
	Verdict Verdict
	// Policy is the AuthorizationPolicy that denied the connection, as
	// Envoy reports it; set for VerdictDenied.
	Policy string
	// Arrived is when the server received the entry.
	Arrived time.Time
}

// maxHostLength bounds a host taken from a log entry. DNS names are at most
// 253 characters; anything longer is cut so that hostile input cannot grow
// per-destination state.
const maxHostLength = 253

// ClassifyHTTP classifies one HTTP access-log entry. It returns false for
// entries without egress information: inbound traffic of the pod, or an
// entry with no destination.
func ClassifyHTTP(s Stream, e *datav3.HTTPAccessLogEntry, now time.Time) (Entry, bool) {
	common := e.GetCommonProperties()
	if isInbound(common) {
		return Entry{}, false
	}
	entry := baseEntry(s, common, now)

	if authority := e.GetRequest().GetAuthority(); authority != "" && entry.HostSource != HostFromSNI {
		host, port := splitAuthority(authority)
		if host != "" {
			entry.Host = normalizeHost(host)
			entry.HostSource = HostFromAuthority
			if port != 0 {
				entry.Port = port
			}
		}
	}

	details := e.GetResponse().GetResponseCodeDetails()
	code := e.GetResponse().GetResponseCode().GetValue()
	switch {
	case strings.HasPrefix(details, rbacDeniedPrefix):
		entry.Verdict = VerdictDenied
		entry.Policy = policyName(details)
	case common.GetUpstreamCluster() == clusterBlackHole:
		entry.Verdict = VerdictBlocked
	case common.GetRouteName() == routeBlockAll && (code == 502 || code == 0):
		entry.Verdict = VerdictBlocked
	case isPassthrough(common):
		entry.Verdict = VerdictPassthrough
	default:
		entry.Verdict = VerdictAllowed
	}
	return entry, entry.Host != ""
}

// ClassifyTCP classifies one TCP access-log entry, which covers TLS passed
// through by SNI. It returns false for inbound traffic of the pod and for
// an entry with no destination.
func ClassifyTCP(s Stream, e *datav3.TCPAccessLogEntry, now time.Time) (Entry, bool) {
	common := e.GetCommonProperties()
	if isInbound(common) {
		return Entry{}, false
	}
	entry := baseEntry(s, common, now)

	flags := common.GetResponseFlags()
	switch {
	case strings.HasPrefix(common.GetConnectionTerminationDetails(), rbacDeniedPrefix):
		entry.Verdict = VerdictDenied
		entry.Policy = policyName(common.GetConnectionTerminationDetails())
	case common.GetUpstreamCluster() == clusterBlackHole:
		entry.Verdict = VerdictBlocked
	case s.Sidecar && common.GetUpstreamCluster() == "" && flags.GetNoHealthyUpstream():
		// Some Envoy versions leave the cluster name out of a BlackHole
		// entry; UH without a cluster on a sidecar's outbound listener is
		// the same block.
		entry.Verdict = VerdictBlocked
	case isPassthrough(common):
		entry.Verdict = VerdictPassthrough
	default:
		entry.Verdict = VerdictAllowed
	}
	return entry, entry.Host != ""
}

// baseEntry fills the source, the destination from SNI or the original
// destination address, and the port.
func baseEntry(s Stream, common *datav3.AccessLogCommon, now time.Time) Entry {
	entry := Entry{Arrived: now}

	// A sidecar's own pod is the source. At the gateway the peer address
	// is the sidecar's pod IP, because sidecars connect to it directly.
	if s.Sidecar && s.PodIP.IsValid() {
		entry.SourceIP = s.PodIP
	} else if ip, _, ok := socketAddress(common.GetDownstreamRemoteAddress()); ok {
		entry.SourceIP = ip
	}

	local, localPort, hasLocal := socketAddress(common.GetDownstreamLocalAddress())
	if hasLocal {
		entry.Port = localPort
		if !s.Sidecar {
			if port, ok := gatewayServicePorts[localPort]; ok {
				entry.Port = port
			}
		}
	}
	if upstream, upstreamPort, ok := socketAddress(common.GetUpstreamRemoteAddress()); ok && s.Sidecar && isPassthrough(common) {
		local, entry.Port, hasLocal = upstream, upstreamPort, true
	}

	if sni := common.GetTlsProperties().GetTlsSniHostname(); sni != "" {
		entry.Host = normalizeHost(sni)
		entry.HostSource = HostFromSNI
	} else if hasLocal && s.Sidecar {
		entry.Host = local.String()
		entry.HostSource = HostFromOriginalDestination
	}
	return entry
}

func isInbound(common *datav3.AccessLogCommon) bool {
	cluster := common.GetUpstreamCluster()
	return strings.HasPrefix(cluster, "inbound|") || cluster == "InboundPassthroughCluster" ||
		strings.HasPrefix(cluster, "InboundPassthroughCluster")
}

func isPassthrough(common *datav3.AccessLogCommon) bool {
	return strings.HasPrefix(common.GetUpstreamCluster(), clusterPassthrough)
}

func socketAddress(a *corev3.Address) (netip.Addr, uint32, bool) {
	sa := a.GetSocketAddress()
	if sa == nil {
		return netip.Addr{}, 0, false
	}
	ip, err := netip.ParseAddr(sa.GetAddress())
	if err != nil {
		return netip.Addr{}, 0, false
	}
	return ip.Unmap(), sa.GetPortValue(), true
}

// splitAuthority splits "host:port" and "[v6]:port"; a port that is not a
// number is ignored.
func splitAuthority(authority string) (string, uint32) {
	host, portText, err := net.SplitHostPort(authority)
	if err != nil {
		return strings.Trim(authority, "[]"), 0
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return host, 0
	}
	return host, uint32(port)
}

// normalizeHost lower-cases a host, drops a trailing dot and cuts it to
// maxHostLength bytes. It does not validate: escaping happens on output.
func normalizeHost(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if len(host) > maxHostLength {
		host = host[:maxHostLength]
	}
	return host
}

// policyName extracts "ns.name" from Envoy's
// "rbac_access_denied_matched_policy[ns-name.rule]" details, or returns ""
// when the details carry no policy name.
func policyName(details string) string {
	open := strings.IndexByte(details, '[')
	end := strings.LastIndexByte(details, ']')
	if open < 0 || end <= open+1 {
		return ""
	}
	name := details[open+1 : end]
	if len(name) > maxHostLength {
		name = name[:maxHostLength]
	}
	return name
}
