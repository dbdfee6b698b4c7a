package lockdown

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// ConfigPath is the path of the egress file inside a repository.
const ConfigPath = ".github/egress.yaml"

// ConfigVersion is the only format version of the file this package reads.
const ConfigVersion = 1

// Limits on a repository file. They bound the work a file can cause before
// any of it is trusted.
const (
	// MaxConfigSize is the largest file, in bytes, that ParseConfig reads.
	MaxConfigSize = 64 << 10
	// MaxAllowEntries is the largest number of entries in the allow list.
	MaxAllowEntries = 256
	// MaxPortsPerEntry is the largest number of ports one host entry lists,
	// the same as the limit on an EgressPolicy destination.
	MaxPortsPerEntry = 16
	// maxProblems is the largest number of problems one ConfigError lists.
	maxProblems = 50
	// DefaultPort is the port of a host entry that lists none.
	DefaultPort int32 = 443
)

// Config is a parsed and checked .github/egress.yaml.
type Config struct {
	// Version is the format version; always ConfigVersion.
	Version int
	// Mode requested by the repository; empty when the file sets none.
	Mode egressv1alpha1.Mode
	// Allow lists the requested entries in file order.
	Allow []AllowEntry
}

// AllowEntry is one item of the allow list: either a catalog name or a host.
type AllowEntry struct {
	// Name is the catalog entry requested by name; empty for a host entry.
	Name string
	// Host is the normalised host of a host entry: lower case, no trailing
	// dot, punycode, "*." in front of a wildcard, or an IP address.
	Host string
	// Ports of a host entry, sorted and unique; DefaultPort when the file
	// lists none. Nil for a catalog name.
	Ports []int32
	// Protocol of a host entry; TLS when the file sets none. Empty for a
	// catalog name.
	Protocol egressv1alpha1.Protocol
	// Line and Column locate the entry in the file, starting at 1.
	Line, Column int
}

// Problem is one error found in a repository file.
type Problem struct {
	// File is the name of the file as the caller passed it.
	File string
	// Line and Column locate the problem, starting at 1; Column is 0 when
	// the YAML parser reports only a line.
	Line, Column int
	// Value is the offending value as written; empty when there is none.
	Value string
	// Message describes what is wrong.
	Message string
	// Hint is the suggested fix; empty when there is no useful hint.
	Hint string
}

// String formats the problem as `file:line:col: message (value "x"); hint`.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	fmt.Fprintf(&b, ":%d:", p.Line)
	if p.Column > 0 {
		fmt.Fprintf(&b, "%d:", p.Column)
	}
	b.WriteString(" ")
	b.WriteString(p.Message)
	if p.Value != "" {
		fmt.Fprintf(&b, " (value %q)", p.Value)
	}
	if p.Hint != "" {
		b.WriteString("; ")
		b.WriteString(p.Hint)
	}
	return b.String()
}

// ConfigError holds every problem found in a repository file, sorted by
// position.
type ConfigError struct {
	Problems []Problem
}

// Error prints one problem a line.
func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, problem := range e.Problems {
		lines[i] = problem.String()
	}
	return strings.Join(lines, "\n")
}

// catalogNamePattern is the syntax of an EgressPolicy catalog entry name.
var catalogNamePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// topLevelKeys and hostEntryKeys are the fields the parser accepts; the JSON
// schema test checks docs/egress.schema.json against them.
var (
	topLevelKeys  = []string{"version", "mode", "allow"}
	hostEntryKeys = []string{"host", "ports", "protocol"}
)

// ParseConfig parses and checks a repository's .github/egress.yaml. The
// filename only labels problems. With a policy, catalog names must exist in
// its catalog and IP literals must fall inside its AllowedCIDRs. With a nil
// policy, catalog names are checked for syntax only and IP literals are
// rejected. ParseConfig applies neither the ceiling nor the deny list,
// because EffectiveProfile does.
//
// On any problem it returns a nil Config and a *ConfigError listing all of
// them.
func ParseConfig(filename string, data []byte, policy *egressv1alpha1.EgressPolicySpec) (*Config, error) {
	p := &configParser{file: filename, data: data, policy: policy}
	if policy != nil {
		p.cidrs = parseCIDRs(policy.AllowedCIDRs)
	}
	cfg := p.parse()
	if len(p.problems) > 0 {
		sort.SliceStable(p.problems, func(i, j int) bool {
			if p.problems[i].Line != p.problems[j].Line {
				return p.problems[i].Line < p.problems[j].Line
			}
			return p.problems[i].Column < p.problems[j].Column
		})
		if len(p.problems) > maxProblems {
			last := p.problems[maxProblems-1]
			omitted := len(p.problems) - maxProblems
			p.problems = append(p.problems[:maxProblems], Problem{
				File:    p.file,
				Line:    last.Line,
				Column:  last.Column,
				Message: fmt.Sprintf("%d more problems after this line are not shown", omitted),
				Hint:    "fix the ones above and run the check again",
			})
		}
		return nil, &ConfigError{Problems: p.problems}
	}
	return cfg, nil
}

// parseCIDRs parses the policy's AllowedCIDRs, skipping invalid ones: the
// API server's schema is the place to reject those.
func parseCIDRs(values []string) []netip.Prefix {
	var prefixes []netip.Prefix
	for _, value := range values {
		if prefix, err := netip.ParsePrefix(strings.TrimSpace(value)); err == nil {
			prefixes = append(prefixes, prefix.Masked())
		}
	}
	return prefixes
}

type configParser struct {
	file     string
	data     []byte
	policy   *egressv1alpha1.EgressPolicySpec
	cidrs    []netip.Prefix
	problems []Problem
}

func (p *configParser) add(line, column int, value, message, hint string) {
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Column: column, Value: value, Message: message, Hint: hint})
}

func (p *configParser) addAt(node *yaml.Node, value, message, hint string) {
	p.add(node.Line, node.Column, value, message, hint)
}

func (p *configParser) parse() *Config {
	if len(p.data) > MaxConfigSize {
		p.add(1, 1, "", fmt.Sprintf("file is %d bytes, the maximum is %d", len(p.data), MaxConfigSize), "list fewer entries; a file this large is not an egress list")
		return nil
	}
	if len(bytes.TrimSpace(p.data)) == 0 {
		p.add(1, 1, "", "file is empty", `start the file with "version: 1"`)
		return nil
	}

	root := p.decodeSingleDocument()
	if root == nil {
		return nil
	}
	if !p.rejectAnchors(root) {
		return nil
	}
	return p.parseTopLevel(root)
}

// yamlLinePattern finds the line number in the YAML parser's error messages,
// which read "yaml: line 3: did not find expected key".
var yamlLinePattern = regexp.MustCompile(`^yaml: line (\d+): `)

// unquotedAliasPattern matches a line whose value starts with an unquoted
// "*", which YAML reads as an alias.
var unquotedAliasPattern = regexp.MustCompile(`(^|[:-])\s+\*`)

// decodeSingleDocument returns the top-level node of the only document in
// the file.
func (p *configParser) decodeSingleDocument() *yaml.Node {
	decoder := yaml.NewDecoder(bytes.NewReader(p.data))
	var document yaml.Node
	if err := decoder.Decode(&document); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(1, 1, "", "file contains no YAML document", `start the file with "version: 1"`)
		} else {
			p.addSyntaxError(err)
		}
		return nil
	}

	var next yaml.Node
	err := decoder.Decode(&next)
	switch {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.addSyntaxError(err)
		return nil
	default:
		p.add(next.Line, next.Column, "", "file contains more than one YAML document", `remove the "---" separator and everything after it`)
		return nil
	}

	if document.Kind != yaml.DocumentNode || len(document.Content) != 1 {
		p.add(1, 1, "", "file contains no YAML document", `start the file with "version: 1"`)
		return nil
	}
	return document.Content[0]
}

func (p *configParser) addSyntaxError(err error) {
	message := err.Error()
	line := 1
	if match := yamlLinePattern.FindStringSubmatch(message); match != nil {
		line, _ = strconv.Atoi(match[1])
		message = message[len(match[0]):]
	} else {
		message = strings.TrimPrefix(message, "yaml: ")
	}

	hint := "fix the YAML syntax"
	sourceLine := p.sourceLine(line)
	switch {
	case strings.Contains(message, "unknown anchor") || unquotedAliasPattern.MatchString(sourceLine):
		hint = `a value that starts with "*" must be quoted, as in host: "*.mirror.example.com"`
	case strings.Contains(sourceLine, "\t"):
		hint = "indent with spaces; YAML does not allow tabs"
	case strings.Contains(message, "max depth"):
		hint = "the file nests too deep to be an egress list"
	}
	p.add(line, 0, "", "invalid YAML: "+message, hint)
}

// sourceLine returns line number n of the file, starting at 1, or "".
func (p *configParser) sourceLine(n int) string {
	lines := bytes.Split(p.data, []byte("\n"))
	if n < 1 || n > len(lines) {
		return ""
	}
	return string(lines[n-1])
}

// rejectAnchors reports the first anchor and the first alias, and returns
// false when there is either. The format never needs them, and rejecting
// them rules out alias expansion ("billion laughs") whatever the YAML
// library would do with them. Reporting only the first of each keeps such a
// file at two problems rather than hundreds.
func (p *configParser) rejectAnchors(root *yaml.Node) bool {
	var firstAnchor, firstAlias *yaml.Node
	var walk func(node *yaml.Node)
	walk = func(node *yaml.Node) {
		if node.Kind == yaml.AliasNode {
			if firstAlias == nil {
				firstAlias = node
			}
			return
		}
		if node.Anchor != "" && firstAnchor == nil {
			firstAnchor = node
		}
		for _, child := range node.Content {
			walk(child)
		}
	}
	walk(root)

	if firstAnchor != nil {
		p.addAt(firstAnchor, "&"+firstAnchor.Anchor, "YAML anchors are not allowed", "remove every anchor and alias and write the values out in full")
	}
	if firstAlias != nil {
		p.addAt(firstAlias, "*"+firstAlias.Value, "YAML aliases are not allowed", "remove every anchor and alias and write the values out in full")
	}
	return firstAnchor == nil && firstAlias == nil
}

func (p *configParser) parseTopLevel(root *yaml.Node) *Config {
	if root.Kind != yaml.MappingNode {
		p.addAt(root, scalarValue(root), "the file must be a mapping with the keys version, mode and allow", `start the file with "version: 1"`)
		return nil
	}

	cfg := &Config{}
	fields := p.mappingFields(root, topLevelKeys)
	if node, ok := fields["version"]; ok {
		p.parseVersion(node, cfg)
	} else {
		p.addAt(root, "", "missing key version", `add "version: 1" as the first line`)
	}
	if node, ok := fields["mode"]; ok {
		p.parseMode(node, cfg)
	}
	if node, ok := fields["allow"]; ok {
		p.parseAllow(node, cfg)
	}
	return cfg
}

// mappingFields returns the values of a mapping by key, reporting keys that
// are not strings, unknown keys and duplicates.
func (p *configParser) mappingFields(mapping *yaml.Node, known []string) map[string]*yaml.Node {
	fields := map[string]*yaml.Node{}
	firstLine := map[string]int{}
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		key, value := mapping.Content[i], mapping.Content[i+1]
		if key.Kind != yaml.ScalarNode || key.Tag != "!!str" {
			p.addAt(key, scalarValue(key), "key must be a plain string", "valid keys: "+strings.Join(known, ", "))
			continue
		}
		if line, seen := firstLine[key.Value]; seen {
			p.addAt(key, key.Value, fmt.Sprintf("duplicate key, first set on line %d", line), "keep one of them")
			continue
		}
		firstLine[key.Value] = key.Line
		if !containsString(known, key.Value) {
			p.addAt(key, key.Value, "unknown key", suggestion(key.Value, known, "key"))
			continue
		}
		fields[key.Value] = value
	}
	return fields
}

func (p *configParser) parseVersion(node *yaml.Node, cfg *Config) {
	if node.Kind != yaml.ScalarNode || node.Tag != "!!int" {
		hint := `write "version: 1"`
		if node.Kind == yaml.ScalarNode && node.Tag == "!!str" {
			hint = `write "version: 1" without quotes`
		}
		p.addAt(node, scalarValue(node), "version must be the number 1", hint)
		return
	}
	var version int
	if err := node.Decode(&version); err != nil || version != ConfigVersion {
		p.addAt(node, node.Value, "unsupported version", fmt.Sprintf("this arc-lockdown reads version %d", ConfigVersion))
		return
	}
	cfg.Version = version
}

func (p *configParser) parseMode(node *yaml.Node, cfg *Config) {
	if node.Kind != yaml.ScalarNode || node.Tag != "!!str" {
		p.addAt(node, scalarValue(node), "mode must be a string", `write "mode: enforce" or "mode: audit", or leave mode out`)
		return
	}
	switch mode := egressv1alpha1.Mode(node.Value); mode {
	case egressv1alpha1.ModeEnforce, egressv1alpha1.ModeAudit:
		cfg.Mode = mode
	default:
		p.addAt(node, node.Value, "unknown mode", suggestion(node.Value, []string{"enforce", "audit"}, "mode"))
	}
}

func (p *configParser) parseAllow(node *yaml.Node, cfg *Config) {
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return
	}
	if node.Kind != yaml.SequenceNode {
		p.addAt(node, scalarValue(node), "allow must be a list", `write each entry on its own line starting with "- "`)
		return
	}
	for i, item := range node.Content {
		if i == MaxAllowEntries {
			p.addAt(item, "", fmt.Sprintf("allow has %d entries, the maximum is %d", len(node.Content), MaxAllowEntries), "use wildcards or catalog names to shorten the list")
			return
		}
		switch item.Kind {
		case yaml.ScalarNode:
			if entry, ok := p.parseCatalogName(item); ok {
				cfg.Allow = append(cfg.Allow, entry)
			}
		case yaml.MappingNode:
			if entry, ok := p.parseHostEntry(item); ok {
				cfg.Allow = append(cfg.Allow, entry)
			}
		default:
			p.addAt(item, "", "an allow entry must be a catalog name or a mapping with host, ports and protocol", `write "- npm-mirror" or "- host: artifacts.example.com"`)
		}
	}
}

func (p *configParser) parseCatalogName(node *yaml.Node) (AllowEntry, bool) {
	if node.Tag != "!!str" {
		p.addAt(node, node.Value, "a catalog name must be a string", `write a name from the policy's catalog, or "- host: <name>" for a host`)
		return AllowEntry{}, false
	}
	name := node.Value
	if !catalogNamePattern.MatchString(name) {
		hint := "catalog names are lower-case letters, digits and hyphens"
		if strings.ContainsAny(name, ".*:") {
			hint = fmt.Sprintf("to request a host, write %q", "- host: "+name)
		}
		p.addAt(node, name, "invalid catalog name", hint)
		return AllowEntry{}, false
	}
	if p.policy != nil && !catalogHas(p.policy, name) {
		p.addAt(node, name, "catalog name not found in the policy", suggestion(name, catalogNames(p.policy), "catalog name"))
		return AllowEntry{}, false
	}
	return AllowEntry{Name: name, Line: node.Line, Column: node.Column}, true
}

func (p *configParser) parseHostEntry(node *yaml.Node) (AllowEntry, bool) {
	entry := AllowEntry{Line: node.Line, Column: node.Column, Protocol: egressv1alpha1.ProtocolTLS, Ports: []int32{DefaultPort}}
	problemsBefore := len(p.problems)
	fields := p.mappingFields(node, hostEntryKeys)

	hostNode, ok := fields["host"]
	switch {
	case !ok:
		p.addAt(node, "", "host entry has no host", `add "host: <name>", or write a catalog name alone`)
	case hostNode.Kind != yaml.ScalarNode || hostNode.Tag != "!!str":
		p.addAt(hostNode, scalarValue(hostNode), "host must be a string", `write a host name such as "artifacts.example.com"`)
	default:
		entry.Line, entry.Column = hostNode.Line, hostNode.Column
		host, problem := normalizeHost(hostNode.Value, hostRules{allowedCIDRs: p.cidrs})
		if problem != nil {
			p.addAt(hostNode, hostNode.Value, problem.message, problem.hint)
		}
		entry.Host = host
	}

	if portsNode, ok := fields["ports"]; ok {
		entry.Ports = p.parsePorts(portsNode)
	}
	if protocolNode, ok := fields["protocol"]; ok {
		entry.Protocol = p.parseProtocol(protocolNode)
	}
	return entry, len(p.problems) == problemsBefore
}

func (p *configParser) parsePorts(node *yaml.Node) []int32 {
	if node.Kind != yaml.SequenceNode {
		p.addAt(node, scalarValue(node), "ports must be a list of numbers", "write ports: [443] or leave ports out for 443")
		return nil
	}
	if len(node.Content) == 0 {
		p.addAt(node, "", "ports is empty", "list at least one port, or leave ports out for 443")
		return nil
	}
	if len(node.Content) > MaxPortsPerEntry {
		p.addAt(node, "", fmt.Sprintf("ports has %d entries, the maximum is %d", len(node.Content), MaxPortsPerEntry), "list fewer ports")
		return nil
	}
	var ports []int32
	for _, item := range node.Content {
		if item.Kind != yaml.ScalarNode || item.Tag != "!!int" {
			hint := "a port is a whole number from 1 to 65535"
			if item.Kind == yaml.ScalarNode && item.Tag == "!!str" {
				hint = "write the port without quotes, such as 443"
			}
			p.addAt(item, scalarValue(item), "port must be a number", hint)
			continue
		}
		var port int64
		if err := item.Decode(&port); err != nil || port < 1 || port > 65535 {
			p.addAt(item, item.Value, "port is out of range", "a port is a number from 1 to 65535")
			continue
		}
		ports = append(ports, int32(port))
	}
	return sortedUniquePorts(ports)
}

func (p *configParser) parseProtocol(node *yaml.Node) egressv1alpha1.Protocol {
	if node.Kind != yaml.ScalarNode || node.Tag != "!!str" {
		p.addAt(node, scalarValue(node), "protocol must be a string", "write TLS or HTTP, or leave protocol out for TLS")
		return ""
	}
	switch protocol := egressv1alpha1.Protocol(node.Value); protocol {
	case egressv1alpha1.ProtocolTLS, egressv1alpha1.ProtocolHTTP:
		return protocol
	}
	hint := "write TLS or HTTP, or leave protocol out for TLS"
	if upper := strings.ToUpper(node.Value); upper == "TLS" || upper == "HTTP" {
		hint = fmt.Sprintf("write %s in capitals", upper)
	} else if upper == "HTTPS" {
		hint = "HTTPS is TLS: write TLS"
	}
	p.addAt(node, node.Value, "unknown protocol", hint)
	return ""
}

// scalarValue returns the value of a scalar node for a problem report, or a
// description of the node's kind.
func scalarValue(node *yaml.Node) string {
	switch node.Kind {
	case yaml.ScalarNode:
		return node.Value
	case yaml.MappingNode:
		return "<mapping>"
	case yaml.SequenceNode:
		return "<list>"
	}
	return ""
}

func sortedUniquePorts(ports []int32) []int32 {
	if len(ports) == 0 {
		return nil
	}
	sorted := append([]int32(nil), ports...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	unique := sorted[:1]
	for _, port := range sorted[1:] {
		if port != unique[len(unique)-1] {
			unique = append(unique, port)
		}
	}
	return unique
}

func containsString(values []string, value string) bool {
	for _, v := range values {
		if v == value {
			return true
		}
	}
	return false
}

func catalogHas(policy *egressv1alpha1.EgressPolicySpec, name string) bool {
	for _, entry := range policy.Catalog {
		if entry.Name == name {
			return true
		}
	}
	return false
}

func catalogNames(policy *egressv1alpha1.EgressPolicySpec) []string {
	names := make([]string, 0, len(policy.Catalog))
	for _, entry := range policy.Catalog {
		names = append(names, entry.Name)
	}
	sort.Strings(names)
	return names
}
