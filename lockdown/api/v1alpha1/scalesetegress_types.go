package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types of a ScaleSetEgress.
const (
	// ConditionReady is true when the rendered objects of the current
	// effective profile are applied.
	ConditionReady = "Ready"
	// ConditionConfigValid is false when the repository file could not be
	// used; the message names the file, line and value.
	ConditionConfigValid = "ConfigValid"
	// ConditionConfigFetched is false when GitHub could not be read.
	ConditionConfigFetched = "ConfigFetched"
)

// ScaleSetEgressSpec names the scale set this status belongs to.
type ScaleSetEgressSpec struct {
	// ScaleSetName is the AutoscalingRunnerSet in the same namespace.
	ScaleSetName string `json:"scaleSetName"`
}

// DroppedEntry is a requested destination that the effective profile left
// out, with the reason.
type DroppedEntry struct {
	// Entry as the repository wrote it.
	Entry string `json:"entry"`
	// Line in the repository file, when known.
	// +optional
	Line int32 `json:"line,omitempty"`
	// Reason explains why the entry was dropped and what to do.
	Reason string `json:"reason"`
}

// ConfigSource identifies the repository file a profile came from.
type ConfigSource struct {
	// Repository is "owner/repo".
	Repository string `json:"repository"`
	// Path of the file in the repository.
	Path string `json:"path"`
	// CommitSHA the file was read at.
	// +optional
	CommitSHA string `json:"commitSHA,omitempty"`
	// BlobSHA of the file, empty when the file does not exist.
	// +optional
	BlobSHA string `json:"blobSHA,omitempty"`
}

// FetchedConfig records the last read of the repository file, valid or
// not, so that the next read can be a conditional request.
type FetchedConfig struct {
	// Repository is "owner/repo" (or the organization) that was read.
	Repository string `json:"repository"`
	// Path of the file in the repository.
	// +optional
	Path string `json:"path,omitempty"`
	// Ref that was read; empty means the default branch.
	// +optional
	Ref string `json:"ref,omitempty"`
	// ETag of GitHub's response, sent as If-None-Match on the next read.
	// +optional
	ETag string `json:"etag,omitempty"`
	// BlobSHA of the file read, empty when it does not exist.
	// +optional
	BlobSHA string `json:"blobSHA,omitempty"`
	// CommitSHA the file was read at.
	// +optional
	CommitSHA string `json:"commitSHA,omitempty"`
}

// ScaleSetWarning is a configuration of the scale set, its namespace or
// its profile that weakens or defeats the lockdown.
type ScaleSetWarning struct {
	// Reason is a CamelCase constant, also the reason of the Warning Event.
	Reason string `json:"reason"`
	// Message describes the problem and what to do.
	Message string `json:"message"`
}

// ScaleSetEgressStatus is the profile the controller last enforced for one
// scale set, with the reasons.
type ScaleSetEgressStatus struct {
	// ObservedGeneration is the generation of the AutoscalingRunnerSet that
	// the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Policy is the EgressPolicy that bounds this scale set.
	// +optional
	Policy string `json:"policy,omitempty"`

	// Mode in force.
	// +optional
	Mode Mode `json:"mode,omitempty"`

	// ContainerMode detected from the scale set's pod template: default,
	// dind or kubernetes.
	// +optional
	ContainerMode string `json:"containerMode,omitempty"`

	// Source is "owner/repo@commit" of the applied file, or a note that the
	// no-file profile is in force.
	// +optional
	Source string `json:"source,omitempty"`

	// AppliedSource is the repository file of the applied profile.
	// +optional
	AppliedSource *ConfigSource `json:"appliedSource,omitempty"`

	// Destinations is the number of destinations in the applied profile.
	// +optional
	Destinations int32 `json:"destinations,omitempty"`

	// Hosts in the applied profile, sorted.
	// +optional
	Hosts []string `json:"hosts,omitempty"`

	// Dropped lists requested entries that the ceiling left out.
	// +optional
	Dropped []DroppedEntry `json:"dropped,omitempty"`

	// AppliedConfig is the content of the repository file of the applied
	// profile, empty when the no-file profile is in force. The controller
	// keeps it to bound the last good file by a changed policy while
	// GitHub is unreachable or the file is invalid.
	// +optional
	AppliedConfig string `json:"appliedConfig,omitempty"`

	// Fetched is the last read of the repository file, valid or not.
	// +optional
	Fetched *FetchedConfig `json:"fetched,omitempty"`

	// Warnings about the scale set that weaken the lockdown.
	// +optional
	Warnings []ScaleSetWarning `json:"warnings,omitempty"`

	// Conditions of the scale set's egress.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ScaleSetEgress reports the egress profile in force for one
// AutoscalingRunnerSet. The controller creates it, owned by the scale set.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sse
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.status.mode`
// +kubebuilder:printcolumn:name="Destinations",type=integer,JSONPath=`.status.destinations`
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.status.source`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ScaleSetEgress struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ScaleSetEgressSpec   `json:"spec,omitempty"`
	Status ScaleSetEgressStatus `json:"status,omitempty"`
}

// ScaleSetEgressList is a list of ScaleSetEgress.
//
// +kubebuilder:object:root=true
type ScaleSetEgressList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ScaleSetEgress `json:"items"`
}
