package lockdown

import (
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// defaultBaselineHosts are the endpoints a self-hosted runner on github.com
// needs, all on port 443. GitHub's `GET /meta` endpoint publishes the
// current list in domains.actions_inbound.
var defaultBaselineHosts = []string{
	"github.com",
	"api.github.com",
	"codeload.github.com",
	"*.actions.githubusercontent.com",
	"pkg.actions.githubusercontent.com",
	"results-receiver.actions.githubusercontent.com",
	"ghcr.io",
	"objects.githubusercontent.com",
	"objects-origin.githubusercontent.com",
	"github-releases.githubusercontent.com",
	"github-registry-files.githubusercontent.com",
	// Artifacts, caches and job logs live in Azure Blob Storage.
	"*.blob.core.windows.net",
}

// defaultDenyHosts are the public package registries that runners must reach
// through an internal mirror instead: npm, Yarn, PyPI, Maven Central, the Go
// module proxy and checksum database, crates.io, RubyGems, NuGet and Docker
// Hub.
var defaultDenyHosts = []string{
	"registry.npmjs.org",
	"registry.yarnpkg.com",
	"pypi.org",
	"pypi.python.org",
	"files.pythonhosted.org",
	"repo.maven.apache.org",
	"repo1.maven.org",
	"proxy.golang.org",
	"sum.golang.org",
	"crates.io",
	"static.crates.io",
	"index.crates.io",
	"rubygems.org",
	"index.rubygems.org",
	"api.nuget.org",
	"registry-1.docker.io",
	"registry.hub.docker.com",
	"auth.docker.io",
	"index.docker.io",
	"production.cloudflare.docker.com",
}

// DefaultBaseline returns GitHub's runner endpoints for github.com, each on
// port 443 with protocol TLS. The result is a fresh slice on every call.
func DefaultBaseline() []egressv1alpha1.Destination {
	baseline := make([]egressv1alpha1.Destination, 0, len(defaultBaselineHosts))
	for _, host := range defaultBaselineHosts {
		baseline = append(baseline, egressv1alpha1.Destination{
			Host:     host,
			Ports:    []int32{443},
			Protocol: egressv1alpha1.ProtocolTLS,
		})
	}
	return baseline
}

// DefaultDeny returns the public package registry hosts that no repository
// may reach by default. The result is a fresh slice on every call.
func DefaultDeny() []string {
	return append([]string(nil), defaultDenyHosts...)
}

// DefaultPolicySpec returns the ceiling used when an administrator sets
// nothing else: enforce mode, DefaultBaseline, DefaultDeny, an empty
// catalog and no host patterns for repositories to add.
func DefaultPolicySpec() egressv1alpha1.EgressPolicySpec {
	return egressv1alpha1.EgressPolicySpec{
		Mode:     egressv1alpha1.ModePolicy{Default: egressv1alpha1.ModeEnforce},
		Baseline: DefaultBaseline(),
		Deny:     DefaultDeny(),
	}
}
