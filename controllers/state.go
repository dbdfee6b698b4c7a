package controllers

import (
	"context"
	"fmt"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/arc-lockdown/arc-lockdown/github"
	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// reconcileState carries the inputs and results of one reconcile of one
// scale set from step to step.
type reconcileState struct {
	key       types.NamespacedName
	ars       *actionsv1alpha1.AutoscalingRunnerSet
	policy    *egressv1alpha1.EgressPolicy
	namespace *corev1.Namespace

	// sse is the ScaleSetEgress as read; before is its status then, and
	// status the one this reconcile builds.
	sse    *egressv1alpha1.ScaleSetEgress
	before egressv1alpha1.ScaleSetEgressStatus
	status egressv1alpha1.ScaleSetEgressStatus

	scope    github.Scope
	scopeErr error

	// cfg is the repository file the profile is bounded from; nil selects
	// the policy's no-file profile.
	cfg       *lockdown.Config
	fetchErr  error
	configErr error
	applyErr  error

	profile  lockdown.Profile
	rendered lockdown.Rendered
	written  int
	pruned   int
}

// newState gathers the inputs of a reconcile and makes sure the scale
// set's ScaleSetEgress exists.
func (r *ScaleSetReconciler) newState(ctx context.Context, ars *actionsv1alpha1.AutoscalingRunnerSet, policy *egressv1alpha1.EgressPolicy) (*reconcileState, error) {
	s := &reconcileState{
		key:    types.NamespacedName{Namespace: ars.Namespace, Name: ars.Name},
		ars:    ars,
		policy: policy,
	}

	ns, err := r.getNamespace(ctx, ars.Namespace)
	if err != nil {
		return nil, err
	}
	s.namespace = ns

	sse, err := r.ensureScaleSetEgress(ctx, ars)
	if err != nil {
		return nil, err
	}
	r.freshStatus(s.key, sse)
	s.sse = sse
	s.before = *sse.Status.DeepCopy()
	s.status = *sse.Status.DeepCopy()
	s.status.ObservedGeneration = ars.Generation
	s.status.Policy = policy.Name

	s.scope, s.scopeErr = github.ParseConfigURL(ars.Spec.GitHubConfigUrl)
	return s, nil
}

// githubHost returns the GitHub host of the scale set, or "" when its
// githubConfigUrl does not parse.
func (s *reconcileState) githubHost() string {
	if s.scopeErr != nil {
		return ""
	}
	return s.scope.Host
}

// applyNoFileProfileFirst puts the policy's no-file profile in force for a
// scale set that has no applied profile yet, before GitHub is read, so
// that its runners are confined even while GitHub is slow or unreachable.
func (r *ScaleSetReconciler) applyNoFileProfileFirst(ctx context.Context, s *reconcileState) error {
	if s.status.Source != "" {
		return nil
	}

	profile := lockdown.EffectiveProfile(&s.policy.Spec, nil, s.githubHost())
	rendered, err := lockdown.Render(lockdown.ScaleSetFromARS(s.ars), profile, r.Mesh)
	if err != nil {
		// The profile rendered after the read fails the same way, and
		// renderAndApply reports the error in the Ready condition.
		return nil //nolint:nilerr // reported by renderAndApply
	}
	written, err := r.applyObjects(ctx, s.ars, rendered.Objects)
	if err != nil {
		return fmt.Errorf("apply the no-file profile of EgressPolicy %s: %w", s.policy.Name, err)
	}
	if written > 0 {
		ctrl.LoggerFrom(ctx).Info("Applied the no-file profile before reading GitHub", "policy", s.policy.Name, "objects", written)
	}
	s.written += written
	setCondition(&s.status, egressv1alpha1.ConditionConfigFetched, metav1.ConditionUnknown, ReasonNotFetchedYet,
		"The policy's no-file profile is in force until GitHub is read")
	return nil
}

// renderAndApply bounds the chosen file by the policy, renders the objects,
// applies them and prunes the ones no longer rendered. On an error the
// objects applied before stay in force.
func (r *ScaleSetReconciler) renderAndApply(ctx context.Context, s *reconcileState) error {
	s.profile = lockdown.EffectiveProfile(&s.policy.Spec, s.cfg, s.githubHost())

	rendered, err := lockdown.Render(lockdown.ScaleSetFromARS(s.ars), s.profile, r.Mesh)
	if err != nil {
		s.applyErr = err
		setCondition(&s.status, egressv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonRenderFailed,
			fmt.Sprintf("Rendering the profile failed, the objects applied before stay in force: %v", err))
		return nil
	}
	s.rendered = rendered

	written, err := r.applyObjects(ctx, s.ars, rendered.Objects)
	s.written += written
	if err != nil {
		s.applyErr = err
		setCondition(&s.status, egressv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonApplyFailed, err.Error())
		return err
	}

	pruned, err := r.prune(ctx, s.key, rendered.Objects)
	s.pruned = pruned
	if err != nil {
		s.applyErr = err
		setCondition(&s.status, egressv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonApplyFailed, err.Error())
		return err
	}

	s.recordProfile()
	setCondition(&s.status, egressv1alpha1.ConditionReady, metav1.ConditionTrue, ReasonApplied,
		fmt.Sprintf("%d objects in force for %d destinations", len(rendered.Objects), len(s.profile.Destinations)))
	if s.written > 0 || s.pruned > 0 {
		ctrl.LoggerFrom(ctx).Info("Applied the egress profile", "policy", s.policy.Name, "source", s.status.Source,
			"written", s.written, "pruned", s.pruned, "destinations", len(s.profile.Destinations))
		profilesApplied.WithLabelValues(string(s.status.Mode)).Inc()
	}
	destinationsGauge.WithLabelValues(s.key.Namespace, s.key.Name).Set(float64(len(s.profile.Destinations)))
	return nil
}

// outcome names the result of the reconcile for the metrics.
func (s *reconcileState) outcome() string {
	switch {
	case s.applyErr != nil:
		return resultError
	case s.fetchErr != nil:
		return resultFetchFailed
	case s.configErr != nil:
		return resultInvalidConfig
	case s.written > 0 || s.pruned > 0:
		return resultApplied
	default:
		return resultUnchanged
	}
}
