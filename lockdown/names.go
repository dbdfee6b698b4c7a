package lockdown

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

const (
	// maxNameLength is the limit of a DNS-1123 label, which every rendered
	// object name and DestinationRule subset name must satisfy.
	maxNameLength = 63
	// hashLength is the number of base32 characters of the name suffix:
	// 40 bits, so a collision between two scale sets is negligible.
	hashLength = 8
)

// lowerBase32 encodes without padding into [a-z2-7], which DNS-1123 allows.
var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// objectName returns a DNS-1123 label of at most 63 characters built from
// the scale set name and the given parts, followed by a hash of the scale
// set's namespace, its name and the parts. The hash is always present, so
// two scale sets never share a name even when their readable parts match
// ("a" + "b-runner" against "a-b" + "runner"), including in the gateway
// namespace where objects of every scale set meet.
//
// Parts may be raw hosts: the readable prefix spells "*" as "wildcard", and
// the hash covers the raw parts, so hosts that read alike once sanitised
// ("a-b.example.com" and "a.b-example.com") still get different names.
func objectName(ss ScaleSet, parts ...string) string {
	readable := sanitizeLabel(strings.ReplaceAll(strings.Join(append([]string{ss.Name}, parts...), "-"), "*", "wildcard"))
	return withHash(readable, hashOf(append([]string{ss.Namespace, ss.Name}, parts...)...))
}

// withHash joins a readable prefix and a hash, cutting the prefix so that
// the result fits in maxNameLength.
func withHash(readable, hash string) string {
	limit := maxNameLength - len(hash) - 1
	if len(readable) > limit {
		readable = strings.TrimRight(readable[:limit], "-")
	}
	if readable == "" {
		return hash
	}
	return readable + "-" + hash
}

// hashOf returns hashLength lower-case base32 characters of the SHA-256 of
// the parts, separated by a byte that no Kubernetes name or host contains.
func hashOf(parts ...string) string {
	h := sha256.New()
	for _, part := range parts {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return lowerBase32.EncodeToString(h.Sum(nil))[:hashLength]
}

// hostLabel turns a host such as "*.pypi.corp.example.com" into a readable
// label part such as "wildcard-pypi-corp-example-com".
func hostLabel(host string) string {
	return sanitizeLabel(strings.ReplaceAll(host, "*", "wildcard"))
}

// sanitizeLabel lower-cases s, replaces every character outside [a-z0-9-]
// with '-', collapses runs of '-' and trims '-' from both ends.
func sanitizeLabel(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	lastDash := true
	for _, r := range strings.ToLower(s) {
		ok := (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')
		if ok {
			b.WriteRune(r)
			lastDash = false
			continue
		}
		if !lastDash {
			b.WriteByte('-')
			lastDash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}
