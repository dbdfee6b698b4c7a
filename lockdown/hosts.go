package lockdown

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

const (
	// maxHostLength is the DNS limit on a name in text form, without the
	// trailing dot.
	maxHostLength = 253
	// maxLabelLength is the DNS limit on one label.
	maxLabelLength = 63
)

// idnaProfile converts host names to their ASCII form under the IDNA2008
// registration rules: no underscores, no leading or trailing hyphens, valid
// punycode, the Bidi rule, and no mapping, so full-width and other
// compatibility characters are rejected rather than folded. Callers lower
// the case first.
var idnaProfile = idna.New(idna.ValidateForRegistration())

// hostRules selects the host forms a caller accepts.
type hostRules struct {
	// allowedCIDRs are the ranges an IP literal must fall inside.
	allowedCIDRs []netip.Prefix
	// trusted accepts any IP literal and wildcards directly below a public
	// suffix, for hosts that come from the administrator's policy.
	trusted bool
}

// hostError is the reason a host was rejected and the suggested fix.
type hostError struct {
	message string
	hint    string
}

// normalizeHost returns the canonical form of a host as the profile stores
// it: lower case, no trailing dot, punycode, and "*." in front of a
// wildcard. It rejects everything else that could widen a profile by
// accident or disguise the destination.
func normalizeHost(raw string, rules hostRules) (string, *hostError) {
	host := strings.ToLower(raw)
	host = strings.TrimSuffix(host, ".")

	if problem := checkHostShape(raw, host); problem != nil {
		return "", problem
	}
	if address, ok := parseIPLiteral(host); ok {
		return checkIPLiteral(address, rules)
	}

	wildcard := strings.HasPrefix(host, "*.")
	name := strings.TrimPrefix(host, "*.")
	if strings.Contains(name, "*") {
		return "", &hostError{
			message: "a wildcard is allowed only as the whole first label",
			hint:    `write one leading "*." as in "*.mirror.example.com", or list the hosts`,
		}
	}

	if isASCII(name) {
		// Check the limits first, so that a long name gets a message that
		// names the limit it breaks rather than the IDNA library's.
		if problem := checkDNSLength(name, wildcard); problem != nil {
			return "", problem
		}
	}
	ascii, err := idnaProfile.ToASCII(name)
	if err != nil {
		return "", &hostError{
			message: fmt.Sprintf("invalid host name: %v", err),
			hint:    "a host name has letters, digits and hyphens in dot-separated labels",
		}
	}
	if problem := checkDNSLength(ascii, wildcard); problem != nil {
		return "", problem
	}
	if problem := checkConfusable(ascii); problem != nil {
		return "", problem
	}
	if !wildcard {
		return ascii, nil
	}

	if !rules.trusted {
		if suffix, _ := publicsuffix.PublicSuffix(ascii); suffix == ascii {
			return "", &hostError{
				message: fmt.Sprintf("wildcard %q covers every domain registered under the public suffix %q", "*."+ascii, ascii),
				hint:    "a wildcard must sit below a domain that one owner controls, such as \"*.mirror.example.com\"; list the hosts instead",
			}
		}
	}
	return "*." + ascii, nil
}

// checkHostShape rejects hosts that are not names at all: empty, a bare
// wildcard, a URL, a host with a port, whitespace.
func checkHostShape(raw, host string) *hostError {
	switch {
	case host == "":
		return &hostError{message: "host is empty", hint: `write a host name such as "artifacts.example.com"`}
	case host == "*" || host == "*.":
		return &hostError{
			message: "a bare wildcard would allow every host",
			hint:    `list the hosts, or use one wildcard below a domain you control such as "*.mirror.example.com"`,
		}
	case strings.Contains(host, "://"):
		return &hostError{message: "host is a URL", hint: "write only the host name, without scheme or path"}
	case strings.ContainsAny(host, "/?#@"):
		return &hostError{message: "host contains a path, a CIDR range or user information", hint: "write only the host name; CIDR ranges cannot be requested"}
	case strings.ContainsFunc(raw, unicode.IsSpace):
		return &hostError{message: "host contains white space", hint: "remove the spaces"}
	case strings.HasSuffix(host, "."):
		return &hostError{message: "host ends with more than one dot", hint: "remove the trailing dots"}
	}
	if strings.Contains(host, ":") {
		if _, ok := parseIPLiteral(host); !ok {
			return &hostError{message: "host contains a port", hint: "write the host name alone and put the port under ports:"}
		}
	}
	return nil
}

// parseIPLiteral parses an IPv4 or IPv6 address, with or without the
// brackets of a URL.
func parseIPLiteral(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	address, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return address.Unmap(), true
}

func checkIPLiteral(address netip.Addr, rules hostRules) (string, *hostError) {
	if address.Zone() != "" {
		return "", &hostError{message: "IP address has a zone", hint: "remove the %zone suffix"}
	}
	if rules.trusted {
		return address.String(), nil
	}
	for _, prefix := range rules.allowedCIDRs {
		if prefix.Contains(address) {
			return address.String(), nil
		}
	}
	if len(rules.allowedCIDRs) == 0 {
		return "", &hostError{
			message: "IP address literals are not allowed",
			hint:    "request the host name; the policy allows IP addresses only inside its allowedCIDRs, and it lists none",
		}
	}
	ranges := make([]string, len(rules.allowedCIDRs))
	for i, prefix := range rules.allowedCIDRs {
		ranges[i] = prefix.String()
	}
	return "", &hostError{
		message: "IP address is outside the policy's allowedCIDRs",
		hint:    "request the host name, or an address inside " + strings.Join(ranges, ", "),
	}
}

// checkDNSLength enforces the DNS limits on the ASCII form and rejects
// single-label names, because the pod's DNS search domains decide what
// they resolve to. A wildcard over a single label is
// left to the public suffix check.
func checkDNSLength(ascii string, wildcard bool) *hostError {
	length := len(ascii)
	if wildcard {
		length += 2
	}
	if length > maxHostLength {
		return &hostError{
			message: fmt.Sprintf("host is %d characters long, the maximum is %d", length, maxHostLength),
			hint:    "shorten the name",
		}
	}
	labels := strings.Split(ascii, ".")
	for _, label := range labels {
		if len(label) > maxLabelLength {
			return &hostError{
				message: fmt.Sprintf("label %q is %d characters long, the maximum is %d", label, len(label), maxLabelLength),
				hint:    "shorten the label",
			}
		}
	}
	if len(labels) < 2 && !wildcard {
		return &hostError{
			message: "host is a single label, not a fully qualified name",
			hint:    `write the full name, such as "mirror.corp.example.com"`,
		}
	}
	if isAllDigits(labels[len(labels)-1]) {
		return &hostError{
			message: "host looks like an IP address but is not a valid one",
			hint:    "write a valid IPv4 or IPv6 address, or a host name",
		}
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isAllDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// checkConfusable rejects internationalised labels that imitate other
// names: labels that mix letters of several scripts ("pаypal" with a
// Cyrillic "а"), and labels written wholly in Cyrillic or Greek letters
// that all look like Latin ones ("аррӏе").
func checkConfusable(ascii string) *hostError {
	if !strings.Contains(ascii, "xn--") {
		return nil
	}
	unicodeForm, err := idna.Punycode.ToUnicode(ascii)
	if err != nil {
		return &hostError{message: fmt.Sprintf("invalid punycode: %v", err), hint: "write the host name as it is registered"}
	}
	for _, label := range strings.Split(unicodeForm, ".") {
		scripts := labelScripts(label)
		if len(scripts) > 1 {
			return &hostError{
				message: fmt.Sprintf("host %q (punycode %q) mixes %s letters in one label, a common disguise for another name", unicodeForm, ascii, strings.Join(scripts, " and ")),
				hint:    "if you meant the ASCII name, retype it with Latin letters only",
			}
		}
		if len(scripts) == 1 && scripts[0] != "Latin" && allLatinLookalikes(label) {
			return &hostError{
				message: fmt.Sprintf("host %q (punycode %q) is written in %s letters that look like Latin ones", unicodeForm, ascii, scripts[0]),
				hint:    "if you meant the ASCII name, retype it with Latin letters only",
			}
		}
	}
	return nil
}

// scriptTables are the scripts checkConfusable distinguishes. Letters of other
// scripts count as "Other".
var scriptTables = []struct {
	name  string
	table *unicode.RangeTable
}{
	{"Latin", unicode.Latin},
	{"Cyrillic", unicode.Cyrillic},
	{"Greek", unicode.Greek},
	{"Armenian", unicode.Armenian},
	{"Cherokee", unicode.Cherokee},
	{"Han", unicode.Han},
	{"Hiragana", unicode.Hiragana},
	{"Katakana", unicode.Katakana},
	{"Hangul", unicode.Hangul},
	{"Arabic", unicode.Arabic},
	{"Hebrew", unicode.Hebrew},
}

// labelScripts returns the scripts of the letters in label, in order of
// first appearance. Digits and hyphens belong to no script. Han, Hiragana
// and Katakana together count as one Japanese script.
func labelScripts(label string) []string {
	var scripts []string
	seen := map[string]bool{}
	for _, r := range label {
		if !unicode.IsLetter(r) {
			continue
		}
		script := "Other"
		for _, entry := range scriptTables {
			if unicode.Is(entry.table, r) {
				script = entry.name
				break
			}
		}
		if script == "Han" || script == "Hiragana" || script == "Katakana" {
			script = "Japanese or Chinese"
		}
		if !seen[script] {
			seen[script] = true
			scripts = append(scripts, script)
		}
	}
	return scripts
}

// latinLookalikes are Cyrillic and Greek lower-case letters that render
// like Latin letters in common fonts.
const latinLookalikes = "аеорсухіјѕԁӏԛԝһкοαντρικεχυ"

func allLatinLookalikes(label string) bool {
	for _, r := range label {
		if unicode.IsLetter(r) && !strings.ContainsRune(latinLookalikes, r) {
			return false
		}
	}
	return true
}

// normalizePattern returns the canonical form of a host pattern from the
// policy (deny list, allowed hosts). It never fails: a pattern that is not
// a valid name is kept in lower case, so it still matches the same string.
func normalizePattern(pattern string) string {
	pattern = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(pattern)), ".")
	if address, ok := parseIPLiteral(pattern); ok {
		return address.String()
	}
	wildcard := strings.HasPrefix(pattern, "*.")
	name := strings.TrimPrefix(pattern, "*.")
	if ascii, err := idna.Lookup.ToASCII(name); err == nil {
		name = ascii
	}
	if wildcard {
		return "*." + name
	}
	return name
}

// patternCovers reports whether every name that host stands for is matched
// by pattern. Both are normalised. A wildcard "*.d" matches every name below
// d at any depth, but not d itself. This is the wider reading of a wildcard,
// so deny checks err on the safe side.
func patternCovers(pattern, host string) bool {
	patternBase, patternWildcard := strings.CutPrefix(pattern, "*.")
	hostBase, hostWildcard := strings.CutPrefix(host, "*.")
	if !patternWildcard {
		return !hostWildcard && pattern == host
	}
	if hostWildcard {
		return hostBase == patternBase || strings.HasSuffix(hostBase, "."+patternBase)
	}
	return strings.HasSuffix(host, "."+patternBase)
}

// patternsOverlap reports whether some name is matched by both a and b.
func patternsOverlap(a, b string) bool {
	return patternCovers(a, b) || patternCovers(b, a)
}
