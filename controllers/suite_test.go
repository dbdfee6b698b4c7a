package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	"github.com/go-logr/logr"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/arc-lockdown/arc-lockdown/controllers"
	"github.com/arc-lockdown/arc-lockdown/github"
	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
	"github.com/arc-lockdown/arc-lockdown/test/envtest"
	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

// Names the suite creates in the API server.
const (
	controllerNamespace = "arc-lockdown"
	controllerAccount   = "arc-lockdown"
	runnerNamespace     = "arc-runners"
	gatewayNamespace    = "istio-system"
	policyName          = "default"
	owner               = "acme"
)

func init() {
	// TEST_CONTROLLER_LOGS=1 shows the controller's logs.
	if os.Getenv("TEST_CONTROLLER_LOGS") != "" {
		log.SetLogger(zap.New(zap.UseDevMode(true)))
	} else {
		log.SetLogger(logr.Discard())
	}
}

// harness is one API server, one GitHub stand-in and the controller
// running in-process as a ServiceAccount with the generated RBAC rules.
type harness struct {
	env    *envtest.Env
	admin  client.Client
	gh     *ghstandin.Server
	mesh   lockdown.MeshOptions
	policy *egressv1alpha1.EgressPolicy

	// started is when the manager was started.
	started time.Time

	// writes counts the controller's write requests (POST, PUT, PATCH,
	// DELETE) to the API server.
	writes *atomic.Int64
}

// harnessOptions tune a harness.
type harnessOptions struct {
	arc    envtest.ARCCRDSet
	resync time.Duration
	// configure runs before the manager starts, for example to create
	// scale sets that a cold start should find.
	configure func(h *harness)
}

// startHarness starts the API server, the stand-in and the controller,
// and stops them when the test ends.
func startHarness(tb testing.TB, opts harnessOptions) *harness {
	tb.Helper()
	env := envtest.Start(tb, envtest.Options{ARC: opts.arc})
	h := &harness{
		env:    env,
		admin:  env.Client,
		gh:     ghstandin.New(tb),
		mesh:   lockdown.DefaultMeshOptions(),
		writes: &atomic.Int64{},
	}
	h.gh.AddInstallation(owner)

	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: controllerNamespace}},
		{ObjectMeta: metav1.ObjectMeta{Name: gatewayNamespace}},
		{ObjectMeta: metav1.ObjectMeta{Name: runnerNamespace, Labels: map[string]string{"istio-injection": "enabled"}}},
	} {
		h.create(tb, ns)
	}
	grantGeneratedRBAC(tb, h.admin)
	h.policy = h.createPolicy(tb)
	if opts.configure != nil {
		opts.configure(h)
	}

	h.startController(tb, opts.resync)
	return h
}

// startController runs the manager and the reconciler as the
// ServiceAccount, through a rest.Config that impersonates it.
func (h *harness) startController(tb testing.TB, resync time.Duration) {
	tb.Helper()
	restConfig := rest.CopyConfig(h.env.Config)
	restConfig.Impersonate = rest.ImpersonationConfig{
		UserName: fmt.Sprintf("system:serviceaccount:%s:%s", controllerNamespace, controllerAccount),
	}
	restConfig.QPS, restConfig.Burst = 500, 1000
	restConfig.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &writeCounter{next: rt, writes: h.writes}
	})

	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 controllers.NewScheme(),
		Cache:                  controllers.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		tb.Fatalf("create manager: %v", err)
	}
	clients, err := github.NewClientSet(github.AppCredentials{AppID: h.gh.AppID(), PrivateKey: h.gh.PrivateKeyPEM()},
		github.Options{
			BaseURLs:       map[string]string{"github.com": h.gh.BaseURL()},
			RetryBaseDelay: 10 * time.Millisecond,
		})
	if err != nil {
		tb.Fatalf("create GitHub client set: %v", err)
	}
	reconciler := &controllers.ScaleSetReconciler{
		Client:       mgr.GetClient(),
		Recorder:     mgr.GetEventRecorder("arc-lockdown"),
		Fetcher:      controllers.GitHubFetcher{Clients: clients},
		Mesh:         h.mesh,
		ResyncPeriod: resync,
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := reconciler.SetupWithManager(ctx, mgr); err != nil {
		cancel()
		tb.Fatalf("set up reconciler: %v", err)
	}

	done := make(chan error, 1)
	h.started = time.Now()
	go func() { done <- mgr.Start(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("manager stopped with an error: %v", err)
		}
	})
}

// writeCounter counts write requests that pass through it.
type writeCounter struct {
	next   http.RoundTripper
	writes *atomic.Int64
}

func (w *writeCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		w.writes.Add(1)
	}
	return w.next.RoundTrip(req)
}

// grantGeneratedRBAC creates the ClusterRole and Role of
// charts/arc-lockdown/files/role.yaml, exactly as `make manifests` wrote
// them, and binds them to the controller's ServiceAccount.
func grantGeneratedRBAC(tb testing.TB, c client.Client) {
	tb.Helper()
	root, err := envtest.RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	objs, err := envtest.ReadObjects(filepath.Join(root, "charts", "arc-lockdown", "files", "role.yaml"))
	if err != nil {
		tb.Fatalf("read generated RBAC rules: %v", err)
	}
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: controllerAccount, Namespace: controllerNamespace}
	ctx := context.Background()
	roles := 0
	for _, obj := range objs {
		switch obj.GetKind() {
		case "ClusterRole":
			createUnstructured(tb, c, obj)
			binding := &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: obj.GetName()},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: obj.GetName()},
				Subjects:   []rbacv1.Subject{subject},
			}
			if err := c.Create(ctx, binding); err != nil {
				tb.Fatalf("create ClusterRoleBinding: %v", err)
			}
			roles++
		case "Role":
			// The chart grants Role rules in its release namespace.
			obj.SetNamespace(controllerNamespace)
			createUnstructured(tb, c, obj)
			binding := &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: obj.GetName(), Namespace: controllerNamespace},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: obj.GetName()},
				Subjects:   []rbacv1.Subject{subject},
			}
			if err := c.Create(ctx, binding); err != nil {
				tb.Fatalf("create RoleBinding: %v", err)
			}
			roles++
		default:
			tb.Fatalf("role.yaml holds a %s; expected ClusterRole and Role documents only", obj.GetKind())
		}
	}
	if roles == 0 {
		tb.Fatal("role.yaml holds no ClusterRole: run `make manifests`")
	}
}

func createUnstructured(tb testing.TB, c client.Client, obj *unstructured.Unstructured) {
	tb.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		tb.Fatalf("create %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
}

func (h *harness) create(tb testing.TB, obj client.Object) {
	tb.Helper()
	if err := h.admin.Create(context.Background(), obj); err != nil {
		tb.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// createPolicy creates the EgressPolicy of the suite: GitHub's runner
// endpoints as baseline, a catalog entry and a host pattern repositories
// may request.
func (h *harness) createPolicy(tb testing.TB) *egressv1alpha1.EgressPolicy {
	tb.Helper()
	spec := lockdown.DefaultPolicySpec()
	spec.AllowedHosts = []string{"*.corp.example.com"}
	spec.Catalog = []egressv1alpha1.CatalogEntry{{
		Name:         "npm-mirror",
		Destinations: []egressv1alpha1.Destination{{Host: "npm.corp.example.com"}},
		Replaces:     []string{"registry.npmjs.org"},
	}}
	policy := &egressv1alpha1.EgressPolicy{ObjectMeta: metav1.ObjectMeta{Name: policyName}, Spec: spec}
	h.create(tb, policy)
	return policy
}

// updatePolicy changes the suite's EgressPolicy and keeps h.policy, which
// expectedObjects reads, in step.
func (h *harness) updatePolicy(tb testing.TB, change func(*egressv1alpha1.EgressPolicy)) {
	tb.Helper()
	var policy egressv1alpha1.EgressPolicy
	if err := h.admin.Get(context.Background(), client.ObjectKey{Name: policyName}, &policy); err != nil {
		tb.Fatalf("get EgressPolicy: %v", err)
	}
	change(&policy)
	if err := h.admin.Update(context.Background(), &policy); err != nil {
		tb.Fatalf("update EgressPolicy: %v", err)
	}
	h.policy = &policy
}

// addRepository creates a repository with an egress file on the stand-in
// and returns the commit SHA.
func (h *harness) addRepository(repo, content string) string {
	h.gh.AddRepository(owner+"/"+repo, "main")
	return h.gh.SetFile(owner+"/"+repo, "main", lockdown.ConfigPath, []byte(content))
}

// scaleSet returns an AutoscalingRunnerSet of ARC's chart (the default
// container mode sample) for the repository acme/<repo>.
func scaleSet(tb testing.TB, name, repo string) *unstructured.Unstructured {
	tb.Helper()
	ars := envtest.SampleObject(tb, "default-repo.yaml", "AutoscalingRunnerSet").DeepCopy()
	ars.SetName(name)
	ars.SetNamespace(runnerNamespace)
	if err := unstructured.SetNestedField(ars.Object, "https://github.com/"+owner+"/"+repo, "spec", "githubConfigUrl"); err != nil {
		tb.Fatal(err)
	}
	return ars
}

// eventually retries check until it returns nil or the timeout passes.
func eventually(tb testing.TB, timeout time.Duration, what string, check func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not reached within %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// renderedObjects lists, as the administrator, every object that carries
// the scale set's labels, keyed by "Kind namespace/name".
func (h *harness) renderedObjects(tb testing.TB, name string) map[string]client.Object {
	tb.Helper()
	ctx := context.Background()
	out := map[string]client.Object{}
	for _, kind := range renderedKindLists() {
		list := kind()
		err := h.admin.List(ctx, list, client.MatchingLabels{
			egressv1alpha1.LabelScaleSet:          name,
			egressv1alpha1.LabelScaleSetNamespace: runnerNamespace,
		})
		if err != nil {
			tb.Fatalf("list %T: %v", list, err)
		}
		items, err := metaItems(list)
		if err != nil {
			tb.Fatal(err)
		}
		for _, obj := range items {
			gvks, _, err := h.env.Scheme.ObjectKinds(obj)
			if err != nil {
				tb.Fatal(err)
			}
			out[gvks[0].Kind+" "+obj.GetNamespace()+"/"+obj.GetName()] = obj
		}
	}
	return out
}

// expectedObjects renders what the controller should have applied for a
// scale set, from the same pure functions and inputs.
func (h *harness) expectedObjects(tb testing.TB, name, content string) (map[string]lockdown.Object, lockdown.Profile) {
	tb.Helper()
	var ars actionsv1alpha1.AutoscalingRunnerSet
	if err := h.admin.Get(context.Background(), client.ObjectKey{Namespace: runnerNamespace, Name: name}, &ars); err != nil {
		tb.Fatalf("get scale set %s: %v", name, err)
	}
	var cfg *lockdown.Config
	if content != "" {
		var err error
		cfg, err = lockdown.ParseConfig(lockdown.ConfigPath, []byte(content), &h.policy.Spec)
		if err != nil {
			tb.Fatalf("the test's egress file is invalid: %v", err)
		}
	}
	profile := lockdown.EffectiveProfile(&h.policy.Spec, cfg, "github.com")
	rendered, err := lockdown.Render(lockdown.ScaleSetFromARS(&ars), profile, h.mesh)
	if err != nil {
		tb.Fatalf("render: %v", err)
	}
	out := map[string]lockdown.Object{}
	for _, obj := range rendered.Objects {
		out[obj.GetObjectKind().GroupVersionKind().Kind+" "+obj.GetNamespace()+"/"+obj.GetName()] = obj
	}
	return out, profile
}

// sameKeys returns an error naming the keys that differ.
func sameKeys[A, B any](got map[string]A, want map[string]B) error {
	var missing, extra []string
	for k := range want {
		if _, ok := got[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		return fmt.Errorf("missing %v, unexpected %v", missing, extra)
	}
	return nil
}

func (h *harness) scaleSetEgress(name string) (*egressv1alpha1.ScaleSetEgress, error) {
	var sse egressv1alpha1.ScaleSetEgress
	err := h.admin.Get(context.Background(), client.ObjectKey{Namespace: runnerNamespace, Name: name}, &sse)
	return &sse, err
}

// condition returns the condition of a type, or an error naming the
// conditions there are.
func condition(sse *egressv1alpha1.ScaleSetEgress, conditionType string) (metav1.Condition, error) {
	for _, c := range sse.Status.Conditions {
		if c.Type == conditionType {
			return c, nil
		}
	}
	return metav1.Condition{}, fmt.Errorf("no %s condition in %+v", conditionType, sse.Status.Conditions)
}

// waitApplied waits until the ScaleSetEgress is Ready with the commit.
func (h *harness) waitApplied(tb testing.TB, name, commit string, timeout time.Duration) *egressv1alpha1.ScaleSetEgress {
	tb.Helper()
	var sse *egressv1alpha1.ScaleSetEgress
	eventually(tb, timeout, "ScaleSetEgress "+name+" Ready at "+commit, func() error {
		var err error
		if sse, err = h.scaleSetEgress(name); err != nil {
			return err
		}
		ready, err := condition(sse, egressv1alpha1.ConditionReady)
		if err != nil {
			return err
		}
		if ready.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready is %s: %s", ready.Status, ready.Message)
		}
		if sse.Status.AppliedSource == nil || sse.Status.AppliedSource.CommitSHA != commit {
			return fmt.Errorf("applied source is %+v", sse.Status.AppliedSource)
		}
		return nil
	})
	return sse
}

// eventsFor lists the events.k8s.io Events about a scale set.
func (h *harness) eventsFor(tb testing.TB, name string) []eventSummary {
	tb.Helper()
	var list unstructured.UnstructuredList
	list.SetAPIVersion("events.k8s.io/v1")
	list.SetKind("EventList")
	if err := h.admin.List(context.Background(), &list, client.InNamespace(runnerNamespace)); err != nil {
		tb.Fatalf("list events: %v", err)
	}
	var out []eventSummary
	for _, item := range list.Items {
		regarding, _, _ := unstructured.NestedString(item.Object, "regarding", "name")
		if regarding != name {
			continue
		}
		reason, _, _ := unstructured.NestedString(item.Object, "reason")
		note, _, _ := unstructured.NestedString(item.Object, "note")
		kind, _, _ := unstructured.NestedString(item.Object, "type")
		out = append(out, eventSummary{Type: kind, Reason: reason, Note: note})
	}
	return out
}

type eventSummary struct {
	Type, Reason, Note string
}

func findEvent(events []eventSummary, reason, noteContains string) error {
	for _, e := range events {
		if e.Reason == reason && strings.Contains(e.Note, noteContains) {
			return nil
		}
	}
	return fmt.Errorf("no Event with reason %s mentioning %q among %+v", reason, noteContains, events)
}

func metaItems(list client.ObjectList) ([]client.Object, error) {
	objs, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		obj, ok := o.(client.Object)
		if !ok {
			return nil, errors.New("list item is not a client.Object")
		}
		out = append(out, obj)
	}
	return out, nil
}

// renderedKindLists returns a constructor of a list for every kind the
// renderer produces.
func renderedKindLists() []func() client.ObjectList {
	return []func() client.ObjectList{
		func() client.ObjectList { return &networkingv1.NetworkPolicyList{} },
		func() client.ObjectList { return &istionetworkingv1.SidecarList{} },
		func() client.ObjectList { return &istionetworkingv1.ServiceEntryList{} },
		func() client.ObjectList { return &istionetworkingv1.DestinationRuleList{} },
		func() client.ObjectList { return &istionetworkingv1.GatewayList{} },
		func() client.ObjectList { return &istionetworkingv1.VirtualServiceList{} },
		func() client.ObjectList { return &istiosecurityv1.AuthorizationPolicyList{} },
	}
}
