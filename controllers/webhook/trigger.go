package webhook

import (
	"context"
	"fmt"
	"strings"
	"time"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/arc-lockdown/arc-lockdown/github"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// DefaultTriggerBuffer is the capacity of a Trigger's event channel.
const DefaultTriggerBuffer = 1024

// sendTimeout bounds the wait for room in a full event channel, which
// fills up only when the reconciler is not consuming it.
const sendTimeout = 10 * time.Second

// The Trigger and the ConfigChecker read only what the scale-set
// reconciler reads too; `make manifests` merges these rules with its own.
//
// +kubebuilder:rbac:groups=actions.github.com,resources=autoscalingrunnersets,verbs=get;list;watch
// +kubebuilder:rbac:groups=egress.arc-lockdown.io,resources=egresspolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// Trigger makes the scale-set reconciler reconcile chosen
// AutoscalingRunnerSets at once. It sends one generic event per scale set
// to a channel that Source turns into a controller-runtime source.
type Trigger struct {
	reader    client.Reader
	refresher ConfigRefresher
	events    chan event.TypedGenericEvent[client.Object]
}

// ConfigRefresher makes the next reconcile of a scale set read GitHub even
// when its periodic resync is not due. The scale-set reconciler implements
// it.
type ConfigRefresher interface {
	RefreshConfig(key types.NamespacedName)
}

// NewTrigger returns a Trigger that lists AutoscalingRunnerSets through
// reader, typically the manager's cached client, and marks each triggered
// scale set for a fresh read through refresher. A nil refresher skips that
// step, so the reconciler decides by its own schedule whether to read
// GitHub again.
func NewTrigger(reader client.Reader, refresher ConfigRefresher) *Trigger {
	return &Trigger{reader: reader, refresher: refresher, events: make(chan event.TypedGenericEvent[client.Object], DefaultTriggerBuffer)}
}

// Source returns the controller-runtime source of the Trigger's events,
// each enqueued as a request for the AutoscalingRunnerSet it names. Wire it
// into the scale-set reconciler with
// builder.WatchesRawSource(trigger.Source()); a source can be started by
// one controller only.
func (t *Trigger) Source() source.Source {
	return source.Channel(t.events, &handler.EnqueueRequestForObject{})
}

// Events returns the channel the Trigger sends to, for callers that build
// their own source.
func (t *Trigger) Events() <-chan event.TypedGenericEvent[client.Object] {
	return t.events
}

// TriggerRepository sends an event for every scale set whose configuration
// file lives in repo and is read from ref: the repository-level scale sets
// of repo, and the organization-level scale sets of repo's owner when repo
// is the owner's ".github" repository. A scale set reads the ref named by
// its egress.arc-lockdown.io/config-ref annotation, else the default branch.
// An empty ref matches every such scale set.
func (t *Trigger) TriggerRepository(ctx context.Context, repo Repository, ref string) (int, error) {
	return t.send(ctx, func(scope github.Scope, ars *actionsv1alpha1.AutoscalingRunnerSet) bool {
		if !sameOwner(scope, repo.Host, repo.Owner) || !readsConfigFrom(scope, repo.Name) {
			return false
		}
		return ref == "" || refMatches(ref, ars.Annotations[egressv1alpha1.AnnotationConfigRef], repo.DefaultBranch)
	})
}

// TriggerOwner sends an event for every repository- and organization-level
// scale set of owner on host.
func (t *Trigger) TriggerOwner(ctx context.Context, host, owner string) (int, error) {
	return t.send(ctx, func(scope github.Scope, _ *actionsv1alpha1.AutoscalingRunnerSet) bool {
		return sameOwner(scope, host, owner)
	})
}

// send lists the scale sets and sends an event for each one that match
// accepts. Scale sets whose githubConfigUrl does not parse are skipped,
// because the reconciler reports them.
func (t *Trigger) send(ctx context.Context, match func(github.Scope, *actionsv1alpha1.AutoscalingRunnerSet) bool) (int, error) {
	sets, err := servingScaleSets(ctx, t.reader, match)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	for i := range sets {
		if t.refresher != nil {
			t.refresher.RefreshConfig(client.ObjectKeyFromObject(&sets[i]))
		}
		select {
		case t.events <- event.TypedGenericEvent[client.Object]{Object: &sets[i]}:
		case <-ctx.Done():
			return i, fmt.Errorf("send reconcile event for scale set %s/%s: %w", sets[i].Namespace, sets[i].Name, ctx.Err())
		}
	}
	scaleSetsTriggered.Add(float64(len(sets)))
	return len(sets), nil
}

// servingScaleSets lists the AutoscalingRunnerSets of every namespace and
// returns those that match accepts.
func servingScaleSets(ctx context.Context, reader client.Reader, match func(github.Scope, *actionsv1alpha1.AutoscalingRunnerSet) bool) ([]actionsv1alpha1.AutoscalingRunnerSet, error) {
	var list actionsv1alpha1.AutoscalingRunnerSetList
	if err := reader.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("list AutoscalingRunnerSets: %w", err)
	}
	var sets []actionsv1alpha1.AutoscalingRunnerSet
	for i := range list.Items {
		scope, err := github.ParseConfigURL(list.Items[i].Spec.GitHubConfigUrl)
		if err != nil {
			continue
		}
		if match(scope, &list.Items[i]) {
			sets = append(sets, list.Items[i])
		}
	}
	return sets, nil
}

// sameOwner reports whether scope is an organization or repository scope
// of owner on host. GitHub names are case-insensitive.
func sameOwner(scope github.Scope, host, owner string) bool {
	return scope.Enterprise == "" && strings.EqualFold(scope.Host, host) && strings.EqualFold(scope.Owner, owner)
}

// readsConfigFrom reports whether a scale set of scope reads its
// configuration file from the repository named name.
func readsConfigFrom(scope github.Scope, name string) bool {
	_, repo, err := github.ConfigRepository(scope)
	return err == nil && strings.EqualFold(repo, name)
}

// refMatches reports whether a pushed ref ("refs/heads/main") is the ref a
// scale set reads: configRef when set (a branch, a tag or a full ref),
// otherwise the default branch.
func refMatches(pushed, configRef, defaultBranch string) bool {
	if configRef == "" {
		return defaultBranch != "" && pushed == "refs/heads/"+defaultBranch
	}
	if strings.HasPrefix(configRef, "refs/") {
		return pushed == configRef
	}
	return pushed == "refs/heads/"+configRef || pushed == "refs/tags/"+configRef
}
