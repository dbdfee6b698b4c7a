package lockdown

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// testPolicy is the ceiling the parser and profile tests run against: the
// default baseline and deny list, three catalog mirrors, host patterns under
// corp.example.com and one CIDR range.
func testPolicy() *egressv1alpha1.EgressPolicySpec {
	policy := DefaultPolicySpec()
	policy.Catalog = []egressv1alpha1.CatalogEntry{
		{
			Name:         "npm-mirror",
			Destinations: []egressv1alpha1.Destination{{Host: "npm.corp.example.com"}},
			Replaces:     []string{"registry.npmjs.org", "registry.yarnpkg.com"},
			Hint:         "npm config set registry https://npm.corp.example.com/",
		},
		{
			Name:         "pypi-mirror",
			Destinations: []egressv1alpha1.Destination{{Host: "pypi.corp.example.com", Ports: []int32{443, 8443}}},
			Replaces:     []string{"pypi.org", "files.pythonhosted.org"},
			Hint:         "pip config set global.index-url https://pypi.corp.example.com/simple",
		},
		{
			Name:         "maven-mirror",
			Destinations: []egressv1alpha1.Destination{{Host: "maven.corp.example.com"}, {Host: "maven-http.corp.example.com", Ports: []int32{80}, Protocol: egressv1alpha1.ProtocolHTTP}},
		},
		{
			Name:         "partner-api",
			Destinations: []egressv1alpha1.Destination{{Host: "api.partner.example.org", Ports: []int32{443}}},
		},
	}
	policy.AllowedHosts = []string{"*.corp.example.com"}
	policy.AllowedCIDRs = []string{"10.20.0.0/16"}
	return &policy
}

func TestParseConfigAcceptsValidFiles(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want *Config
	}{
		{
			name: "version alone is a complete file",
			yaml: "version: 1\n",
			want: &Config{Version: 1},
		},
		{
			name: "mode audit is kept",
			yaml: "version: 1\nmode: audit\n",
			want: &Config{Version: 1, Mode: egressv1alpha1.ModeAudit},
		},
		{
			name: "catalog name and host entries keep their positions",
			yaml: "version: 1\nallow:\n  - npm-mirror\n  - host: artifacts.corp.example.com\n    ports: [8443, 443, 443]\n",
			want: &Config{Version: 1, Allow: []AllowEntry{
				{Name: "npm-mirror", Line: 3, Column: 5},
				{Host: "artifacts.corp.example.com", Ports: []int32{443, 8443}, Protocol: egressv1alpha1.ProtocolTLS, Line: 4, Column: 11},
			}},
		},
		{
			name: "host is lower-cased and loses its trailing dot",
			yaml: "version: 1\nallow:\n  - host: Artifacts.CORP.example.com.\n",
			want: &Config{Version: 1, Allow: []AllowEntry{
				{Host: "artifacts.corp.example.com", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS, Line: 3, Column: 11},
			}},
		},
		{
			name: "international host becomes punycode",
			yaml: "version: 1\nallow:\n  - host: münchen.corp.example.com\n",
			want: &Config{Version: 1, Allow: []AllowEntry{
				{Host: "xn--mnchen-3ya.corp.example.com", Ports: []int32{443}, Protocol: egressv1alpha1.ProtocolTLS, Line: 3, Column: 11},
			}},
		},
		{
			name: "quoted wildcard below a registrable domain is accepted",
			yaml: "version: 1\nallow:\n  - host: \"*.pypi.corp.example.com\"\n    protocol: HTTP\n    ports: [80]\n",
			want: &Config{Version: 1, Allow: []AllowEntry{
				{Host: "*.pypi.corp.example.com", Ports: []int32{80}, Protocol: egressv1alpha1.ProtocolHTTP, Line: 3, Column: 11},
			}},
		},
		{
			name: "IP address inside the allowed CIDRs is accepted",
			yaml: "version: 1\nallow:\n  - host: 10.20.3.4\n    ports: [5432]\n",
			want: &Config{Version: 1, Allow: []AllowEntry{
				{Host: "10.20.3.4", Ports: []int32{5432}, Protocol: egressv1alpha1.ProtocolTLS, Line: 3, Column: 11},
			}},
		},
		{
			name: "empty allow list is accepted",
			yaml: "version: 1\nallow: []\n",
			want: &Config{Version: 1},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := ParseConfig("egress.yaml", []byte(test.yaml), testPolicy())
			if err != nil {
				t.Fatalf("ParseConfig() error:\n%v", err)
			}
			if !reflect.DeepEqual(got, test.want) {
				t.Errorf("ParseConfig() = %+v, want %+v", got, test.want)
			}
		})
	}
}

func TestParseConfigRejectsInvalidFiles(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		// want are substrings of the problems, one a problem, in order.
		want []string
	}{
		{
			name: "unknown top-level key names the closest key",
			yaml: "version: 1\nallowed: []\n",
			want: []string{`egress.yaml:2:1: unknown key (value "allowed"); did you mean "allow"?`},
		},
		{
			name: "unknown entry key names the closest key",
			yaml: "version: 1\nallow:\n  - host: a.corp.example.com\n    port: 443\n",
			want: []string{`egress.yaml:4:5: unknown key (value "port"); did you mean "ports"?`},
		},
		{
			name: "duplicate key names the first line",
			yaml: "version: 1\nmode: audit\nmode: enforce\n",
			want: []string{`egress.yaml:3:1: duplicate key, first set on line 2 (value "mode")`},
		},
		{
			name: "missing version is reported",
			yaml: "mode: audit\n",
			want: []string{`egress.yaml:1:1: missing key version`},
		},
		{
			name: "version 2 is unsupported",
			yaml: "version: 2\n",
			want: []string{`egress.yaml:1:10: unsupported version (value "2"); this arc-lockdown reads version 1`},
		},
		{
			name: "quoted version is the wrong type",
			yaml: "version: \"1\"\n",
			want: []string{`egress.yaml:1:10: version must be the number 1 (value "1"); write "version: 1" without quotes`},
		},
		{
			name: "unknown catalog name names the closest entry",
			yaml: "version: 1\nallow:\n  - npm-mirorr\n",
			want: []string{`egress.yaml:3:5: catalog name not found in the policy (value "npm-mirorr"); did you mean "npm-mirror"?`},
		},
		{
			name: "far-off catalog name lists the valid names",
			yaml: "version: 1\nallow:\n  - rust\n",
			want: []string{`valid catalog names: "maven-mirror", "npm-mirror", "partner-api", "pypi-mirror"`},
		},
		{
			name: "port out of range is reported at the port",
			yaml: "version: 1\nallow:\n  - host: a.corp.example.com\n    ports: [443, 70000]\n",
			want: []string{`egress.yaml:4:18: port is out of range (value "70000")`},
		},
		{
			name: "bare wildcard is rejected",
			yaml: "version: 1\nallow:\n  - host: \"*\"\n",
			want: []string{`egress.yaml:3:11: a bare wildcard would allow every host`},
		},
		{
			name: "wildcard on a public suffix is rejected",
			yaml: "version: 1\nallow:\n  - host: \"*.co.uk\"\n",
			want: []string{`covers every domain registered under the public suffix "co.uk"`},
		},
		{
			name: "IP address outside the CIDRs is rejected",
			yaml: "version: 1\nallow:\n  - host: 192.0.2.1\n",
			want: []string{`egress.yaml:3:11: IP address is outside the policy's allowedCIDRs (value "192.0.2.1"); request the host name, or an address inside 10.20.0.0/16`},
		},
		{
			name: "Cyrillic homoglyph shows the punycode form",
			yaml: "version: 1\nallow:\n  - host: pаypal.com\n",
			want: []string{`(punycode "xn--pypal-4ve.com") mixes Latin and Cyrillic letters in one label`},
		},
		{
			name: "anchor is rejected before any expansion",
			yaml: "version: 1\nallow: &list\n  - npm-mirror\nmode: *list\n",
			want: []string{`egress.yaml:2:8: YAML anchors are not allowed (value "&list")`, `egress.yaml:4:7: YAML aliases are not allowed (value "*list")`},
		},
		{
			name: "second document is rejected",
			yaml: "version: 1\n---\nversion: 1\n",
			want: []string{`egress.yaml:2:1: file contains more than one YAML document`},
		},
		{
			name: "tab indentation gets a hint",
			yaml: "version: 1\nallow:\n\t- npm-mirror\n",
			want: []string{`egress.yaml:3: invalid YAML: found character that cannot start any token; indent with spaces; YAML does not allow tabs`},
		},
		{
			name: "unquoted wildcard gets a hint",
			yaml: "version: 1\nallow:\n  - host: *.corp.example.com\n",
			want: []string{`a value that starts with "*" must be quoted`},
		},
		{
			name: "all problems are reported together",
			yaml: "version: 2\nmode: loud\nallow:\n  - host: \"*.com\"\n",
			want: []string{"1:10: unsupported version", "2:7: unknown mode", "4:11: wildcard"},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			cfg, err := ParseConfig("egress.yaml", []byte(test.yaml), testPolicy())
			if cfg != nil {
				t.Errorf("ParseConfig() returned a config together with problems: %+v", cfg)
			}
			var configErr *ConfigError
			if !errors.As(err, &configErr) {
				t.Fatalf("ParseConfig() error = %v, want a *ConfigError", err)
			}
			if len(configErr.Problems) != len(test.want) {
				t.Fatalf("ParseConfig() found %d problems, want %d:\n%v", len(configErr.Problems), len(test.want), err)
			}
			for i, want := range test.want {
				if got := configErr.Problems[i].String(); !strings.Contains(got, want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got, want)
				}
			}
		})
	}
}

func TestParseConfigWithoutPolicy(t *testing.T) {
	cfg, err := ParseConfig("egress.yaml", []byte("version: 1\nallow:\n  - any-name-at-all\n"), nil)
	if err != nil {
		t.Fatalf("ParseConfig() without a policy rejected a syntactically valid catalog name:\n%v", err)
	}
	if len(cfg.Allow) != 1 || cfg.Allow[0].Name != "any-name-at-all" {
		t.Errorf("Allow = %+v, want the one catalog name", cfg.Allow)
	}

	_, err = ParseConfig("egress.yaml", []byte("version: 1\nallow:\n  - host: 10.20.3.4\n"), nil)
	if err == nil {
		t.Error("ParseConfig() without a policy accepted an IP literal, want it rejected")
	}
}

func TestParseConfigBoundsInput(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{
			name: "file over the size limit is rejected before parsing",
			yaml: "version: 1\n#" + strings.Repeat("x", MaxConfigSize),
			want: "egress.yaml:1:1: file is 65548 bytes, the maximum is 65536",
		},
		{
			name: "allow list over the entry limit is rejected at the first extra entry",
			yaml: "version: 1\nallow:\n" + strings.Repeat("  - npm-mirror\n", MaxAllowEntries+1),
			want: "egress.yaml:259:5: allow has 257 entries, the maximum is 256",
		},
		{
			name: "ports over the limit are rejected",
			yaml: "version: 1\nallow:\n  - host: a.corp.example.com\n    ports: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\n",
			want: "egress.yaml:4:12: ports has 17 entries, the maximum is 16",
		},
		{
			name: "host over 253 characters is rejected",
			yaml: "version: 1\nallow:\n  - host: " + strings.Repeat("a.", 125) + "corp.example.com\n",
			want: "host is 266 characters long, the maximum is 253",
		},
		{
			name: "label over 63 characters is rejected",
			yaml: "version: 1\nallow:\n  - host: " + strings.Repeat("a", 64) + ".corp.example.com\n",
			want: "is 64 characters long, the maximum is 63",
		},
		{
			name: "nesting too deep is rejected with a line",
			yaml: "version: 1\nallow: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n",
			want: "egress.yaml:2: invalid YAML: exceeded max depth",
		},
		{
			name: "exponential alias expansion is rejected at its first anchor",
			yaml: "version: 1\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
			want: "egress.yaml:2:4: YAML anchors are not allowed",
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			_, err := ParseConfig("egress.yaml", []byte(test.yaml), testPolicy())
			if err == nil {
				t.Fatal("ParseConfig() accepted the file")
			}
			if !strings.Contains(err.Error(), test.want) {
				t.Errorf("ParseConfig() error:\n%v\nwant it to contain %q", err, test.want)
			}
		})
	}
}

func TestProblemStringFormat(t *testing.T) {
	tests := []struct {
		name    string
		problem Problem
		want    string
	}{
		{
			name:    "full problem",
			problem: Problem{File: "a.yaml", Line: 3, Column: 5, Value: "x", Message: "bad", Hint: "fix it"},
			want:    `a.yaml:3:5: bad (value "x"); fix it`,
		},
		{
			name:    "problem without column, value or hint",
			problem: Problem{File: "a.yaml", Line: 7, Message: "bad"},
			want:    `a.yaml:7: bad`,
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if got := test.problem.String(); got != test.want {
				t.Errorf("String() = %q, want %q", got, test.want)
			}
		})
	}
}
