package controllers

import (
	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// NewScheme returns a scheme with every type the controller reads or
// writes: the built-in types, ARC's, Istio's networking and security types
// and arc-lockdown's own.
func NewScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(actionsv1alpha1.AddToScheme(scheme))
	utilruntime.Must(istionetworkingv1.AddToScheme(scheme))
	utilruntime.Must(istiosecurityv1.AddToScheme(scheme))
	utilruntime.Must(egressv1alpha1.AddToScheme(scheme))
	return scheme
}
