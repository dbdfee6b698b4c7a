// Package v1alpha1 contains the egress.arc-lockdown.io/v1alpha1 API:
// EgressPolicy, the cluster-wide ceiling an administrator sets for runner
// scale sets, and ScaleSetEgress, the per-scale-set status the controller
// reports.
//
// +kubebuilder:object:generate=true
// +groupName=egress.arc-lockdown.io
package v1alpha1
