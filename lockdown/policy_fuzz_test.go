package lockdown

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// fuzzPolicy is testPolicy with conflicts added on purpose: an allowed
// pattern over a denied registry, a denied subtree inside an allowed one,
// and a catalog entry whose destinations include a denied host.
func fuzzPolicy() *egressv1alpha1.EgressPolicySpec {
	policy := testPolicy()
	policy.AllowedHosts = append(policy.AllowedHosts, "*.npmjs.org", "*.docker.io", "exact.example.net")
	policy.Deny = append(policy.Deny, "*.secrets.corp.example.com", "vault.corp.example.com")
	policy.Catalog = append(policy.Catalog, egressv1alpha1.CatalogEntry{
		Name: "mixed",
		Destinations: []egressv1alpha1.Destination{
			{Host: "ok.partner.example.org"},
			{Host: "registry.npmjs.org"},
			{Host: "*.secrets.corp.example.com"},
		},
	})
	policy.AllowedCIDRs = append(policy.AllowedCIDRs, "2001:db8:20::/48")
	return policy
}

// FuzzEffectiveProfile checks that no repository file, whatever its content,
// yields a profile with a destination outside baseline ∪ ceiling or a host
// the deny list matches. The checker below matches names label by label,
// written apart from the production matcher on purpose.
func FuzzEffectiveProfile(f *testing.F) {
	for _, pattern := range []string{"testdata/config/good/*.yaml", "testdata/config/bad/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("version: 1\nallow:\n  - mixed\n  - host: \"*.npmjs.org\"\n  - host: \"*.corp.example.com\"\n  - host: a.secrets.corp.example.com\n"))

	const githubHost = "ghes.corp.example.com"
	policy := fuzzPolicy()
	checker := newCeilingChecker(policy, githubHost)

	f.Fuzz(func(t *testing.T, data []byte) {
		// The file is parsed both with the policy and without it, so that
		// names and hosts the parser would reject still reach
		// EffectiveProfile through the second path.
		for _, parsePolicy := range []*egressv1alpha1.EgressPolicySpec{policy, nil} {
			cfg, err := ParseConfig("fuzz.yaml", data, parsePolicy)
			if err != nil {
				cfg = nil
			}
			profile := EffectiveProfile(policy, cfg, githubHost)
			checker.check(t, profile)
		}
	})
}

// ceilingChecker is the fuzz test's own model of the ceiling.
type ceilingChecker struct {
	policy   *egressv1alpha1.EgressPolicySpec
	baseline map[string]bool // "protocol host port"
	cidrs    []*net.IPNet
}

func newCeilingChecker(policy *egressv1alpha1.EgressPolicySpec, githubHost string) *ceilingChecker {
	checker := &ceilingChecker{policy: policy, baseline: map[string]bool{}}
	for _, destination := range policy.Baseline {
		for _, port := range portsOrDefault(destination.Ports) {
			checker.baseline[baselineKey(protocolOrDefault(destination.Protocol), strings.ToLower(destination.Host), port)] = true
		}
	}
	checker.baseline[baselineKey(egressv1alpha1.ProtocolTLS, githubHost, 443)] = true
	for _, cidr := range policy.AllowedCIDRs {
		_, network, err := net.ParseCIDR(cidr)
		if err != nil {
			panic(err)
		}
		checker.cidrs = append(checker.cidrs, network)
	}
	return checker
}

func baselineKey(protocol egressv1alpha1.Protocol, host string, port int32) string {
	return fmt.Sprintf("%s %s %d", protocol, host, port)
}

func portsOrDefault(ports []int32) []int32 {
	if len(ports) == 0 {
		return []int32{443}
	}
	return ports
}

func protocolOrDefault(protocol egressv1alpha1.Protocol) egressv1alpha1.Protocol {
	if protocol == "" {
		return egressv1alpha1.ProtocolTLS
	}
	return protocol
}

func (c *ceilingChecker) check(t *testing.T, profile Profile) {
	t.Helper()
	if profile.Mode != egressv1alpha1.ModeEnforce && profile.Mode != egressv1alpha1.ModeAudit {
		t.Errorf("Mode = %q, want enforce or audit", profile.Mode)
	}
	for _, dropped := range profile.Dropped {
		if dropped.Reason == "" {
			t.Errorf("dropped entry %q has no reason", dropped.Entry)
		}
	}
	for _, destination := range profile.Destinations {
		if destination.Host == "" || destination.Host == "*" || len(destination.Ports) == 0 {
			t.Errorf("malformed destination %+v", destination)
			continue
		}
		for _, port := range destination.Ports {
			if port < 1 || port > 65535 {
				t.Errorf("destination %s has port %d", destination.Host, port)
			}
			if c.baseline[baselineKey(destination.Protocol, destination.Host, port)] {
				continue
			}
			if denied := c.deniedBy(destination.Host); denied != "" {
				t.Errorf("destination %s port %d (source %s) overlaps deny pattern %s", destination.Host, port, destination.Source, denied)
			}
			if !c.withinCeiling(destination.Host, destination.Protocol, port) {
				t.Errorf("destination %s %s port %d (source %s) is outside baseline ∪ ceiling", destination.Protocol, destination.Host, port, destination.Source)
			}
		}
	}
}

// labels splits a host into its labels, last label first, and reports whether
// it was a wildcard.
func labels(host string) ([]string, bool) {
	wildcard := strings.HasPrefix(host, "*.")
	host = strings.TrimPrefix(host, "*.")
	parts := strings.Split(host, ".")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return parts, wildcard
}

// hasLabelPrefix reports whether reversed labels a start with b.
func hasLabelPrefix(a, b []string) bool {
	if len(a) < len(b) {
		return false
	}
	for i := range b {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// within reports whether every name host can match is matched by pattern;
// a wildcard matches one or more extra labels.
func within(host, pattern string) bool {
	hostLabels, hostWildcard := labels(host)
	patternLabels, patternWildcard := labels(pattern)
	switch {
	case !patternWildcard:
		return !hostWildcard && host == pattern
	case hostWildcard:
		return hasLabelPrefix(hostLabels, patternLabels)
	default:
		return len(hostLabels) > len(patternLabels) && hasLabelPrefix(hostLabels, patternLabels)
	}
}

func (c *ceilingChecker) deniedBy(host string) string {
	for _, pattern := range c.policy.Deny {
		pattern = strings.ToLower(pattern)
		if within(host, pattern) || within(pattern, host) {
			return pattern
		}
	}
	return ""
}

func (c *ceilingChecker) withinCeiling(host string, protocol egressv1alpha1.Protocol, port int32) bool {
	if ip := net.ParseIP(host); ip != nil {
		for _, network := range c.cidrs {
			if network.Contains(ip) {
				return true
			}
		}
		return false
	}
	for _, pattern := range c.policy.AllowedHosts {
		if within(host, strings.ToLower(pattern)) {
			return true
		}
	}
	for _, entry := range c.policy.Catalog {
		for _, destination := range entry.Destinations {
			if protocolOrDefault(destination.Protocol) != protocol || !within(host, strings.ToLower(destination.Host)) {
				continue
			}
			for _, allowed := range portsOrDefault(destination.Ports) {
				if allowed == port {
					return true
				}
			}
		}
	}
	return false
}
