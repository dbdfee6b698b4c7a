package lockdown

import (
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// Source records where a destination of an effective profile came from.
type Source string

const (
	// SourceBaseline marks destinations from the policy's baseline.
	SourceBaseline Source = "baseline"
	// SourceCatalog marks destinations requested by catalog name.
	SourceCatalog Source = "catalog"
	// SourceRepository marks hosts the repository file requested by name.
	SourceRepository Source = "repository"
)

// Destination is one host of an effective profile.
type Destination struct {
	// Host is normalised: lower case, no trailing dot, punycode. A wildcard
	// has the form "*.example.com".
	Host string
	// Ports are sorted and unique; never empty.
	Ports []int32
	// Protocol is TLS or HTTP.
	Protocol egressv1alpha1.Protocol
	// Source records why the host is in the profile.
	Source Source
	// CatalogName is the catalog entry that brought the host in, when
	// Source is SourceCatalog.
	CatalogName string
}

// Dropped is a requested entry that the effective profile leaves out.
type Dropped struct {
	// Entry is the value as the repository wrote it.
	Entry string
	// Line and Column locate the entry in the repository file; zero when
	// unknown.
	Line, Column int
	// Reason explains why the entry was dropped and what to do about it.
	Reason string
	// Denied is true when the policy's deny list is what dropped the entry.
	Denied bool
}

// Profile is the effective egress profile of one scale set: baseline ∪
// (request ∩ ceiling) minus deny.
type Profile struct {
	// Mode in force.
	Mode egressv1alpha1.Mode
	// Destinations sorted by host, then protocol.
	Destinations []Destination
	// Dropped lists every requested entry left out, with its reason.
	Dropped []Dropped
}
