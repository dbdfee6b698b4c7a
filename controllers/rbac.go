package controllers

// Rules the manager needs in its own namespace: leader election (a Lease
// and its Events) and the GitHub App Secret. controller-gen writes them as
// a Role in namespace arc-lockdown next to the ClusterRole; the Helm chart
// sets the release namespace.
//
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=arc-lockdown,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",namespace=arc-lockdown,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",namespace=arc-lockdown,resources=secrets,verbs=get
