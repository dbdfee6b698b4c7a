package lockdown_test

import (
	"fmt"
	"testing"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// BenchmarkRender200Destinations renders a profile of 200 destinations:
// 150 TLS hosts, 40 HTTP hosts and 10 wildcards.
func BenchmarkRender200Destinations(b *testing.B) {
	p := lockdown.Profile{Mode: egressv1alpha1.ModeEnforce}
	for i := 0; i < 200; i++ {
		d := lockdown.Destination{Host: fmt.Sprintf("host-%03d.corp.example.com", i), Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS}
		switch {
		case i >= 190:
			d.Host = fmt.Sprintf("*.zone-%03d.corp.example.com", i)
		case i >= 150:
			d.Ports, d.Protocol = []int32{80}, egressv1alpha1.ProtocolHTTP
		}
		p.Destinations = append(p.Destinations, d)
	}
	ss := testScaleSet("arc-runners", "bench", lockdown.ContainerModeKubernetes)
	mesh := testMesh()

	out, err := lockdown.Render(ss, p, mesh)
	if err != nil {
		b.Fatal(err)
	}
	// 2 NetworkPolicies, the Sidecar, 200 ServiceEntries and
	// VirtualServices, the DestinationRule, Gateway and AuthorizationPolicy.
	if len(out.Objects) != 2+1+200+200+3 {
		b.Fatalf("rendered %d objects, want 406", len(out.Objects))
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := lockdown.Render(ss, p, mesh); err != nil {
			b.Fatal(err)
		}
	}
}
