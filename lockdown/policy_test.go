package lockdown

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

func findDestination(profile Profile, host string, protocol egressv1alpha1.Protocol) (Destination, bool) {
	for _, destination := range profile.Destinations {
		if destination.Host == host && destination.Protocol == protocol {
			return destination, true
		}
	}
	return Destination{}, false
}

func mustParse(t *testing.T, yaml string, policy *egressv1alpha1.EgressPolicySpec) *Config {
	t.Helper()
	cfg, err := ParseConfig("egress.yaml", []byte(yaml), policy)
	if err != nil {
		t.Fatalf("ParseConfig() error:\n%v", err)
	}
	return cfg
}

func TestEffectiveProfileKeepsAllowedRequests(t *testing.T) {
	tls, http := egressv1alpha1.ProtocolTLS, egressv1alpha1.ProtocolHTTP
	tests := []struct {
		name string
		yaml string
		want []Destination
	}{
		{
			name: "catalog name expands to its destinations",
			yaml: "version: 1\nallow:\n  - maven-mirror\n",
			want: []Destination{
				{Host: "maven.corp.example.com", Ports: []int32{443}, Protocol: tls, Source: SourceCatalog, CatalogName: "maven-mirror"},
				{Host: "maven-http.corp.example.com", Ports: []int32{80}, Protocol: http, Source: SourceCatalog, CatalogName: "maven-mirror"},
			},
		},
		{
			name: "host under an allowed pattern is kept with its ports",
			yaml: "version: 1\nallow:\n  - host: artifacts.corp.example.com\n    ports: [443, 8443]\n",
			want: []Destination{{Host: "artifacts.corp.example.com", Ports: []int32{443, 8443}, Protocol: tls, Source: SourceRepository}},
		},
		{
			name: "wildcard under an allowed pattern is kept",
			yaml: "version: 1\nallow:\n  - host: \"*.pypi.corp.example.com\"\n",
			want: []Destination{{Host: "*.pypi.corp.example.com", Ports: []int32{443}, Protocol: tls, Source: SourceRepository}},
		},
		{
			name: "host of a catalog entry is kept on the entry's ports",
			yaml: "version: 1\nallow:\n  - host: api.partner.example.org\n",
			want: []Destination{{Host: "api.partner.example.org", Ports: []int32{443}, Protocol: tls, Source: SourceRepository}},
		},
		{
			name: "IP address inside the CIDRs is kept",
			yaml: "version: 1\nallow:\n  - host: 10.20.3.4\n    ports: [5432]\n",
			want: []Destination{{Host: "10.20.3.4", Ports: []int32{5432}, Protocol: tls, Source: SourceRepository}},
		},
		{
			name: "duplicate hosts merge their ports",
			yaml: "version: 1\nallow:\n  - host: a.corp.example.com\n    ports: [8443]\n  - host: A.corp.example.com.\n    ports: [443]\n",
			want: []Destination{{Host: "a.corp.example.com", Ports: []int32{443, 8443}, Protocol: tls, Source: SourceRepository}},
		},
		{
			name: "catalog name and the same host by name keep the catalog source",
			yaml: "version: 1\nallow:\n  - host: npm.corp.example.com\n  - npm-mirror\n",
			want: []Destination{{Host: "npm.corp.example.com", Ports: []int32{443}, Protocol: tls, Source: SourceCatalog, CatalogName: "npm-mirror"}},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			policy := testPolicy()
			profile := EffectiveProfile(policy, mustParse(t, test.yaml, policy), "")
			if len(profile.Dropped) != 0 {
				t.Errorf("Dropped = %+v, want none", profile.Dropped)
			}
			if got, want := len(profile.Destinations), len(DefaultBaseline())+len(test.want); got != want {
				t.Errorf("profile has %d destinations, want %d (baseline plus request)", got, want)
			}
			for _, want := range test.want {
				got, ok := findDestination(profile, want.Host, want.Protocol)
				if !ok {
					t.Errorf("profile lacks %s %s", want.Protocol, want.Host)
					continue
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("destination = %+v, want %+v", got, want)
				}
			}
		})
	}
}

func TestEffectiveProfileDropsWithReason(t *testing.T) {
	tests := []struct {
		name       string
		policy     func(*egressv1alpha1.EgressPolicySpec)
		yaml       string
		wantEntry  string
		wantReason string
		wantDenied bool
		// wantKept is a host that must stay in the profile despite the drop.
		wantKept string
	}{
		{
			name:       "host outside the allowed patterns",
			yaml:       "version: 1\nallow:\n  - host: artifacts.example.net\n",
			wantEntry:  "artifacts.example.net",
			wantReason: "outside the hosts the policy lets repositories add (*.corp.example.com); ask the cluster administrator to allow it",
		},
		{
			name:       "host when the policy allows none by name",
			policy:     func(p *egressv1alpha1.EgressPolicySpec) { p.AllowedHosts = nil },
			yaml:       "version: 1\nallow:\n  - host: artifacts.corp.example.com\n",
			wantEntry:  "artifacts.corp.example.com",
			wantReason: "lets repositories add no hosts by name; use a catalog name",
		},
		{
			name:       "denied host even when an allowed pattern covers it",
			policy:     func(p *egressv1alpha1.EgressPolicySpec) { p.AllowedHosts = append(p.AllowedHosts, "*.npmjs.org") },
			yaml:       "version: 1\nallow:\n  - host: registry.npmjs.org\n",
			wantEntry:  "registry.npmjs.org",
			wantReason: `on the policy's deny list; use catalog entry "npm-mirror" instead`,
			wantDenied: true,
		},
		{
			name:       "wildcard that covers a denied host",
			policy:     func(p *egressv1alpha1.EgressPolicySpec) { p.AllowedHosts = append(p.AllowedHosts, "*.npmjs.org") },
			yaml:       "version: 1\nallow:\n  - host: \"*.npmjs.org\"\n",
			wantEntry:  "*.npmjs.org",
			wantReason: "*.npmjs.org would reach registry.npmjs.org",
			wantDenied: true,
		},
		{
			name:       "host under a denied wildcard",
			policy:     func(p *egressv1alpha1.EgressPolicySpec) { p.Deny = append(p.Deny, "*.secrets.corp.example.com") },
			yaml:       "version: 1\nallow:\n  - host: vault.eu.secrets.corp.example.com\n",
			wantEntry:  "vault.eu.secrets.corp.example.com",
			wantReason: "would reach *.secrets.corp.example.com",
			wantDenied: true,
		},
		{
			name:       "catalog destination on the deny list",
			policy:     func(p *egressv1alpha1.EgressPolicySpec) { p.Deny = append(p.Deny, "maven.corp.example.com") },
			yaml:       "version: 1\nallow:\n  - maven-mirror\n",
			wantEntry:  "maven-mirror: maven.corp.example.com",
			wantReason: "the administrator should fix the catalog or the deny list",
			wantDenied: true,
			wantKept:   "maven-http.corp.example.com",
		},
		{
			name:       "catalog name the policy lacks",
			yaml:       "version: 1\nallow:\n  - npm-mirorr\n",
			wantEntry:  "npm-mirorr",
			wantReason: `not in the EgressPolicy (did you mean "npm-mirror"?)`,
		},
		{
			name:       "ports a catalog host does not allow",
			yaml:       "version: 1\nallow:\n  - host: pypi.corp.example.com\n    ports: [443, 9000]\n",
			policy:     func(p *egressv1alpha1.EgressPolicySpec) { p.AllowedHosts = nil },
			wantEntry:  "pypi.corp.example.com",
			wantReason: `ports 9000 of pypi.corp.example.com are outside catalog entry "pypi-mirror", which allows 443, 8443`,
			wantKept:   "pypi.corp.example.com",
		},
		{
			name:       "host the baseline already covers",
			yaml:       "version: 1\nallow:\n  - host: results-receiver.actions.githubusercontent.com\n",
			wantEntry:  "results-receiver.actions.githubusercontent.com",
			wantReason: "already reachable through the baseline; remove the entry",
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			policy := testPolicy()
			if test.policy != nil {
				test.policy(policy)
			}
			cfg := mustParse(t, test.yaml, nil)
			profile := EffectiveProfile(policy, cfg, "")

			if len(profile.Dropped) != 1 {
				t.Fatalf("Dropped = %+v, want one entry", profile.Dropped)
			}
			dropped := profile.Dropped[0]
			if dropped.Entry != test.wantEntry {
				t.Errorf("Dropped.Entry = %q, want %q", dropped.Entry, test.wantEntry)
			}
			if !strings.Contains(dropped.Reason, test.wantReason) {
				t.Errorf("Dropped.Reason = %q, want it to contain %q", dropped.Reason, test.wantReason)
			}
			if dropped.Denied != test.wantDenied {
				t.Errorf("Dropped.Denied = %v, want %v", dropped.Denied, test.wantDenied)
			}
			if dropped.Line != 3 || dropped.Column == 0 {
				t.Errorf("Dropped position = %d:%d, want line 3 and a column", dropped.Line, dropped.Column)
			}
			if test.wantKept != "" {
				if _, ok := findDestination(profile, test.wantKept, egressv1alpha1.ProtocolTLS); !ok {
					if _, ok := findDestination(profile, test.wantKept, egressv1alpha1.ProtocolHTTP); !ok {
						t.Errorf("profile lacks %s", test.wantKept)
					}
				}
			}
			if got, want := len(profile.Destinations), len(DefaultBaseline()); got < want {
				t.Errorf("profile has %d destinations, fewer than the %d of the baseline", got, want)
			}
		})
	}
}

func TestEffectiveProfileWithoutFile(t *testing.T) {
	policy := testPolicy()
	policy.NoFileProfile = []string{"npm-mirror", "rust-mirror"}

	profile := EffectiveProfile(policy, nil, "")

	if _, ok := findDestination(profile, "npm.corp.example.com", egressv1alpha1.ProtocolTLS); !ok {
		t.Error("profile lacks the noFileProfile catalog entry npm-mirror")
	}
	if got, want := len(profile.Destinations), len(DefaultBaseline())+1; got != want {
		t.Errorf("profile has %d destinations, want %d", got, want)
	}
	if len(profile.Dropped) != 1 || profile.Dropped[0].Entry != "rust-mirror" || !strings.Contains(profile.Dropped[0].Reason, "noFileProfile") {
		t.Errorf("Dropped = %+v, want rust-mirror with a reason naming noFileProfile", profile.Dropped)
	}
}

func TestEffectiveProfileBaselineIgnoresDeny(t *testing.T) {
	policy := testPolicy()
	policy.Deny = append(policy.Deny, "github.com", "*.actions.githubusercontent.com")

	profile := EffectiveProfile(policy, nil, "")

	for _, host := range []string{"github.com", "*.actions.githubusercontent.com", "pkg.actions.githubusercontent.com"} {
		if _, ok := findDestination(profile, host, egressv1alpha1.ProtocolTLS); !ok {
			t.Errorf("baseline host %s is missing although the baseline is not subject to deny", host)
		}
	}
	if len(profile.Dropped) != 0 {
		t.Errorf("Dropped = %+v, want none", profile.Dropped)
	}
}

func TestEffectiveProfileGitHubHost(t *testing.T) {
	tests := []struct {
		name       string
		githubHost string
		wantHost   string
		wantAdded  bool
	}{
		{name: "GHES host is added", githubHost: "GHES.corp.example.com", wantHost: "ghes.corp.example.com", wantAdded: true},
		{name: "github.com is already in the baseline", githubHost: "github.com", wantHost: "github.com"},
		{name: "GHE.com host adds its API host", githubHost: "octo.ghe.com", wantHost: "api.octo.ghe.com", wantAdded: true},
		{name: "no host adds nothing", githubHost: ""},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			profile := EffectiveProfile(testPolicy(), nil, test.githubHost)

			wantCount := len(DefaultBaseline())
			if test.wantAdded {
				wantCount++
			}
			if strings.HasSuffix(test.githubHost, ".ghe.com") {
				wantCount++
			}
			if len(profile.Destinations) != wantCount {
				t.Errorf("profile has %d destinations, want %d", len(profile.Destinations), wantCount)
			}
			if test.wantHost == "" {
				return
			}
			got, ok := findDestination(profile, test.wantHost, egressv1alpha1.ProtocolTLS)
			if !ok {
				t.Fatalf("profile lacks %s", test.wantHost)
			}
			if got.Source != SourceBaseline || !reflect.DeepEqual(got.Ports, []int32{443}) {
				t.Errorf("destination = %+v, want baseline on port 443", got)
			}
		})
	}
}

func TestEffectiveProfileMode(t *testing.T) {
	enforce, audit := egressv1alpha1.ModeEnforce, egressv1alpha1.ModeAudit
	tests := []struct {
		name                 string
		force, fileMode, def egressv1alpha1.Mode
		noFile               bool
		want                 egressv1alpha1.Mode
	}{
		{name: "forced mode beats the file", force: enforce, fileMode: audit, def: audit, want: enforce},
		{name: "file mode beats the default", fileMode: audit, def: enforce, want: audit},
		{name: "default applies when the file sets none", def: audit, want: audit},
		{name: "default applies without a file", def: audit, noFile: true, want: audit},
		{name: "enforce applies when nothing is set", want: enforce},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			policy := testPolicy()
			policy.Mode = egressv1alpha1.ModePolicy{Default: test.def, Force: test.force}
			var cfg *Config
			if !test.noFile {
				cfg = &Config{Version: 1, Mode: test.fileMode}
			}
			if got := EffectiveProfile(policy, cfg, "").Mode; got != test.want {
				t.Errorf("Mode = %q, want %q", got, test.want)
			}
		})
	}
}

func TestEffectiveProfileIsDeterministic(t *testing.T) {
	policy := testPolicy()
	cfg := mustParse(t, "version: 1\nallow:\n  - pypi-mirror\n  - host: z.corp.example.com\n  - host: a.corp.example.com\n    protocol: HTTP\n    ports: [80]\n  - host: a.corp.example.com\n  - maven-mirror\n", policy)

	first := EffectiveProfile(policy, cfg, "ghes.corp.example.com")
	for range 20 {
		if again := EffectiveProfile(policy, cfg, "ghes.corp.example.com"); !reflect.DeepEqual(first, again) {
			t.Fatalf("two runs differ:\n%+v\n%+v", first, again)
		}
	}
	sorted := sort.SliceIsSorted(first.Destinations, func(i, j int) bool {
		a, b := first.Destinations[i], first.Destinations[j]
		return a.Host < b.Host || (a.Host == b.Host && a.Protocol < b.Protocol)
	})
	if !sorted {
		t.Errorf("destinations are not sorted by host and protocol: %+v", first.Destinations)
	}
}

func TestEffectiveProfileNilPolicyUsesDefaults(t *testing.T) {
	profile := EffectiveProfile(nil, &Config{Version: 1, Allow: []AllowEntry{{Host: "registry.npmjs.org", Line: 3, Column: 5}}}, "")

	if len(profile.Destinations) != len(DefaultBaseline()) {
		t.Errorf("profile has %d destinations, want the %d of the default baseline", len(profile.Destinations), len(DefaultBaseline()))
	}
	if len(profile.Dropped) != 1 || !profile.Dropped[0].Denied {
		t.Errorf("Dropped = %+v, want registry.npmjs.org denied", profile.Dropped)
	}
}

func TestCheckConfigSeparatesErrorsFromWarnings(t *testing.T) {
	data := []byte("version: 1\nallow:\n  - host: artifacts.example.net\n  - host: \"*.npmjs.org\"\n")

	warnings, err := CheckConfig("egress.yaml", data, testPolicy())

	if err == nil || !strings.Contains(err.Error(), "egress.yaml:4:11: *.npmjs.org would reach registry.npmjs.org") {
		t.Errorf("CheckConfig() error = %v, want the denied wildcard at 4:11", err)
	}
	if len(warnings) != 1 || warnings[0].Entry != "artifacts.example.net" {
		t.Errorf("warnings = %+v, want artifacts.example.net outside the ceiling", warnings)
	}
}
