package accesslog

import (
	"net/netip"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	sidecar := ParseStream(sidecarNode("10.244.1.5", "runner-abc", "arc-runners"), "envoy-als")
	gateway := ParseStream(gatewayNode(), "envoy-als")
	pod := netip.MustParseAddr("10.244.1.5")

	tests := []struct {
		name   string
		entry  func() (Entry, bool)
		expect Entry
	}{
		{
			name: "black hole with SNI is blocked",
			entry: func() (Entry, bool) {
				return ClassifyTCP(sidecar, blackHoleTLS("10.244.1.5", "Registry.NPMjs.org.", "104.16.0.1"), now)
			},
			expect: Entry{SourceIP: pod, Host: "registry.npmjs.org", HostSource: HostFromSNI, Port: 443, Verdict: VerdictBlocked, Arrived: now},
		},
		{
			name:   "black hole without SNI falls back to destination IP",
			entry:  func() (Entry, bool) { return ClassifyTCP(sidecar, blackHoleTLS("10.244.1.5", "", "203.0.113.7"), now) },
			expect: Entry{SourceIP: pod, Host: "203.0.113.7", HostSource: HostFromOriginalDestination, Port: 443, Verdict: VerdictBlocked, Arrived: now},
		},
		{
			name: "block_all 502 uses the authority",
			entry: func() (Entry, bool) {
				return ClassifyHTTP(sidecar, blockAllHTTP("10.244.1.5", "example.com:8080", "93.184.216.34"), now)
			},
			expect: Entry{SourceIP: pod, Host: "example.com", HostSource: HostFromAuthority, Port: 8080, Verdict: VerdictBlocked, Arrived: now},
		},
		{
			name:   "gateway TCP denial uses peer address",
			entry:  func() (Entry, bool) { return ClassifyTCP(gateway, gatewayDeniedTCP("10.244.1.5", "pypi.org"), now) },
			expect: Entry{SourceIP: pod, Host: "pypi.org", HostSource: HostFromSNI, Port: 443, Verdict: VerdictDenied, Policy: "ns[istio-system]-policy[arc-runners-egress]-rule[0]", Arrived: now},
		},
		{
			name: "gateway HTTP 403 denial",
			entry: func() (Entry, bool) {
				return ClassifyHTTP(gateway, gatewayDeniedHTTP("10.244.1.5", "example.org"), now)
			},
			expect: Entry{SourceIP: pod, Host: "example.org", HostSource: HostFromAuthority, Port: 80, Verdict: VerdictDenied, Policy: "ns[istio-system]-policy[arc-runners-egress]-rule[0]", Arrived: now},
		},
		{
			name: "passthrough",
			entry: func() (Entry, bool) {
				return ClassifyTCP(sidecar, passthroughTLS("10.244.1.5", "api.example.com", "198.51.100.3"), now)
			},
			expect: Entry{SourceIP: pod, Host: "api.example.com", HostSource: HostFromSNI, Port: 443, Verdict: VerdictPassthrough, Arrived: now},
		},
		{
			name:   "routed to the gateway is allowed",
			entry:  func() (Entry, bool) { return ClassifyTCP(sidecar, allowedTLS("10.244.1.5", "github.com"), now) },
			expect: Entry{SourceIP: pod, Host: "github.com", HostSource: HostFromSNI, Port: 443, Verdict: VerdictAllowed, Arrived: now},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.entry()
			if !ok {
				t.Fatalf("entry was skipped, expected %+v", tt.expect)
			}
			if got != tt.expect {
				t.Errorf("got  %+v\nwant %+v", got, tt.expect)
			}
		})
	}
}

func TestClassifySkipsInbound(t *testing.T) {
	sidecar := ParseStream(sidecarNode("10.244.1.5", "runner-abc", "arc-runners"), "")
	entry := allowedTLS("10.0.0.1", "runner")
	entry.CommonProperties.UpstreamCluster = "inbound|8080||"
	if got, ok := ClassifyTCP(sidecar, entry, time.Now()); ok {
		t.Errorf("inbound entry was classified: %+v", got)
	}
}

func TestParseStreamOfUnknownNodeID(t *testing.T) {
	s := ParseStream(nil, "")
	if s.PodIP.IsValid() || s.Sidecar {
		t.Errorf("stream without node: %+v", s)
	}
}
