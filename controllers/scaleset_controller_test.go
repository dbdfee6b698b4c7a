package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/arc-lockdown/arc-lockdown/controllers"
	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
	"github.com/arc-lockdown/arc-lockdown/test/envtest"
	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

// testResync is the resync period of the suite: short, so that a changed
// file on the stand-in is read within seconds.
const testResync = 2 * time.Second

// convergeTimeout bounds every wait for the controller.
const convergeTimeout = 30 * time.Second

const fileV1 = `version: 1
allow:
  - npm-mirror
  - host: build-cache.corp.example.com
  - host: artifacts.corp.example.com
`

// fileV2 drops artifacts.corp.example.com.
const fileV2 = `version: 1
allow:
  - npm-mirror
  - host: build-cache.corp.example.com
`

// fileInvalid has a bare wildcard on line 3.
const fileInvalid = `version: 1
allow:
  - host: "*"
`

func TestScaleSetController(t *testing.T) {
	for _, set := range envtest.ARCCRDSets {
		t.Run("ARC "+string(set), func(t *testing.T) {
			h := startHarness(t, harnessOptions{arc: set, resync: testResync})

			t.Run("controller identity lacks undeclared rules", func(t *testing.T) {
				testImpersonationIsInEffect(t, h)
			})
			t.Run("create applies every rendered object", func(t *testing.T) {
				testCreateAppliesProfile(t, h)
			})
			t.Run("changed file applied after resync", func(t *testing.T) {
				testResyncAppliesChangedFile(t, h)
			})
			t.Run("deleted NetworkPolicy comes back", func(t *testing.T) {
				testDriftReverted(t, h)
			})
			t.Run("GitHub 500s keep objects", func(t *testing.T) {
				testServerErrorsKeepObjects(t, h)
			})
			t.Run("rate limit keeps objects", func(t *testing.T) {
				testRateLimitKeepsObjects(t, h)
			})
			t.Run("invalid file keeps objects", func(t *testing.T) {
				testInvalidFileKeepsObjects(t, h)
			})
			t.Run("no-file profile while GitHub fails", func(t *testing.T) {
				testNoFileProfileFirst(t, h)
			})
			t.Run("warnings for known traps", func(t *testing.T) {
				testTrapWarnings(t, h)
			})
			t.Run("policy change rebounds stored file", func(t *testing.T) {
				testPolicyChangeOffline(t, h)
			})
			t.Run("deleted scale set leaves nothing", func(t *testing.T) {
				testDeleteRemovesEverything(t, h)
			})
		})
	}
}

// testImpersonationIsInEffect checks that the controller's requests carry
// the ServiceAccount's identity: it may list scale sets but not read
// Secrets outside its namespace, a rule role.yaml does not grant.
func testImpersonationIsInEffect(t *testing.T, h *harness) {
	restConfig := rest.CopyConfig(h.env.Config)
	restConfig.Impersonate = rest.ImpersonationConfig{
		UserName: fmt.Sprintf("system:serviceaccount:%s:%s", controllerNamespace, controllerAccount),
	}
	c, err := client.New(restConfig, client.Options{Scheme: h.env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	var secrets corev1.SecretList
	err = c.List(context.Background(), &secrets, client.InNamespace(runnerNamespace))
	if !apierrors.IsForbidden(err) {
		t.Errorf("listing Secrets in %s as the controller: err = %v, want Forbidden", runnerNamespace, err)
	}
	var policies egressv1alpha1.EgressPolicyList
	if err := c.List(context.Background(), &policies); err != nil {
		t.Errorf("listing EgressPolicies as the controller: %v", err)
	}
}

func testCreateAppliesProfile(t *testing.T, h *harness) {
	const name = "create"
	commit := h.addRepository(name, fileV1)
	h.create(t, scaleSet(t, name, name))

	sse := h.waitApplied(t, name, commit, convergeTimeout)
	want, profile := h.expectedObjects(t, name, fileV1)
	eventually(t, convergeTimeout, "rendered objects of "+name, func() error {
		return sameKeys(h.renderedObjects(t, name), want)
	})

	if got, wantSource := sse.Status.Source, owner+"/"+name+"@"+commit[:12]; got != wantSource {
		t.Errorf("status.source = %q, want %q", got, wantSource)
	}
	if got := sse.Status.Destinations; got != int32(len(profile.Destinations)) {
		t.Errorf("status.destinations = %d, want %d", got, len(profile.Destinations))
	}
	if got := sse.Status.Mode; got != egressv1alpha1.ModeEnforce {
		t.Errorf("status.mode = %q, want enforce", got)
	}
	if !contains(sse.Status.Hosts, "artifacts.corp.example.com") || !contains(sse.Status.Hosts, "npm.corp.example.com") {
		t.Errorf("status.hosts = %v, want artifacts.corp.example.com and npm.corp.example.com among them", sse.Status.Hosts)
	}
	for _, conditionType := range []string{egressv1alpha1.ConditionConfigFetched, egressv1alpha1.ConditionConfigValid} {
		c, err := condition(sse, conditionType)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != metav1.ConditionTrue {
			t.Errorf("%s = %s (%s: %s), want True", conditionType, c.Status, c.Reason, c.Message)
		}
	}
	checkOwnership(t, h, name)
	eventually(t, convergeTimeout, "Applied Event", func() error {
		return findEvent(h.eventsFor(t, name), controllers.ReasonApplied, commit[:12])
	})

	got, err := gaugeValue("arc_lockdown_scale_set_destinations", map[string]string{"namespace": runnerNamespace, "scale_set": name})
	if err != nil {
		t.Fatal(err)
	}
	if got != float64(len(profile.Destinations)) {
		t.Errorf("arc_lockdown_scale_set_destinations = %v, want %d", got, len(profile.Destinations))
	}
	for _, family := range []string{"arc_lockdown_reconcile_duration_seconds", "arc_lockdown_profiles_applied_total"} {
		if _, err := findFamily(family); err != nil {
			t.Error(err)
		}
	}
}

// findFamily returns a metric family from controller-runtime's registry.
func findFamily(name string) (*dto.MetricFamily, error) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return nil, err
	}
	for _, family := range families {
		if family.GetName() == name {
			return family, nil
		}
	}
	return nil, fmt.Errorf("metric %s is not registered or has no samples", name)
}

// gaugeValue returns the value of the gauge sample with the given labels.
func gaugeValue(name string, labels map[string]string) (float64, error) {
	family, err := findFamily(name)
	if err != nil {
		return 0, err
	}
	for _, metric := range family.GetMetric() {
		matched := 0
		for _, pair := range metric.GetLabel() {
			if labels[pair.GetName()] == pair.GetValue() {
				matched++
			}
		}
		if matched == len(labels) {
			return metric.GetGauge().GetValue(), nil
		}
	}
	return 0, fmt.Errorf("metric %s has no sample with labels %v", name, labels)
}

// checkOwnership asserts what lets a real cluster's garbage collector
// remove the objects with the scale set: every object in the scale set's
// namespace has a controller owner reference to it that blocks owner
// deletion. The AuthorizationPolicy in the gateway's namespace has none;
// testDeleteRemovesEverything covers it.
func checkOwnership(t *testing.T, h *harness, name string) {
	t.Helper()
	var ars metav1.PartialObjectMetadata
	ars.SetGroupVersionKind(scaleSet(t, name, name).GroupVersionKind())
	if err := h.admin.Get(context.Background(), client.ObjectKey{Namespace: runnerNamespace, Name: name}, &ars); err != nil {
		t.Fatal(err)
	}
	objects := h.renderedObjects(t, name)
	sse, err := h.scaleSetEgress(name)
	if err != nil {
		t.Fatal(err)
	}
	objects["ScaleSetEgress "+runnerNamespace+"/"+name] = sse

	for key, obj := range objects {
		refs := obj.GetOwnerReferences()
		if obj.GetNamespace() != runnerNamespace {
			if len(refs) != 0 {
				t.Errorf("%s in another namespace has owner references %+v; cross-namespace owners are invalid", key, refs)
			}
			continue
		}
		if len(refs) != 1 {
			t.Errorf("%s has %d owner references, want 1", key, len(refs))
			continue
		}
		ref := refs[0]
		if ref.UID != ars.UID || ref.Kind != "AutoscalingRunnerSet" || ref.APIVersion != "actions.github.com/v1alpha1" {
			t.Errorf("%s owner = %s %s %s, want the scale set (uid %s)", key, ref.APIVersion, ref.Kind, ref.UID, ars.UID)
		}
		if ref.Controller == nil || !*ref.Controller {
			t.Errorf("%s owner reference is not controller=true", key)
		}
		if ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("%s owner reference does not block owner deletion", key)
		}
	}
}

func testResyncAppliesChangedFile(t *testing.T, h *harness) {
	const name = "resync"
	commit := h.addRepository(name, fileV1)
	h.create(t, scaleSet(t, name, name))
	h.waitApplied(t, name, commit, convergeTimeout)
	before := h.renderedObjects(t, name)
	if !hasObjectFor(before, "ServiceEntry", "artifacts") {
		t.Fatalf("no ServiceEntry for artifacts.corp.example.com before the change: %v", keys(before))
	}

	commit2 := h.gh.SetFile(owner+"/"+name, "main", lockdown.ConfigPath, []byte(fileV2))
	sse := h.waitApplied(t, name, commit2, convergeTimeout)

	want, _ := h.expectedObjects(t, name, fileV2)
	eventually(t, convergeTimeout, "objects of the changed file", func() error {
		return sameKeys(h.renderedObjects(t, name), want)
	})
	after := h.renderedObjects(t, name)
	if hasObjectFor(after, "ServiceEntry", "artifacts") || hasObjectFor(after, "VirtualService", "artifacts") {
		t.Errorf("objects for the removed host artifacts.corp.example.com remain: %v", keys(after))
	}
	if contains(sse.Status.Hosts, "artifacts.corp.example.com") {
		t.Errorf("status.hosts still lists the removed host: %v", sse.Status.Hosts)
	}
	eventually(t, convergeTimeout, "Pruned Event", func() error {
		return findEvent(h.eventsFor(t, name), controllers.ReasonPruned, "no longer renders")
	})
}

func testDriftReverted(t *testing.T, h *harness) {
	const name = "drift"
	commit := h.addRepository(name, fileV1)
	h.create(t, scaleSet(t, name, name))
	h.waitApplied(t, name, commit, convergeTimeout)

	var victim *networkingv1.NetworkPolicy
	for _, obj := range h.renderedObjects(t, name) {
		if np, ok := obj.(*networkingv1.NetworkPolicy); ok {
			victim = np
			break
		}
	}
	if victim == nil {
		t.Fatal("no NetworkPolicy rendered")
	}
	if err := h.admin.Delete(context.Background(), victim); err != nil {
		t.Fatalf("delete NetworkPolicy %s: %v", victim.Name, err)
	}

	// One reconcile follows the delete event; the resync period is far
	// longer than this wait, so the resync cannot be what restores it.
	eventually(t, testResync/2, "NetworkPolicy "+victim.Name+" restored", func() error {
		var np networkingv1.NetworkPolicy
		if err := h.admin.Get(context.Background(), client.ObjectKeyFromObject(victim), &np); err != nil {
			return err
		}
		if np.UID == victim.UID {
			return fmt.Errorf("still the deleted object")
		}
		return nil
	})

	// A value changed by hand is set back too.
	var np networkingv1.NetworkPolicy
	if err := h.admin.Get(context.Background(), client.ObjectKeyFromObject(victim), &np); err != nil {
		t.Fatal(err)
	}
	if len(np.Spec.PodSelector.MatchLabels) == 0 {
		t.Fatalf("NetworkPolicy %s selects pods by no label", np.Name)
	}
	original := np.Spec.PodSelector.DeepCopy()
	patch := client.MergeFrom(np.DeepCopy())
	for k := range np.Spec.PodSelector.MatchLabels {
		np.Spec.PodSelector.MatchLabels[k] = "tampered"
	}
	if err := h.admin.Patch(context.Background(), &np, patch); err != nil {
		t.Fatalf("tamper with NetworkPolicy %s: %v", np.Name, err)
	}
	eventually(t, testResync/2, "NetworkPolicy "+np.Name+" pod selector restored", func() error {
		var got networkingv1.NetworkPolicy
		if err := h.admin.Get(context.Background(), client.ObjectKeyFromObject(victim), &got); err != nil {
			return err
		}
		for k, v := range original.MatchLabels {
			if got.Spec.PodSelector.MatchLabels[k] != v {
				return fmt.Errorf("podSelector %s=%q, want %q", k, got.Spec.PodSelector.MatchLabels[k], v)
			}
		}
		return nil
	})
}

func testServerErrorsKeepObjects(t *testing.T, h *harness) {
	const name = "flaky"
	commit := h.addRepository(name, fileV1)
	h.create(t, scaleSet(t, name, name))
	h.waitApplied(t, name, commit, convergeTimeout)
	before := h.renderedObjects(t, name)

	// A new file that would remove a host, behind a failing API.
	h.gh.InjectFault(ghstandin.Fault{Method: http.MethodGet, Path: "^/repos/" + owner + "/" + name + "/", Status: http.StatusInternalServerError})
	h.gh.SetFile(owner+"/"+name, "main", lockdown.ConfigPath, []byte(fileV2))

	sse := waitCondition(t, h, name, egressv1alpha1.ConditionConfigFetched, metav1.ConditionFalse, controllers.ReasonFetchFailed)
	c, _ := condition(sse, egressv1alpha1.ConditionConfigFetched)
	if !strings.Contains(c.Message, "500") {
		t.Errorf("ConfigFetched message does not give the status code: %s", c.Message)
	}
	if err := sameKeys(h.renderedObjects(t, name), before); err != nil {
		t.Errorf("objects changed while GitHub failed: %v", err)
	}
	if sse.Status.AppliedSource == nil || sse.Status.AppliedSource.CommitSHA != commit {
		t.Errorf("applied source changed while GitHub failed: %+v", sse.Status.AppliedSource)
	}
	eventually(t, convergeTimeout, "FetchFailed Event", func() error {
		return findEvent(h.eventsFor(t, name), controllers.ReasonFetchFailed, "500")
	})
}

func testRateLimitKeepsObjects(t *testing.T, h *harness) {
	const name = "limited"
	const limitedOwner = "acme-limited"
	installation := h.gh.AddInstallation(limitedOwner)
	h.gh.AddRepository(limitedOwner+"/"+name, "main")
	commit := h.gh.SetFile(limitedOwner+"/"+name, "main", lockdown.ConfigPath, []byte(fileV1))
	ars := scaleSet(t, name, name)
	ars.Object["spec"].(map[string]any)["githubConfigUrl"] = "https://github.com/" + limitedOwner + "/" + name
	h.create(t, ars)
	h.waitApplied(t, name, commit, convergeTimeout)
	before := h.renderedObjects(t, name)

	h.gh.ExhaustRateLimit(installation)
	h.gh.SetFile(limitedOwner+"/"+name, "main", lockdown.ConfigPath, []byte(fileV2))

	sse := waitCondition(t, h, name, egressv1alpha1.ConditionConfigFetched, metav1.ConditionFalse, controllers.ReasonRateLimited)
	c, _ := condition(sse, egressv1alpha1.ConditionConfigFetched)
	if !strings.Contains(c.Message, "rate limit") {
		t.Errorf("ConfigFetched message does not mention the rate limit: %s", c.Message)
	}
	if err := sameKeys(h.renderedObjects(t, name), before); err != nil {
		t.Errorf("objects changed while rate limited: %v", err)
	}

	// A 429 with a Retry-After longer than the client waits is GitHub's
	// secondary rate limit. The client holds back every request of that
	// installation until then, so it gets an installation of its own.
	const secondary = "limited-429"
	const secondaryOwner = "acme-secondary"
	h.gh.AddInstallation(secondaryOwner)
	h.gh.AddRepository(secondaryOwner+"/"+secondary, "main")
	commit = h.gh.SetFile(secondaryOwner+"/"+secondary, "main", lockdown.ConfigPath, []byte(fileV1))
	ars = scaleSet(t, secondary, secondary)
	ars.Object["spec"].(map[string]any)["githubConfigUrl"] = "https://github.com/" + secondaryOwner + "/" + secondary
	h.create(t, ars)
	h.waitApplied(t, secondary, commit, convergeTimeout)
	before = h.renderedObjects(t, secondary)
	h.gh.InjectFault(ghstandin.Fault{Path: "^/repos/" + secondaryOwner + "/" + secondary + "/", Status: http.StatusTooManyRequests, RetryAfter: 10 * time.Minute})
	h.gh.SetFile(secondaryOwner+"/"+secondary, "main", lockdown.ConfigPath, []byte(fileV2))

	sse = waitCondition(t, h, secondary, egressv1alpha1.ConditionConfigFetched, metav1.ConditionFalse, controllers.ReasonRateLimited)
	c, _ = condition(sse, egressv1alpha1.ConditionConfigFetched)
	if !strings.Contains(c.Message, "secondary") {
		t.Errorf("ConfigFetched message does not name the secondary rate limit: %s", c.Message)
	}
	if err := sameKeys(h.renderedObjects(t, secondary), before); err != nil {
		t.Errorf("objects changed after a 429: %v", err)
	}
}

func testInvalidFileKeepsObjects(t *testing.T, h *harness) {
	const name = "invalid"
	commit := h.addRepository(name, fileV1)
	h.create(t, scaleSet(t, name, name))
	h.waitApplied(t, name, commit, convergeTimeout)
	before := h.renderedObjects(t, name)

	h.gh.SetFile(owner+"/"+name, "main", lockdown.ConfigPath, []byte(fileInvalid))

	sse := waitCondition(t, h, name, egressv1alpha1.ConditionConfigValid, metav1.ConditionFalse, controllers.ReasonConfigInvalid)
	c, _ := condition(sse, egressv1alpha1.ConditionConfigValid)
	wantLine := lockdown.ConfigPath + ":3:"
	if !strings.Contains(c.Message, wantLine) {
		t.Errorf("ConfigValid message does not name %s: %s", wantLine, c.Message)
	}
	if err := sameKeys(h.renderedObjects(t, name), before); err != nil {
		t.Errorf("objects changed after an invalid file: %v", err)
	}
	if sse.Status.AppliedSource == nil || sse.Status.AppliedSource.CommitSHA != commit {
		t.Errorf("applied source changed after an invalid file: %+v", sse.Status.AppliedSource)
	}
	ready, _ := condition(sse, egressv1alpha1.ConditionReady)
	if ready.Status != metav1.ConditionTrue {
		t.Errorf("Ready = %s (%s), want True: the last good profile is in force", ready.Status, ready.Message)
	}
	eventually(t, convergeTimeout, "Invalid Event naming the line", func() error {
		return findEvent(h.eventsFor(t, name), controllers.ReasonConfigInvalid, wantLine)
	})
}

// testDeleteRemovesEverything deletes a scale set. envtest runs no
// garbage collector, so the objects in the scale set's namespace are
// covered twice. checkOwnership asserts the owner references that a real
// cluster's garbage collector acts on. Then the controller itself deletes
// every object carrying the scale set's labels once the scale set is
// gone, which is the only way the AuthorizationPolicy in the gateway's
// namespace is removed.
func testDeleteRemovesEverything(t *testing.T, h *harness) {
	const name = "doomed"
	commit := h.addRepository(name, fileV1)
	ars := scaleSet(t, name, name)
	h.create(t, ars)
	h.waitApplied(t, name, commit, convergeTimeout)
	objects := h.renderedObjects(t, name)
	if !hasObjectFor(objects, "AuthorizationPolicy", "") {
		t.Fatalf("no AuthorizationPolicy rendered: %v", keys(objects))
	}
	checkOwnership(t, h, name)

	if err := h.admin.Delete(context.Background(), ars); err != nil {
		t.Fatalf("delete scale set: %v", err)
	}
	eventually(t, convergeTimeout, "objects of the deleted scale set gone", func() error {
		if left := h.renderedObjects(t, name); len(left) > 0 {
			return fmt.Errorf("left: %v", keys(left))
		}
		if _, err := h.scaleSetEgress(name); !apierrors.IsNotFound(err) {
			return fmt.Errorf("ScaleSetEgress: err = %w, want NotFound", err)
		}
		return nil
	})
}

// testNoFileProfileFirst creates a scale set whose repository cannot be
// read at all: the policy's no-file profile must be in force anyway.
func testNoFileProfileFirst(t *testing.T, h *harness) {
	const name = "unreachable"
	h.addRepository(name, fileV1)
	h.gh.InjectFault(ghstandin.Fault{Method: http.MethodGet, Path: "^/repos/" + owner + "/" + name + "/", Status: http.StatusBadGateway})
	h.create(t, scaleSet(t, name, name))

	waitCondition(t, h, name, egressv1alpha1.ConditionConfigFetched, metav1.ConditionFalse, controllers.ReasonFetchFailed)
	want, _ := h.expectedObjects(t, name, "")
	eventually(t, convergeTimeout, "no-file profile objects", func() error {
		return sameKeys(h.renderedObjects(t, name), want)
	})
	sse := waitCondition(t, h, name, egressv1alpha1.ConditionReady, metav1.ConditionTrue, controllers.ReasonApplied)
	if !strings.HasPrefix(sse.Status.Source, "no-file profile") {
		t.Errorf("status.source = %q, want the no-file profile", sse.Status.Source)
	}
	if sse.Status.AppliedSource != nil {
		t.Errorf("status.appliedSource = %+v, want none before GitHub was read", sse.Status.AppliedSource)
	}
}

// testTrapWarnings creates a dind, organization-level scale set whose pod
// template turns off sidecar injection, and expects a warning for each.
func testTrapWarnings(t *testing.T, h *harness) {
	const name = "traps"
	ars := envtest.SampleObject(t, "dind-repo.yaml", "AutoscalingRunnerSet").DeepCopy()
	ars.SetName(name)
	ars.SetNamespace(runnerNamespace)
	spec := ars.Object["spec"].(map[string]any)
	spec["githubConfigUrl"] = "https://github.com/" + owner
	template := spec["template"].(map[string]any)
	template["metadata"] = map[string]any{"labels": map[string]any{"sidecar.istio.io/inject": "false"}}
	h.create(t, ars)

	wantReasons := []string{controllers.ReasonDindWithoutReroute, controllers.ReasonNoSidecar, controllers.ReasonOrganizationScaleSet}
	eventually(t, convergeTimeout, "warnings in status", func() error {
		sse, err := h.scaleSetEgress(name)
		if err != nil {
			return err
		}
		got := map[string]bool{}
		for _, w := range sse.Status.Warnings {
			got[w.Reason] = true
		}
		for _, reason := range wantReasons {
			if !got[reason] {
				return fmt.Errorf("no %s warning in %+v", reason, sse.Status.Warnings)
			}
		}
		return nil
	})
	for _, reason := range wantReasons {
		eventually(t, convergeTimeout, reason+" Event", func() error {
			return findEvent(h.eventsFor(t, name), reason, "")
		})
	}
}

// testPolicyChangeOffline narrows the policy while GitHub fails: the
// stored last good file is bounded by the new policy without a read.
// Then the policy stops selecting the scale set, and its objects go.
func testPolicyChangeOffline(t *testing.T, h *harness) {
	const name = "offline"
	commit := h.addRepository(name, fileV1)
	h.create(t, scaleSet(t, name, name))
	h.waitApplied(t, name, commit, convergeTimeout)
	h.gh.InjectFault(ghstandin.Fault{Method: http.MethodGet, Path: "^/repos/" + owner + "/" + name + "/", Status: http.StatusServiceUnavailable})

	original := h.policy.DeepCopy()
	t.Cleanup(func() { h.updatePolicy(t, func(p *egressv1alpha1.EgressPolicy) { p.Spec = original.Spec }) })
	h.updatePolicy(t, func(p *egressv1alpha1.EgressPolicy) { p.Spec.AllowedHosts = nil })

	want, profile := h.expectedObjects(t, name, fileV1)
	if len(profile.Dropped) == 0 {
		t.Fatal("the narrowed policy drops nothing; the test does not exercise re-bounding")
	}
	eventually(t, convergeTimeout, "objects bounded by the narrowed policy", func() error {
		return sameKeys(h.renderedObjects(t, name), want)
	})
	sse, err := h.scaleSetEgress(name)
	if err != nil {
		t.Fatal(err)
	}
	if sse.Status.AppliedSource == nil || sse.Status.AppliedSource.CommitSHA != commit {
		t.Errorf("applied source = %+v, want commit %s kept", sse.Status.AppliedSource, commit)
	}
	eventually(t, convergeTimeout, "EntriesDropped Event", func() error {
		return findEvent(h.eventsFor(t, name), controllers.ReasonEntriesDropped, "build-cache.corp.example.com")
	})

	h.updatePolicy(t, func(p *egressv1alpha1.EgressPolicy) {
		p.Spec.ScaleSetSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key: "egress-exempt", Operator: metav1.LabelSelectorOpDoesNotExist,
		}}}
	})
	var ars actionsv1alpha1.AutoscalingRunnerSet
	if err := h.admin.Get(context.Background(), client.ObjectKey{Namespace: runnerNamespace, Name: name}, &ars); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(ars.DeepCopy())
	ars.Labels["egress-exempt"] = "true"
	if err := h.admin.Patch(context.Background(), &ars, patch); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, h, name, egressv1alpha1.ConditionReady, metav1.ConditionFalse, controllers.ReasonNoPolicySelected)
	eventually(t, convergeTimeout, "objects of the unselected scale set gone", func() error {
		if left := h.renderedObjects(t, name); len(left) > 0 {
			return fmt.Errorf("left: %v", keys(left))
		}
		return nil
	})
}

// waitCondition waits for a condition with the given status and reason.
func waitCondition(t *testing.T, h *harness, name, conditionType string, status metav1.ConditionStatus, reason string) *egressv1alpha1.ScaleSetEgress {
	t.Helper()
	var sse *egressv1alpha1.ScaleSetEgress
	eventually(t, convergeTimeout, fmt.Sprintf("%s=%s with reason %s", conditionType, status, reason), func() error {
		var err error
		if sse, err = h.scaleSetEgress(name); err != nil {
			return err
		}
		c, err := condition(sse, conditionType)
		if err != nil {
			return err
		}
		if c.Status != status || c.Reason != reason {
			return fmt.Errorf("%s is %s/%s: %s", conditionType, c.Status, c.Reason, c.Message)
		}
		return nil
	})
	return sse
}

func hasObjectFor(objects map[string]client.Object, kind, nameContains string) bool {
	for key := range objects {
		if strings.HasPrefix(key, kind+" ") && strings.Contains(key, nameContains) {
			return true
		}
	}
	return false
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}
