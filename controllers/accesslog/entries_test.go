package accesslog

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	datav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Builders of Envoy access-log entries as Istio's sidecars and gateways
// send them.

func address(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

// blackHoleTLS is a TLS connection from podIP to dstIP:443 with SNI that
// REGISTRY_ONLY sent to BlackHoleCluster.
func blackHoleTLS(podIP, sni, dstIP string) *datav3.TCPAccessLogEntry {
	common := &datav3.AccessLogCommon{
		DownstreamRemoteAddress: address(podIP, 40000),
		DownstreamLocalAddress:  address(dstIP, 443),
		UpstreamCluster:         "BlackHoleCluster",
		ResponseFlags:           &datav3.ResponseFlags{NoHealthyUpstream: true},
	}
	if sni != "" {
		common.TlsProperties = &datav3.TLSProperties{TlsSniHostname: sni}
	}
	return &datav3.TCPAccessLogEntry{CommonProperties: common}
}

// passthroughTLS is a TLS connection that left the mesh through
// PassthroughCluster (ALLOW_ANY, audit mode).
func passthroughTLS(podIP, sni, dstIP string) *datav3.TCPAccessLogEntry {
	return &datav3.TCPAccessLogEntry{CommonProperties: &datav3.AccessLogCommon{
		DownstreamRemoteAddress: address(podIP, 40001),
		DownstreamLocalAddress:  address(dstIP, 443),
		UpstreamRemoteAddress:   address(dstIP, 443),
		UpstreamCluster:         "PassthroughCluster",
		TlsProperties:           &datav3.TLSProperties{TlsSniHostname: sni},
	}}
}

// allowedTLS is a TLS connection routed to the egress gateway.
func allowedTLS(podIP, sni string) *datav3.TCPAccessLogEntry {
	return &datav3.TCPAccessLogEntry{CommonProperties: &datav3.AccessLogCommon{
		DownstreamRemoteAddress: address(podIP, 40002),
		DownstreamLocalAddress:  address("10.96.0.20", 443),
		UpstreamCluster:         "outbound|443|egress|istio-egressgateway.istio-system.svc.cluster.local",
		TlsProperties:           &datav3.TLSProperties{TlsSniHostname: sni},
	}}
}

// blockAllHTTP is a plain HTTP request that the route block_all rejected
// with 502.
func blockAllHTTP(podIP, authority, dstIP string) *datav3.HTTPAccessLogEntry {
	return &datav3.HTTPAccessLogEntry{
		CommonProperties: &datav3.AccessLogCommon{
			DownstreamRemoteAddress: address(podIP, 40003),
			DownstreamLocalAddress:  address(dstIP, 80),
			RouteName:               "block_all",
		},
		Request:  &datav3.HTTPRequestProperties{Authority: authority, Path: "/"},
		Response: &datav3.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(502)},
	}
}

// gatewayDeniedTCP is a connection the egress gateway's
// AuthorizationPolicy closed, as the gateway logs it.
func gatewayDeniedTCP(peerIP, sni string) *datav3.TCPAccessLogEntry {
	return &datav3.TCPAccessLogEntry{CommonProperties: &datav3.AccessLogCommon{
		DownstreamRemoteAddress:      address(peerIP, 50000),
		DownstreamLocalAddress:       address("10.244.9.9", 8443),
		TlsProperties:                &datav3.TLSProperties{TlsSniHostname: sni},
		ConnectionTerminationDetails: "rbac_access_denied_matched_policy[ns[istio-system]-policy[arc-runners-egress]-rule[0]]",
	}}
}

// gatewayDeniedHTTP is an HTTP request that the gateway rejected with 403.
func gatewayDeniedHTTP(peerIP, authority string) *datav3.HTTPAccessLogEntry {
	return &datav3.HTTPAccessLogEntry{
		CommonProperties: &datav3.AccessLogCommon{
			DownstreamRemoteAddress: address(peerIP, 50001),
			DownstreamLocalAddress:  address("10.244.9.9", 8080),
		},
		Request: &datav3.HTTPRequestProperties{Authority: authority},
		Response: &datav3.HTTPResponseProperties{
			ResponseCode:        wrapperspb.UInt32(403),
			ResponseCodeDetails: "rbac_access_denied_matched_policy[ns[istio-system]-policy[arc-runners-egress]-rule[0]]",
		},
	}
}

func sidecarNode(podIP, pod, namespace string) *corev3.Node {
	return &corev3.Node{Id: "sidecar~" + podIP + "~" + pod + "." + namespace + "~" + namespace + ".svc.cluster.local"}
}

func gatewayNode() *corev3.Node {
	return &corev3.Node{Id: "router~10.244.9.9~istio-egressgateway-5d8f.istio-system~istio-system.svc.cluster.local"}
}

func identifier(node *corev3.Node) *accesslogv3.StreamAccessLogsMessage_Identifier {
	return &accesslogv3.StreamAccessLogsMessage_Identifier{Node: node, LogName: "envoy-als"}
}

func tcpMessage(id *accesslogv3.StreamAccessLogsMessage_Identifier, entries ...*datav3.TCPAccessLogEntry) *accesslogv3.StreamAccessLogsMessage {
	return &accesslogv3.StreamAccessLogsMessage{
		Identifier: id,
		LogEntries: &accesslogv3.StreamAccessLogsMessage_TcpLogs{TcpLogs: &accesslogv3.StreamAccessLogsMessage_TCPAccessLogEntries{LogEntry: entries}},
	}
}

func httpMessage(id *accesslogv3.StreamAccessLogsMessage_Identifier, entries ...*datav3.HTTPAccessLogEntry) *accesslogv3.StreamAccessLogsMessage {
	return &accesslogv3.StreamAccessLogsMessage{
		Identifier: id,
		LogEntries: &accesslogv3.StreamAccessLogsMessage_HttpLogs{HttpLogs: &accesslogv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: entries}},
	}
}
