package lockdown

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParseAndBound200 measures ParseConfig plus EffectiveProfile on a
// file of 200 entries: catalog names, plain hosts with ports, wildcards and
// HTTP hosts under the test policy.
func BenchmarkParseAndBound200(b *testing.B) {
	var file strings.Builder
	file.WriteString("version: 1\nmode: audit\nallow:\n")
	catalog := []string{"npm-mirror", "pypi-mirror", "maven-mirror", "partner-api"}
	for i := range 200 {
		switch i % 5 {
		case 0:
			fmt.Fprintf(&file, "  - %s\n", catalog[(i/5)%len(catalog)])
		case 1:
			fmt.Fprintf(&file, "  - host: svc-%d.corp.example.com\n    ports: [443, %d]\n", i, 8000+i)
		case 2:
			fmt.Fprintf(&file, "  - host: \"*.team-%d.corp.example.com\"\n", i)
		case 3:
			fmt.Fprintf(&file, "  - host: http-%d.corp.example.com\n    protocol: HTTP\n    ports: [80]\n", i)
		default:
			fmt.Fprintf(&file, "  - host: Mixed-%d.Corp.Example.com.\n", i)
		}
	}
	data := []byte(file.String())
	policy := testPolicy()

	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		cfg, err := ParseConfig("egress.yaml", data, policy)
		if err != nil {
			b.Fatal(err)
		}
		profile := EffectiveProfile(policy, cfg, "ghes.corp.example.com")
		if len(profile.Destinations) < 160 {
			b.Fatalf("profile has %d destinations, want at least 160", len(profile.Destinations))
		}
	}
}
