package accesslog

// The access-log pipeline reads runner pods (KubeAttributor), EphemeralRunners
// and the scale set's profile (KubeProfileLookup).

// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=actions.github.com,resources=ephemeralrunners,verbs=get;list;watch
// +kubebuilder:rbac:groups=actions.github.com,resources=autoscalingrunnersets,verbs=get;list;watch
// +kubebuilder:rbac:groups=egress.arc-lockdown.io,resources=scalesetegresses,verbs=get;list;watch
// +kubebuilder:rbac:groups=egress.arc-lockdown.io,resources=egresspolicies,verbs=get;list;watch
