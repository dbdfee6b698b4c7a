package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// FieldManager is the server-side apply field manager of every object the
// controller writes.
const FieldManager = egressv1alpha1.ManagedByValue

// DefaultResyncPeriod is how often a scale set's egress file is read again
// when nothing else triggers a reconcile.
const DefaultResyncPeriod = 5 * time.Minute

// DefaultMaxConcurrentReconciles is how many scale sets are reconciled
// at once by default. Reconciles mostly wait on the API server and GitHub.
const DefaultMaxConcurrentReconciles = 16

// fetchRetryInterval is how long the controller waits before reading GitHub
// again after a failed request that carried no rate-limit reset time.
const fetchRetryInterval = 30 * time.Second

// The RBAC rules below are exactly what the reconciler and the manager use;
// `make manifests` turns them into charts/arc-lockdown/files/role.yaml.
//
// Setting blockOwnerDeletion on an owner reference requires update on the
// owner's finalizers subresource where the OwnerReferencesPermissionEnforcement
// admission plugin is enabled.
//
// +kubebuilder:rbac:groups=actions.github.com,resources=autoscalingrunnersets,verbs=get;list;watch
// +kubebuilder:rbac:groups=actions.github.com,resources=autoscalingrunnersets/finalizers,verbs=update
// +kubebuilder:rbac:groups=egress.arc-lockdown.io,resources=egresspolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=egress.arc-lockdown.io,resources=scalesetegresses,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=egress.arc-lockdown.io,resources=scalesetegresses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.istio.io,resources=sidecars;serviceentries;gateways;virtualservices;destinationrules,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=security.istio.io,resources=authorizationpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// ScaleSetReconciler keeps the egress objects of every ARC
// AutoscalingRunnerSet in force. It selects the EgressPolicy, reads the
// repository's egress file and bounds it by the policy. Then it renders
// the objects, applies them with server-side apply, prunes what is no
// longer rendered and reports in the scale set's ScaleSetEgress.
type ScaleSetReconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// Recorder emits Events on the scale sets.
	Recorder events.EventRecorder
	// Fetcher reads .github/egress.yaml from GitHub.
	Fetcher ConfigFetcher
	// Mesh holds the Istio settings the objects are rendered with.
	Mesh lockdown.MeshOptions
	// ResyncPeriod is how often the egress file is read again; zero means
	// DefaultResyncPeriod.
	ResyncPeriod time.Duration
	// MaxConcurrentReconciles is how many scale sets are reconciled at
	// once; zero means DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int
	// ExtraSources are further event sources that enqueue scale sets, for
	// example the GitHub webhook trigger.
	ExtraSources []source.Source

	// nextFetch holds, per scale set, when GitHub may be read again. It
	// lives in memory: after a restart every scale set is read once more,
	// with the ETag kept in its status.
	mu        sync.Mutex
	nextFetch map[types.NamespacedName]time.Time

	// written holds, per scale set, the ScaleSetEgress status this process
	// last wrote. The cache can lag behind that write, and a reconcile that
	// read the older status would take the last good file for missing and
	// apply the no-file profile. The entry is used only for the same
	// ScaleSetEgress object (UID) and is dropped with the scale set.
	written map[types.NamespacedName]writtenStatus
}

// writtenStatus is a status this process wrote, with the object's UID.
type writtenStatus struct {
	uid    types.UID
	status egressv1alpha1.ScaleSetEgressStatus
}

// Reconcile brings one scale set's egress objects and status up to date.
func (r *ScaleSetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	// controller-runtime's logger already carries "namespace" and "name".
	log := ctrl.LoggerFrom(ctx).WithValues("scaleSet", req.Name)
	ctx = ctrl.LoggerInto(ctx, log)
	outcome := resultError
	start := time.Now()
	defer func() { observeReconcile(outcome, time.Since(start)) }()

	ars, err := r.getScaleSet(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, err
	}
	if ars == nil {
		outcome = resultDeleted
		return ctrl.Result{}, r.cleanUpDeleted(ctx, req.NamespacedName)
	}

	policy, err := r.selectPolicy(ctx, ars)
	if err != nil {
		return ctrl.Result{}, err
	}
	if policy == nil {
		outcome = resultNoPolicy
		return ctrl.Result{}, r.release(ctx, ars)
	}

	s, err := r.newState(ctx, ars, policy)
	if err != nil {
		return ctrl.Result{}, err
	}

	if err := r.applyNoFileProfileFirst(ctx, s); err != nil {
		setCondition(&s.status, egressv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonApplyFailed, err.Error())
		_ = r.writeStatus(ctx, s)
		return ctrl.Result{}, err
	}

	r.resolveConfig(ctx, s)

	if err := r.renderAndApply(ctx, s); err != nil {
		_ = r.writeStatus(ctx, s)
		return ctrl.Result{}, err
	}

	if err := r.writeStatus(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	r.emitEvents(ctx, s)

	outcome = s.outcome()
	return ctrl.Result{RequeueAfter: r.requeueAfter(req.NamespacedName)}, nil
}

// getScaleSet returns the scale set, or nil when it no longer exists.
func (r *ScaleSetReconciler) getScaleSet(ctx context.Context, key types.NamespacedName) (*actionsv1alpha1.AutoscalingRunnerSet, error) {
	var ars actionsv1alpha1.AutoscalingRunnerSet
	if err := r.Client.Get(ctx, key, &ars); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get AutoscalingRunnerSet %s: %w", key, err)
	}
	return &ars, nil
}

// resyncPeriod returns the configured resync period or the default.
func (r *ScaleSetReconciler) resyncPeriod() time.Duration {
	if r.ResyncPeriod > 0 {
		return r.ResyncPeriod
	}
	return DefaultResyncPeriod
}

// fetchDue reports whether GitHub may be read for the scale set now.
func (r *ScaleSetReconciler) fetchDue(key types.NamespacedName, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	next, ok := r.nextFetch[key]
	return !ok || !now.Before(next)
}

// scheduleFetch records when GitHub may be read again for the scale set.
func (r *ScaleSetReconciler) scheduleFetch(key types.NamespacedName, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nextFetch == nil {
		r.nextFetch = map[types.NamespacedName]time.Time{}
	}
	r.nextFetch[key] = at
}

// forgetFetch drops the fetch schedule and the written status of a
// deleted or released scale set.
func (r *ScaleSetReconciler) forgetFetch(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.nextFetch, key)
	delete(r.written, key)
}

// rememberStatus records a status this process wrote.
func (r *ScaleSetReconciler) rememberStatus(key types.NamespacedName, uid types.UID, status egressv1alpha1.ScaleSetEgressStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written == nil {
		r.written = map[types.NamespacedName]writtenStatus{}
	}
	r.written[key] = writtenStatus{uid: uid, status: *status.DeepCopy()}
}

// freshStatus replaces the cached status of sse with the one this process
// last wrote for it, when there is one.
func (r *ScaleSetReconciler) freshStatus(key types.NamespacedName, sse *egressv1alpha1.ScaleSetEgress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.written[key]; ok && w.uid == sse.UID {
		sse.Status = *w.status.DeepCopy()
	}
}

// requeueAfter returns the time until the next scheduled read of GitHub,
// which is the periodic resync of the scale set.
func (r *ScaleSetReconciler) requeueAfter(key types.NamespacedName) time.Duration {
	r.mu.Lock()
	next, ok := r.nextFetch[key]
	r.mu.Unlock()
	if !ok {
		return r.resyncPeriod()
	}
	wait := time.Until(next)
	if wait < time.Second {
		wait = time.Second
	}
	return wait
}

// RefreshConfig makes the next reconcile of the scale set read GitHub
// even when its resync is not due, for example after a push webhook.
func (r *ScaleSetReconciler) RefreshConfig(key types.NamespacedName) {
	r.forgetFetch(key)
}
