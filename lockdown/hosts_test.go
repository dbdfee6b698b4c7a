package lockdown

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNormalizeHost(t *testing.T) {
	cidrs := []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("fd00:20::/32")}
	tests := []struct {
		name    string
		raw     string
		rules   hostRules
		want    string
		wantErr string
	}{
		{name: "plain name is kept", raw: "artifacts.example.com", want: "artifacts.example.com"},
		{name: "upper case is lowered", raw: "Artifacts.EXAMPLE.com", want: "artifacts.example.com"},
		{name: "trailing dot is removed", raw: "artifacts.example.com.", want: "artifacts.example.com"},
		{name: "international name becomes punycode", raw: "bücher.example.de", want: "xn--bcher-kva.example.de"},
		{name: "wildcard below a registrable domain is kept", raw: "*.pypi.corp.example.com", want: "*.pypi.corp.example.com"},
		{name: "wildcard on a registrable domain is kept", raw: "*.example.com", want: "*.example.com"},
		{name: "IPv4 inside a CIDR is kept", raw: "10.20.1.2", rules: hostRules{allowedCIDRs: cidrs}, want: "10.20.1.2"},
		{name: "bracketed IPv6 inside a CIDR is kept", raw: "[FD00:20::1]", rules: hostRules{allowedCIDRs: cidrs}, want: "fd00:20::1"},
		{name: "trusted wildcard on a public suffix is kept", raw: "*.blob.core.windows.net", rules: hostRules{trusted: true}, want: "*.blob.core.windows.net"},
		{name: "trusted IP literal is kept", raw: "192.0.2.1", rules: hostRules{trusted: true}, want: "192.0.2.1"},

		{name: "empty host is rejected", raw: "", wantErr: "host is empty"},
		{name: "bare wildcard is rejected", raw: "*", wantErr: "bare wildcard"},
		{name: "wildcard on com is rejected", raw: "*.com", wantErr: "public suffix \"com\""},
		{name: "wildcard on co.uk is rejected", raw: "*.co.uk", wantErr: "public suffix \"co.uk\""},
		{name: "wildcard on github.io is rejected", raw: "*.github.io", wantErr: "public suffix \"github.io\""},
		{name: "wildcard on blob storage is rejected for repositories", raw: "*.blob.core.windows.net", wantErr: "public suffix"},
		{name: "wildcard on an unlisted top-level domain is rejected", raw: "*.corp", wantErr: "public suffix \"corp\""},
		{name: "wildcard in the middle is rejected", raw: "a.*.example.com", wantErr: "only as the whole first label"},
		{name: "partial wildcard label is rejected", raw: "api-*.example.com", wantErr: "only as the whole first label"},
		{name: "IPv4 without CIDRs is rejected", raw: "198.51.100.7", wantErr: "IP address literals are not allowed"},
		{name: "full-width letters are rejected", raw: "ｅｘａｍｐｌｅ.com", wantErr: "disallowed rune"},
		{name: "IPv4 outside the CIDRs is rejected", raw: "10.21.0.1", rules: hostRules{allowedCIDRs: cidrs}, wantErr: "outside the policy's allowedCIDRs"},
		{name: "IPv4-mapped IPv6 is checked as IPv4", raw: "::ffff:198.51.100.7", rules: hostRules{allowedCIDRs: cidrs}, wantErr: "outside the policy's allowedCIDRs"},
		{name: "invalid IPv4 is rejected", raw: "300.1.1.1", wantErr: "not a valid one"},
		{name: "URL is rejected", raw: "https://example.com", wantErr: "host is a URL"},
		{name: "port is rejected", raw: "example.com:443", wantErr: "host contains a port"},
		{name: "space is rejected", raw: "exa mple.com", wantErr: "white space"},
		{name: "two trailing dots are rejected", raw: "example.com..", wantErr: "more than one dot"},
		{name: "single label is rejected", raw: "localhost", wantErr: "single label"},
		{name: "underscore is rejected", raw: "a_b.example.com", wantErr: "invalid host name"},
		{name: "leading hyphen is rejected", raw: "-a.example.com", wantErr: "invalid host name"},
		{name: "label of 64 characters is rejected", raw: strings.Repeat("a", 64) + ".com", wantErr: "the maximum is 63"},
		{name: "name of 254 characters is rejected", raw: strings.Repeat("abc.", 62) + "abcde.com", wantErr: "the maximum is 253"},
		{name: "mixed Latin and Cyrillic is rejected", raw: "pаypal.com", wantErr: `"xn--pypal-4ve.com") mixes Latin and Cyrillic`},
		{name: "mixed-script punycode is rejected", raw: "xn--pypal-4ve.com", wantErr: "mixes Latin and Cyrillic"},
		{name: "Greek lookalike label is rejected", raw: "ναν.com", wantErr: "Greek letters that look like Latin ones"},
		{name: "invalid punycode is rejected", raw: "xn--zz.example.com", wantErr: "invalid host name"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, problem := normalizeHost(test.raw, test.rules)
			if test.wantErr != "" {
				if problem == nil {
					t.Fatalf("normalizeHost(%q) = %q, want an error containing %q", test.raw, got, test.wantErr)
				}
				if !strings.Contains(problem.message, test.wantErr) {
					t.Errorf("normalizeHost(%q) error = %q, want it to contain %q", test.raw, problem.message, test.wantErr)
				}
				if problem.hint == "" {
					t.Errorf("normalizeHost(%q) error has no hint", test.raw)
				}
				return
			}
			if problem != nil {
				t.Fatalf("normalizeHost(%q) error = %q (%s)", test.raw, problem.message, problem.hint)
			}
			if got != test.want {
				t.Errorf("normalizeHost(%q) = %q, want %q", test.raw, got, test.want)
			}
		})
	}
}

func TestPatternCovers(t *testing.T) {
	tests := []struct {
		pattern, host string
		want          bool
	}{
		{"example.com", "example.com", true},
		{"example.com", "a.example.com", false},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "badexample.com", false},
		{"*.example.com", "*.example.com", true},
		{"*.example.com", "*.a.example.com", true},
		{"*.a.example.com", "*.example.com", false},
		{"a.example.com", "*.example.com", false},
	}
	for _, test := range tests {
		if got := patternCovers(test.pattern, test.host); got != test.want {
			t.Errorf("patternCovers(%q, %q) = %v, want %v", test.pattern, test.host, got, test.want)
		}
	}
}
