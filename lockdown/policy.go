package lockdown

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// EffectiveProfile bounds a repository's request by the administrator's
// policy: baseline ∪ (request ∩ ceiling) minus deny.
//
//   - The baseline is always in the profile, and so is githubHost (the
//     scale set's GitHub or GHES host) unless a baseline entry covers it.
//     The deny list does not apply to either.
//   - A catalog name expands to its destinations; each one the deny list
//     matches is dropped.
//   - A host is kept when it matches one of the policy's AllowedHosts
//     patterns, or a catalog destination (then only on that destination's
//     ports), or, for an IP address, one of its AllowedCIDRs.
//   - A requested host that the deny list matches is dropped, and so is a
//     requested wildcard that would cover a denied host.
//
// A nil cfg means the repository has no file: the profile is the baseline
// plus the policy's NoFileProfile catalog names. A nil policy means
// DefaultPolicySpec. Every entry left out is in Profile.Dropped with its
// reason. Destinations with the same host and protocol are merged into one
// with the union of their ports.
func EffectiveProfile(policy *egressv1alpha1.EgressPolicySpec, cfg *Config, githubHost string) Profile {
	if policy == nil {
		defaults := DefaultPolicySpec()
		policy = &defaults
	}
	builder := newProfileBuilder(policy)

	builder.addBaseline()
	builder.addGitHubHost(githubHost)

	if cfg == nil {
		for _, name := range policy.NoFileProfile {
			builder.addCatalogName(name, 0, 0, true)
		}
	} else {
		for _, entry := range cfg.Allow {
			if entry.Name != "" {
				builder.addCatalogName(entry.Name, entry.Line, entry.Column, false)
			} else {
				builder.addRequestedHost(entry)
			}
		}
	}

	return Profile{
		Mode:         resolveMode(policy, cfg),
		Destinations: builder.sortedDestinations(),
		Dropped:      builder.dropped,
	}
}

// resolveMode picks the mode: the policy's forced mode, else the
// repository's, else the policy's default, else enforce.
func resolveMode(policy *egressv1alpha1.EgressPolicySpec, cfg *Config) egressv1alpha1.Mode {
	switch {
	case policy.Mode.Force != "":
		return policy.Mode.Force
	case cfg != nil && cfg.Mode != "":
		return cfg.Mode
	case policy.Mode.Default != "":
		return policy.Mode.Default
	}
	return egressv1alpha1.ModeEnforce
}

// destinationKey identifies a destination for merging.
type destinationKey struct {
	host     string
	protocol egressv1alpha1.Protocol
}

type profileBuilder struct {
	policy       *egressv1alpha1.EgressPolicySpec
	deny         []string
	allowedHosts []string
	cidrs        []netip.Prefix
	baseline     []Destination
	merged       map[destinationKey]*Destination
	dropped      []Dropped
}

func newProfileBuilder(policy *egressv1alpha1.EgressPolicySpec) *profileBuilder {
	builder := &profileBuilder{
		policy: policy,
		cidrs:  parseCIDRs(policy.AllowedCIDRs),
		merged: map[destinationKey]*Destination{},
	}
	for _, pattern := range policy.Deny {
		if pattern = normalizePattern(pattern); pattern != "" {
			builder.deny = append(builder.deny, pattern)
		}
	}
	for _, pattern := range policy.AllowedHosts {
		if pattern = normalizePattern(pattern); pattern != "" {
			builder.allowedHosts = append(builder.allowedHosts, pattern)
		}
	}
	return builder
}

func (b *profileBuilder) drop(entry string, line, column int, denied bool, format string, args ...any) {
	b.dropped = append(b.dropped, Dropped{Entry: entry, Line: line, Column: column, Reason: fmt.Sprintf(format, args...), Denied: denied})
}

// add merges a destination into the profile. When two sources bring the
// same host and protocol, the profile keeps the first source in the order
// baseline, catalog, repository, and the union of the ports.
func (b *profileBuilder) add(destination Destination) {
	key := destinationKey{destination.Host, destination.Protocol}
	existing, ok := b.merged[key]
	if !ok {
		copied := destination
		copied.Ports = sortedUniquePorts(destination.Ports)
		b.merged[key] = &copied
		return
	}
	existing.Ports = sortedUniquePorts(append(existing.Ports, destination.Ports...))
	if sourceRank(destination.Source) < sourceRank(existing.Source) {
		existing.Source = destination.Source
		existing.CatalogName = destination.CatalogName
	}
}

func sourceRank(source Source) int {
	switch source {
	case SourceBaseline:
		return 0
	case SourceCatalog:
		return 1
	}
	return 2
}

func (b *profileBuilder) sortedDestinations() []Destination {
	destinations := make([]Destination, 0, len(b.merged))
	for _, destination := range b.merged {
		destinations = append(destinations, *destination)
	}
	sort.Slice(destinations, func(i, j int) bool {
		if destinations[i].Host != destinations[j].Host {
			return destinations[i].Host < destinations[j].Host
		}
		return destinations[i].Protocol < destinations[j].Protocol
	})
	return destinations
}

// policyDestination normalises a destination written in the policy. It
// returns false, after recording the reason, when the destination cannot be
// used. Line and column locate the request that brought the destination in,
// or are zero for the baseline.
func (b *profileBuilder) policyDestination(raw egressv1alpha1.Destination, where string, line, column int) (Destination, bool) {
	host, problem := normalizeHost(raw.Host, hostRules{trusted: true})
	if problem != nil {
		b.drop(raw.Host, line, column, false, "%s host is invalid: %s; the administrator should fix the EgressPolicy", where, problem.message)
		return Destination{}, false
	}
	ports, badPort := checkPorts(raw.Ports)
	if badPort != 0 {
		b.drop(raw.Host, line, column, false, "%s port %d is out of range 1-65535; the administrator should fix the EgressPolicy", where, badPort)
		return Destination{}, false
	}
	protocol, ok := checkProtocol(raw.Protocol)
	if !ok {
		b.drop(raw.Host, line, column, false, "%s protocol %q is neither TLS nor HTTP; the administrator should fix the EgressPolicy", where, raw.Protocol)
		return Destination{}, false
	}
	return Destination{Host: host, Ports: ports, Protocol: protocol}, true
}

// checkPorts applies the default port and returns the first port out of
// range, or 0.
func checkPorts(ports []int32) ([]int32, int32) {
	if len(ports) == 0 {
		return []int32{DefaultPort}, 0
	}
	for _, port := range ports {
		if port < 1 || port > 65535 {
			return nil, port
		}
	}
	return sortedUniquePorts(ports), 0
}

func checkProtocol(protocol egressv1alpha1.Protocol) (egressv1alpha1.Protocol, bool) {
	switch protocol {
	case "":
		return egressv1alpha1.ProtocolTLS, true
	case egressv1alpha1.ProtocolTLS, egressv1alpha1.ProtocolHTTP:
		return protocol, true
	}
	return "", false
}

func (b *profileBuilder) addBaseline() {
	for _, raw := range b.policy.Baseline {
		destination, ok := b.policyDestination(raw, "baseline", 0, 0)
		if !ok {
			continue
		}
		destination.Source = SourceBaseline
		b.baseline = append(b.baseline, destination)
		b.add(destination)
	}
}

// addGitHubHost adds the scale set's GitHub host on port 443 unless a
// baseline destination already covers it. A GHE.com host (*.ghe.com) serves
// its API from api.<host>, so that host is added too; GHES serves its API
// from the host itself.
func (b *profileBuilder) addGitHubHost(githubHost string) {
	if strings.TrimSpace(githubHost) == "" {
		return
	}
	host, problem := normalizeHost(githubHost, hostRules{trusted: true})
	if problem != nil {
		b.drop(githubHost, 0, 0, false, "GitHub host of the scale set is invalid: %s; check githubConfigUrl", problem.message)
		return
	}

	hosts := []string{host}
	if strings.HasSuffix(host, ".ghe.com") {
		hosts = append(hosts, "api."+host)
	}
	for _, host := range hosts {
		destination := Destination{Host: host, Ports: []int32{DefaultPort}, Protocol: egressv1alpha1.ProtocolTLS, Source: SourceBaseline}
		if b.baselineCovers(destination) {
			continue
		}
		b.baseline = append(b.baseline, destination)
		b.add(destination)
	}
}

// baselineCovers reports whether the baseline already reaches every port of
// the destination with its protocol.
func (b *profileBuilder) baselineCovers(destination Destination) bool {
	for _, base := range b.baseline {
		if base.Protocol == destination.Protocol && patternCovers(base.Host, destination.Host) && portsSubset(destination.Ports, base.Ports) {
			return true
		}
	}
	return false
}

func portsSubset(ports, of []int32) bool {
	for _, port := range ports {
		if !containsPort(of, port) {
			return false
		}
	}
	return true
}

func containsPort(ports []int32, port int32) bool {
	for _, p := range ports {
		if p == port {
			return true
		}
	}
	return false
}

func (b *profileBuilder) catalogEntry(name string) (egressv1alpha1.CatalogEntry, bool) {
	for _, entry := range b.policy.Catalog {
		if entry.Name == name {
			return entry, true
		}
	}
	return egressv1alpha1.CatalogEntry{}, false
}

func (b *profileBuilder) addCatalogName(name string, line, column int, noFile bool) {
	entry, ok := b.catalogEntry(name)
	if !ok {
		if noFile {
			b.drop(name, 0, 0, false, "noFileProfile names catalog entry %q, which the catalog does not define; the administrator should fix the EgressPolicy", name)
			return
		}
		b.drop(name, line, column, false, "catalog entry %q is not in the EgressPolicy (%s); remove it, or ask the cluster administrator to add it", name, suggestion(name, catalogNames(b.policy), "catalog name"))
		return
	}

	for _, raw := range entry.Destinations {
		destination, ok := b.policyDestination(raw, fmt.Sprintf("catalog entry %q:", name), line, column)
		if !ok {
			continue
		}
		if denied := b.deniedBy(destination.Host); denied != "" {
			b.drop(name+": "+destination.Host, line, column, true, "catalog entry %q reaches %s, which the deny list matches (%s); the administrator should fix the catalog or the deny list", name, destination.Host, denied)
			continue
		}
		destination.Source = SourceCatalog
		destination.CatalogName = name
		b.add(destination)
	}
}

// deniedBy returns the first deny pattern that matches a name the host
// stands for, or "".
func (b *profileBuilder) deniedBy(host string) string {
	for _, pattern := range b.deny {
		if patternsOverlap(pattern, host) {
			return pattern
		}
	}
	return ""
}

func (b *profileBuilder) addRequestedHost(entry AllowEntry) {
	host, problem := normalizeHost(entry.Host, hostRules{allowedCIDRs: b.cidrs})
	if problem != nil {
		b.drop(entry.Host, entry.Line, entry.Column, false, "%s; %s", problem.message, problem.hint)
		return
	}
	ports, badPort := checkPorts(entry.Ports)
	if badPort != 0 {
		b.drop(host, entry.Line, entry.Column, false, "port %d is out of range; a port is a number from 1 to 65535", badPort)
		return
	}
	protocol, ok := checkProtocol(entry.Protocol)
	if !ok {
		b.drop(host, entry.Line, entry.Column, false, "protocol %q is neither TLS nor HTTP", entry.Protocol)
		return
	}
	request := Destination{Host: host, Ports: ports, Protocol: protocol, Source: SourceRepository}

	if denied := b.deniedBy(host); denied != "" {
		b.drop(host, entry.Line, entry.Column, true, "%s", b.denyReason(host, denied))
		return
	}
	if b.baselineCovers(request) {
		b.drop(host, entry.Line, entry.Column, false, "%s is already reachable through the baseline; remove the entry", host)
		return
	}
	if b.allowedByCeiling(host) {
		b.add(request)
		return
	}
	if b.addThroughCatalog(request, entry) {
		return
	}
	b.drop(host, entry.Line, entry.Column, false, "%s", b.ceilingReason(host))
}

// allowedByCeiling reports whether repositories may add host themselves.
func (b *profileBuilder) allowedByCeiling(host string) bool {
	if address, ok := parseIPLiteral(host); ok {
		for _, prefix := range b.cidrs {
			if prefix.Contains(address) {
				return true
			}
		}
		return false
	}
	for _, pattern := range b.allowedHosts {
		if patternCovers(pattern, host) {
			return true
		}
	}
	return false
}

// addThroughCatalog adds a requested host that a catalog destination
// covers, limited to that destination's ports. It returns false when no
// catalog destination covers the host.
func (b *profileBuilder) addThroughCatalog(request Destination, entry AllowEntry) bool {
	var covering []egressv1alpha1.CatalogEntry
	var allowedPorts []int32
	for _, catalogEntry := range b.policy.Catalog {
		for _, raw := range catalogEntry.Destinations {
			destination, problem := normalizeHost(raw.Host, hostRules{trusted: true})
			protocol, protocolOK := checkProtocol(raw.Protocol)
			if problem != nil || !protocolOK || protocol != request.Protocol || !patternCovers(destination, request.Host) {
				continue
			}
			ports, badPort := checkPorts(raw.Ports)
			if badPort != 0 {
				continue
			}
			covering = append(covering, catalogEntry)
			allowedPorts = append(allowedPorts, ports...)
		}
	}
	if len(covering) == 0 {
		return false
	}

	var kept, refused []int32
	for _, port := range request.Ports {
		if containsPort(allowedPorts, port) {
			kept = append(kept, port)
		} else {
			refused = append(refused, port)
		}
	}
	if len(refused) > 0 {
		b.drop(request.Host, entry.Line, entry.Column, false, "ports %s of %s are outside catalog entry %q, which allows %s; remove those ports or ask the administrator to add them", formatPorts(refused), request.Host, covering[0].Name, formatPorts(sortedUniquePorts(allowedPorts)))
	}
	if len(kept) > 0 {
		request.Ports = kept
		b.add(request)
	}
	return true
}

func formatPorts(ports []int32) string {
	parts := make([]string, len(ports))
	for i, port := range ports {
		parts[i] = fmt.Sprint(port)
	}
	return strings.Join(parts, ", ")
}

// denyReason explains a denied request and names the catalog entry that
// replaces the denied host, when there is one.
func (b *profileBuilder) denyReason(host, pattern string) string {
	var reason string
	if host == pattern {
		reason = fmt.Sprintf("%s is on the policy's deny list", host)
	} else {
		reason = fmt.Sprintf("%s would reach %s, which is on the policy's deny list", host, pattern)
	}
	for _, entry := range b.policy.Catalog {
		for _, replaced := range entry.Replaces {
			if patternsOverlap(normalizePattern(replaced), pattern) {
				reason += fmt.Sprintf("; use catalog entry %q instead", entry.Name)
				if entry.Hint != "" {
					reason += " (" + entry.Hint + ")"
				}
				return reason
			}
		}
	}
	if strings.HasPrefix(host, "*.") {
		return reason + "; list the hosts you need instead of the wildcard, or ask the administrator for a mirror"
	}
	return reason + "; ask the cluster administrator for an internal mirror"
}

// ceilingReason explains a request outside the hosts repositories may add.
func (b *profileBuilder) ceilingReason(host string) string {
	if _, ok := parseIPLiteral(host); ok {
		return fmt.Sprintf("%s is outside the policy's allowedCIDRs; request a host name, or ask the cluster administrator to allow the range", host)
	}
	if len(b.allowedHosts) == 0 {
		return fmt.Sprintf("%s is not in the catalog and the policy lets repositories add no hosts by name; use a catalog name, or ask the cluster administrator to allow the host", host)
	}
	const maxListed = 5
	patterns := b.allowedHosts
	more := ""
	if len(patterns) > maxListed {
		patterns, more = patterns[:maxListed], ", …"
	}
	return fmt.Sprintf("%s is outside the hosts the policy lets repositories add (%s%s); ask the cluster administrator to allow it", host, strings.Join(patterns, ", "), more)
}

// CheckConfig runs the checks of `arc-lockdown validate` on one file:
// ParseConfig, then EffectiveProfile against the policy. A host the file
// requests that the deny list blocks is an error, reported in the returned
// *ConfigError together with the parser's problems; every other dropped
// entry comes back as a warning. With a nil policy, catalog names are
// checked for syntax only, the deny list is DefaultDeny and there are no
// warnings.
func CheckConfig(filename string, data []byte, policy *egressv1alpha1.EgressPolicySpec) ([]Dropped, error) {
	cfg, err := ParseConfig(filename, data, policy)
	if err != nil {
		return nil, err
	}

	effectivePolicy := policy
	if policy == nil {
		defaults := DefaultPolicySpec()
		effectivePolicy = &defaults
	}
	profile := EffectiveProfile(effectivePolicy, cfg, "")

	var warnings []Dropped
	var problems []Problem
	for _, dropped := range profile.Dropped {
		switch {
		case dropped.Denied && isHostEntryAt(cfg, dropped.Line, dropped.Column):
			message, hint, _ := strings.Cut(dropped.Reason, "; ")
			problems = append(problems, Problem{File: filename, Line: dropped.Line, Column: dropped.Column, Value: dropped.Entry, Message: message, Hint: hint})
		case policy != nil:
			warnings = append(warnings, dropped)
		}
	}
	if len(problems) > 0 {
		return warnings, &ConfigError{Problems: problems}
	}
	return warnings, nil
}

func isHostEntryAt(cfg *Config, line, column int) bool {
	for _, entry := range cfg.Allow {
		if entry.Host != "" && entry.Line == line && entry.Column == column {
			return true
		}
	}
	return false
}
