package controllers

import (
	"context"
	"fmt"
	"sort"
	"time"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// setCondition sets a condition with the status's observed generation.
// meta.SetStatusCondition keeps lastTransitionTime when the status of the
// condition does not change, so an unchanged condition causes no write.
func setCondition(status *egressv1alpha1.ScaleSetEgressStatus, conditionType string, value metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type:               conditionType,
		Status:             value,
		Reason:             reason,
		Message:            truncate(message, maxConditionMessage),
		ObservedGeneration: status.ObservedGeneration,
	})
}

// maxConditionMessage keeps condition messages well under the 32,768
// characters metav1.Condition allows.
const maxConditionMessage = 4096

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// cacheSyncWait bounds the wait for the cache to show an object this
// process just created.
const cacheSyncWait = 5 * time.Second

// ensureScaleSetEgress applies the scale set's ScaleSetEgress, owned by
// the scale set, and returns it as stored.
func (r *ScaleSetReconciler) ensureScaleSetEgress(ctx context.Context, ars *actionsv1alpha1.AutoscalingRunnerSet) (*egressv1alpha1.ScaleSetEgress, error) {
	sse := &egressv1alpha1.ScaleSetEgress{
		TypeMeta: metav1.TypeMeta{APIVersion: egressv1alpha1.GroupVersion.String(), Kind: "ScaleSetEgress"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      ars.Name,
			Namespace: ars.Namespace,
			Labels: map[string]string{
				egressv1alpha1.LabelScaleSet:          ars.Name,
				egressv1alpha1.LabelScaleSetNamespace: ars.Namespace,
				egressv1alpha1.LabelManagedBy:         egressv1alpha1.ManagedByValue,
			},
		},
		Spec: egressv1alpha1.ScaleSetEgressSpec{ScaleSetName: ars.Name},
	}
	if _, err := r.applyObjects(ctx, ars, []lockdown.Object{sse}); err != nil {
		return nil, err
	}

	// The cache shows a ScaleSetEgress created by the apply above only a
	// moment later, so a not-found is waited out briefly instead of failing the
	// reconcile.
	var stored egressv1alpha1.ScaleSetEgress
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, cacheSyncWait, true, func(ctx context.Context) (bool, error) {
		err := r.Client.Get(ctx, client.ObjectKeyFromObject(sse), &stored)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return nil, fmt.Errorf("get ScaleSetEgress %s/%s: %w", sse.Namespace, sse.Name, err)
	}
	return &stored, nil
}

// recordProfile copies what was applied into the status.
func (s *reconcileState) recordProfile() {
	s.status.Mode = s.profile.Mode
	s.status.ContainerMode = s.rendered.ContainerMode
	s.status.Destinations = int32(len(s.profile.Destinations))
	s.status.Source = sourceText(s.status.AppliedSource)

	hosts := make([]string, 0, len(s.profile.Destinations))
	seen := map[string]bool{}
	for _, d := range s.profile.Destinations {
		if !seen[d.Host] {
			seen[d.Host] = true
			hosts = append(hosts, d.Host)
		}
	}
	sort.Strings(hosts)
	s.status.Hosts = hosts

	s.status.Dropped = nil
	for _, d := range s.profile.Dropped {
		s.status.Dropped = append(s.status.Dropped, egressv1alpha1.DroppedEntry{Entry: d.Entry, Line: int32(d.Line), Reason: d.Reason})
	}
	s.status.Warnings = scaleSetWarnings(s.ars, s.namespace, s.scope, s.scopeErr, s.rendered.Warnings)
}

// sourceText is the Source column: "owner/repo@commit", or what is in
// force instead of a repository file.
func sourceText(source *egressv1alpha1.ConfigSource) string {
	switch {
	case source == nil:
		return "no-file profile (no valid file read yet)"
	case source.BlobSHA == "":
		return source.Repository + " (no " + source.Path + ")"
	default:
		return source.Repository + "@" + shortSHA(source.CommitSHA)
	}
}

// writeStatus patches the ScaleSetEgress status when it changed.
func (r *ScaleSetReconciler) writeStatus(ctx context.Context, s *reconcileState) error {
	if equality.Semantic.DeepEqual(s.before, s.status) {
		return nil
	}
	updated := s.sse.DeepCopy()
	updated.Status = s.status
	if err := r.Client.Status().Patch(ctx, updated, client.MergeFrom(s.sse)); err != nil {
		return fmt.Errorf("update status of ScaleSetEgress %s: %w", s.key, err)
	}
	r.rememberStatus(s.key, s.sse.UID, s.status)
	ctrl.LoggerFrom(ctx).V(1).Info("Updated ScaleSetEgress status", "source", s.status.Source)
	return nil
}

// emitEvents records Events on the scale set for what changed: an applied
// profile, newly dropped entries, a newly invalid file, a failure and
// newly found warnings. Unchanged results emit nothing, so a resync with
// nothing new writes nothing.
func (r *ScaleSetReconciler) emitEvents(ctx context.Context, s *reconcileState) {
	if r.Recorder == nil {
		return
	}
	if s.written > 0 || s.pruned > 0 {
		r.Recorder.Eventf(s.ars, nil, corev1.EventTypeNormal, ReasonApplied, "Apply",
			"Applied %d and pruned %d objects: mode %s, %d destinations from %s under EgressPolicy %s",
			s.written, s.pruned, s.status.Mode, s.status.Destinations, s.status.Source, s.policy.Name)
	}
	if s.pruned > 0 {
		r.Recorder.Eventf(s.ars, nil, corev1.EventTypeNormal, ReasonPruned, "Prune",
			"Removed %d objects that the profile no longer renders", s.pruned)
	}
	if dropped := newDropped(s.before.Dropped, s.status.Dropped); len(dropped) > 0 {
		r.Recorder.Eventf(s.ars, nil, corev1.EventTypeWarning, ReasonEntriesDropped, "Bound",
			"EgressPolicy %s left out %d requested entries: %s", s.policy.Name, len(dropped), droppedText(dropped))
	}
	r.emitConditionEvents(s)
	for _, w := range newWarnings(s.before.Warnings, s.status.Warnings) {
		r.Recorder.Eventf(s.ars, nil, corev1.EventTypeWarning, w.Reason, "Check", "%s", w.Message)
	}
}

// emitConditionEvents records a Warning Event for each condition that
// turned False in this reconcile, or kept False with a new message.
func (r *ScaleSetReconciler) emitConditionEvents(s *reconcileState) {
	for _, conditionType := range []string{egressv1alpha1.ConditionConfigFetched, egressv1alpha1.ConditionConfigValid, egressv1alpha1.ConditionReady} {
		now := meta.FindStatusCondition(s.status.Conditions, conditionType)
		if now == nil || now.Status != metav1.ConditionFalse {
			continue
		}
		was := meta.FindStatusCondition(s.before.Conditions, conditionType)
		if was != nil && was.Status == now.Status && was.Reason == now.Reason && was.Message == now.Message {
			continue
		}
		r.Recorder.Eventf(s.ars, nil, corev1.EventTypeWarning, now.Reason, conditionType, "%s", truncate(now.Message, 1000))
	}
}

func newDropped(before, now []egressv1alpha1.DroppedEntry) []egressv1alpha1.DroppedEntry {
	seen := map[string]bool{}
	for _, d := range before {
		seen[d.Entry+"\x00"+d.Reason] = true
	}
	var out []egressv1alpha1.DroppedEntry
	for _, d := range now {
		if !seen[d.Entry+"\x00"+d.Reason] {
			out = append(out, d)
		}
	}
	return out
}

func droppedText(dropped []egressv1alpha1.DroppedEntry) string {
	text := ""
	for i, d := range dropped {
		if i > 0 {
			text += "; "
		}
		if d.Line > 0 {
			text += fmt.Sprintf("line %d ", d.Line)
		}
		text += fmt.Sprintf("%s: %s", d.Entry, d.Reason)
	}
	return truncate(text, 1000)
}

func newWarnings(before, now []egressv1alpha1.ScaleSetWarning) []egressv1alpha1.ScaleSetWarning {
	seen := map[egressv1alpha1.ScaleSetWarning]bool{}
	for _, w := range before {
		seen[w] = true
	}
	var out []egressv1alpha1.ScaleSetWarning
	for _, w := range now {
		if !seen[w] {
			out = append(out, w)
		}
	}
	return out
}

// release removes what arc-lockdown applied for a scale set that no
// EgressPolicy selects any more. It deletes only objects that carry the
// scale set's labels and arc-lockdown's managed-by label, and reports the
// state in the ScaleSetEgress.
func (r *ScaleSetReconciler) release(ctx context.Context, ars *actionsv1alpha1.AutoscalingRunnerSet) error {
	key := types.NamespacedName{Namespace: ars.Namespace, Name: ars.Name}
	pruned, err := r.prune(ctx, key, nil)
	if err != nil {
		return err
	}
	if pruned > 0 {
		ctrl.LoggerFrom(ctx).Info("Removed the egress objects of a scale set no EgressPolicy selects", "pruned", pruned)
	}
	r.forgetFetch(key)
	destinationsGauge.DeleteLabelValues(key.Namespace, key.Name)

	sse, err := r.ensureScaleSetEgress(ctx, ars)
	if err != nil {
		return err
	}
	status := egressv1alpha1.ScaleSetEgressStatus{ObservedGeneration: ars.Generation}
	setCondition(&status, egressv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonNoPolicySelected,
		"No EgressPolicy selects this scale set, so arc-lockdown enforces nothing for it; create an EgressPolicy whose selectors match it")
	if c := meta.FindStatusCondition(sse.Status.Conditions, egressv1alpha1.ConditionReady); c != nil && c.Reason == ReasonNoPolicySelected {
		status.Conditions = sse.Status.Conditions
	}
	if equality.Semantic.DeepEqual(sse.Status, status) {
		return nil
	}
	updated := sse.DeepCopy()
	updated.Status = status
	if err := r.Client.Status().Patch(ctx, updated, client.MergeFrom(sse)); err != nil {
		return fmt.Errorf("update status of ScaleSetEgress %s: %w", key, err)
	}
	if r.Recorder != nil {
		r.Recorder.Eventf(ars, nil, corev1.EventTypeWarning, ReasonNoPolicySelected, "Select",
			"No EgressPolicy selects this scale set; removed %d egress objects arc-lockdown had applied", pruned)
	}
	return nil
}

// cleanUpDeleted removes every object arc-lockdown applied for a scale set
// that no longer exists. In a cluster the garbage collector removes the
// objects in the scale set's namespace through their owner references.
// The AuthorizationPolicy in the egress gateway's namespace cannot carry
// one, so only this step removes it. Deleting the others too makes the cleanup
// independent of the garbage collector's timing.
func (r *ScaleSetReconciler) cleanUpDeleted(ctx context.Context, key types.NamespacedName) error {
	r.forgetFetch(key)
	destinationsGauge.DeleteLabelValues(key.Namespace, key.Name)

	pruned, err := r.prune(ctx, key, nil)
	if err != nil {
		return err
	}
	var sse egressv1alpha1.ScaleSetEgress
	sse.Name, sse.Namespace = key.Name, key.Namespace
	if err := client.IgnoreNotFound(r.Client.Delete(ctx, &sse)); err != nil {
		return fmt.Errorf("delete ScaleSetEgress %s: %w", key, err)
	}
	if pruned > 0 {
		ctrl.LoggerFrom(ctx).Info("Removed the egress objects of a deleted scale set", "pruned", pruned)
	}
	return nil
}
