package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Mode controls whether destinations outside a profile are blocked or only
// reported.
// +kubebuilder:validation:Enum=enforce;audit
type Mode string

const (
	// ModeEnforce blocks every destination outside the profile.
	ModeEnforce Mode = "enforce"
	// ModeAudit lets traffic through and reports what enforce mode would block.
	ModeAudit Mode = "audit"
)

// Protocol is the protocol a destination is reached with through the egress
// gateway.
// +kubebuilder:validation:Enum=TLS;HTTP
type Protocol string

const (
	// ProtocolTLS routes by SNI and passes TLS through the gateway untouched.
	ProtocolTLS Protocol = "TLS"
	// ProtocolHTTP routes plain HTTP by its Host header.
	ProtocolHTTP Protocol = "HTTP"
)

// Destination is one host a runner may reach, with its ports.
type Destination struct {
	// Host is a DNS name, or a wildcard of the form "*.example.com" that
	// matches exactly one more label.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`

	// Ports the runner may connect to. Empty means 443.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Ports []int32 `json:"ports,omitempty"`

	// Protocol on those ports. Empty means TLS.
	// +optional
	Protocol Protocol `json:"protocol,omitempty"`
}

// CatalogEntry is a named destination that repositories request by name,
// typically an internal mirror of a public registry.
type CatalogEntry struct {
	// Name that repositories write in their allow list, for example
	// "npm-mirror".
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// Description shown to developers next to the name.
	// +optional
	Description string `json:"description,omitempty"`

	// Destinations that the name stands for.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	Destinations []Destination `json:"destinations"`

	// Replaces lists the public hosts this entry replaces, for example
	// "registry.npmjs.org". A blocked connection to one of them is reported
	// together with this entry and its hint.
	// +optional
	Replaces []string `json:"replaces,omitempty"`

	// Hint is the one-line configuration change that points a tool at this
	// entry, for example "npm config set registry https://npm.corp.example.com/".
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Hint string `json:"hint,omitempty"`
}

// ModePolicy controls who picks the mode of a scale set.
type ModePolicy struct {
	// Default is the mode of a repository whose file sets none, and of a
	// repository without a file.
	// +kubebuilder:default=enforce
	// +optional
	Default Mode `json:"default,omitempty"`

	// Force, when set, is the mode of every selected scale set, whatever
	// mode the repository file sets.
	// +optional
	Force Mode `json:"force,omitempty"`
}

// EgressPolicySpec is the ceiling for the scale sets an EgressPolicy selects.
type EgressPolicySpec struct {
	// NamespaceSelector selects the namespaces whose scale sets this policy
	// covers. Empty selects every namespace.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// ScaleSetSelector selects AutoscalingRunnerSets by their labels. Empty
	// selects every scale set in the selected namespaces.
	// +optional
	ScaleSetSelector *metav1.LabelSelector `json:"scaleSetSelector,omitempty"`

	// Priority orders policies that select the same scale set: the highest
	// wins, and ties go to the name that sorts first.
	// +optional
	Priority int32 `json:"priority,omitempty"`

	// Mode is the default mode and an optional override.
	// +optional
	Mode ModePolicy `json:"mode,omitempty"`

	// Baseline lists the destinations every selected runner can reach,
	// whatever its repository file requests: GitHub's runner endpoints, for
	// example.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	Baseline []Destination `json:"baseline,omitempty"`

	// Catalog holds the named destinations repositories may request.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	Catalog []CatalogEntry `json:"catalog,omitempty"`

	// AllowedHosts are the host patterns repository owners may request by
	// host name, for example "*.corp.example.com". A requested host outside
	// these patterns is dropped with a reason.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	AllowedHosts []string `json:"allowedHosts,omitempty"`

	// AllowedCIDRs are the IP ranges repository owners may request. Empty
	// means IP literals are rejected.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	AllowedCIDRs []string `json:"allowedCIDRs,omitempty"`

	// Deny lists host patterns no repository can reach, even through the
	// catalog or a wildcard. The baseline is not subject to it.
	// +optional
	// +kubebuilder:validation:MaxItems=1024
	Deny []string `json:"deny,omitempty"`

	// NoFileProfile lists catalog names that a repository without
	// .github/egress.yaml gets on top of the baseline. Empty means the
	// baseline only.
	// +optional
	NoFileProfile []string `json:"noFileProfile,omitempty"`
}

// EgressPolicyStatus is the observed state of an EgressPolicy.
type EgressPolicyStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// ScaleSets is the number of scale sets this policy governs.
	// +optional
	ScaleSets int32 `json:"scaleSets,omitempty"`

	// Conditions of the policy.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// EgressPolicy is the administrator's ceiling on what runner scale sets may
// reach.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=egp
// +kubebuilder:printcolumn:name="Priority",type=integer,JSONPath=`.spec.priority`
// +kubebuilder:printcolumn:name="Scale Sets",type=integer,JSONPath=`.status.scaleSets`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EgressPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   EgressPolicySpec   `json:"spec,omitempty"`
	Status EgressPolicyStatus `json:"status,omitempty"`
}

// EgressPolicyList is a list of EgressPolicy.
//
// +kubebuilder:object:root=true
type EgressPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EgressPolicy `json:"items"`
}
