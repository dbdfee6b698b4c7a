package v1alpha1

// Label and annotation keys that arc-lockdown sets or reads. Every key
// lives under the egress.arc-lockdown.io/ prefix.
const (
	// LabelScaleSet is set on every rendered object to the name of the
	// AutoscalingRunnerSet it belongs to.
	LabelScaleSet = "egress.arc-lockdown.io/scale-set"
	// LabelScaleSetNamespace is set on every rendered object to the
	// namespace of that AutoscalingRunnerSet, because the gateway's
	// AuthorizationPolicy lives in another namespace.
	LabelScaleSetNamespace = "egress.arc-lockdown.io/scale-set-namespace"
	// LabelComponent distinguishes the rendered objects of one scale set, for
	// example "runner-egress" or "gateway-authz".
	LabelComponent = "egress.arc-lockdown.io/component"
	// LabelManagedBy is the standard managed-by label; its value is
	// ManagedByValue on every object the controller applies.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy, and the server-side
	// apply field manager.
	ManagedByValue = "arc-lockdown"

	// AnnotationConfigRef, on an AutoscalingRunnerSet, names the git ref to
	// read .github/egress.yaml from instead of the default branch.
	AnnotationConfigRef = "egress.arc-lockdown.io/config-ref"
)
