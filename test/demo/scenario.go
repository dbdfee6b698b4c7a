package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/arc-lockdown/arc-lockdown/github"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
	"github.com/arc-lockdown/arc-lockdown/test/envtest"
	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

// Scenario configures one run of the demo.
type Scenario struct {
	// Out receives the report a person reads; progress lines go there too.
	Out io.Writer
	// ControllerBinary is the arc-lockdown binary to run as the controller.
	ControllerBinary string
	// WorkDir receives the kubeconfig, the mesh settings and the
	// controller's log.
	WorkDir string
	// Timeout bounds each wait for the controller.
	Timeout time.Duration
}

// Result is what the demo observed, for the test that checks it.
type Result struct {
	// ScaleSets holds the ScaleSetEgress of each sample, by scale-set name.
	ScaleSets map[string]egressv1alpha1.ScaleSetEgress
	// Objects lists the applied objects of each scale set as "Kind/name".
	Objects map[string][]string
	// CheckRun is the job's check run as the GitHub stand-in holds it.
	CheckRun ghstandin.CheckRun
}

// run carries the state shared by the steps of one scenario.
type run struct {
	Scenario
	tb      testing.TB
	ctx     context.Context
	env     *envtest.Env
	gh      *ghstandin.Server
	alsAddr string
	runID   int64
	headSHA string
	step    int
	result  Result
}

const totalSteps = 8

// Run runs the scenario, printing progress and the report to s.Out. It
// stops the test with the failing step's name when a step fails, and
// leaves no process running.
func Run(tb testing.TB, s Scenario) Result {
	tb.Helper()
	if s.Timeout == 0 {
		s.Timeout = 90 * time.Second
	}
	r := &run{Scenario: s, tb: tb, ctx: context.Background(), result: Result{
		ScaleSets: map[string]egressv1alpha1.ScaleSetEgress{},
		Objects:   map[string][]string{},
	}}

	fmt.Fprintln(r.Out, "arc-lockdown demo: ARC's sample scale sets, a GitHub stand-in and the controller on this machine")
	fmt.Fprintln(r.Out)

	r.do("Start kube-apiserver and etcd, install the Istio, ARC and arc-lockdown CRDs", r.startAPIServer)
	r.do("Start the GitHub API stand-in with three sample repositories", r.startGitHub)
	r.do("Create the EgressPolicy and the GitHub App Secret", r.createPolicy)
	r.do("Start the arc-lockdown controller", r.startController)
	r.do("Create ARC's three sample scale sets", r.createScaleSets)
	r.do("Wait for the controller to apply each scale set's profile", r.waitForScaleSets)
	r.do("Run a job on web-ci and stream its blocked connections as Envoy access logs", r.runJob)
	r.do("Finish the job and wait for the completed check run", r.finishJob)

	r.printScaleSets()
	r.printCheckRun()
	fmt.Fprintf(r.Out, "\nDemo finished: every step worked. The controller's log is %s.\n", filepath.Join(r.WorkDir, "controller.log"))
	return r.result
}

// do runs one numbered step, printing its name first and its duration
// after, and stops the test with the step's name when it fails.
func (r *run) do(name string, step func() error) {
	r.tb.Helper()
	r.step++
	fmt.Fprintf(r.Out, "[%d/%d] %s ...\n", r.step, totalSteps, name)
	start := time.Now()
	if err := step(); err != nil {
		fmt.Fprintf(r.Out, "      FAILED after %s: %v\n", time.Since(start).Round(100*time.Millisecond), err)
		r.tb.Fatalf("demo step %d (%s) failed: %v", r.step, name, err)
	}
	fmt.Fprintf(r.Out, "      done in %s\n", time.Since(start).Round(100*time.Millisecond))
}

func (r *run) startAPIServer() error {
	r.env = envtest.Start(r.tb, envtest.Options{ARC: envtest.ARCCurrent})
	fmt.Fprintf(r.Out, "      API server at %s (Kubernetes %s)\n", r.env.Config.Host, envtest.KubernetesVersion)
	return nil
}

func (r *run) startGitHub() error {
	r.gh = ghstandin.New(r.tb)
	r.gh.AddInstallation(owner)
	for _, s := range samples {
		r.gh.AddRepository(s.repository, "main")
		if s.egressYAML != "" {
			r.gh.SetFile(s.repository, "main", github.EgressConfigPath, []byte(s.egressYAML))
		}
		fmt.Fprintf(r.Out, "      %-20s %s\n", s.repository, s.describe)
	}
	r.headSHA = r.gh.AddCommit(owner+"/web-app", "main", "Add a build step")
	r.runID = r.gh.AddWorkflowRun(owner+"/web-app", ghstandin.WorkflowRun{HeadSHA: r.headSHA, HeadBranch: "main", Path: workflowPath})
	fmt.Fprintf(r.Out, "      GitHub API at %s\n", r.gh.URL)
	return nil
}

func (r *run) createPolicy() error {
	c := r.env.Client
	policy := &egressv1alpha1.EgressPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: demoPolicy()}
	if err := c.Create(r.ctx, policy); err != nil {
		return fmt.Errorf("create EgressPolicy: %w", err)
	}
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: controllerNamespace}},
		{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}},
		{ObjectMeta: metav1.ObjectMeta{Name: runnerNamespace, Labels: map[string]string{"istio-injection": "enabled"}}},
	} {
		if err := c.Create(r.ctx, ns); err != nil {
			return fmt.Errorf("create namespace %s: %w", ns.Name, err)
		}
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "arc-lockdown-github-app", Namespace: controllerNamespace},
		StringData: map[string]string{
			github.SecretKeyAppID:      fmt.Sprint(r.gh.AppID()),
			github.SecretKeyPrivateKey: string(r.gh.PrivateKeyPEM()),
		},
	}
	if err := c.Create(r.ctx, secret); err != nil {
		return fmt.Errorf("create the GitHub App Secret: %w", err)
	}
	fmt.Fprintf(r.Out, "      EgressPolicy default: %d baseline hosts, %d denied registries, catalog npm-mirror and pypi-mirror\n",
		len(policy.Spec.Baseline), len(policy.Spec.Deny))
	return nil
}

func (r *run) startController() error {
	if err := os.MkdirAll(r.WorkDir, 0o755); err != nil {
		return err
	}
	kubeconfig, err := r.env.KubeConfig("arc-lockdown-demo")
	if err != nil {
		return err
	}
	kubeconfigPath := filepath.Join(r.WorkDir, "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		return err
	}
	// The kubernetes-mode sample needs the API server's address in its
	// NetworkPolicy. The demo has no cluster network, so it uses a typical
	// kubernetes Service IP.
	meshPath := filepath.Join(r.WorkDir, "mesh.yaml")
	if err := os.WriteFile(meshPath, []byte("APIServerCIDRs: [\"10.96.0.1/32\"]\n"), 0o600); err != nil {
		return err
	}
	r.alsAddr, err = freeAddress()
	if err != nil {
		return err
	}

	logPath := filepath.Join(r.WorkDir, "controller.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(r.ControllerBinary, "controller",
		"--namespace", controllerNamespace,
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "0",
		"--resync-period", "10s",
		"--check-run-interval", "1s",
		"--mesh-config", meshPath,
		"--access-log-bind-address", r.alsAddr,
		"--webhook-bind-address", "",
		"--github-api-url", "github.com="+r.gh.URL+"/",
	)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfigPath)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("start %s: %w", r.ControllerBinary, err)
	}
	proc := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		proc.err = cmd.Wait()
		close(proc.exited)
	}()
	r.tb.Cleanup(func() {
		proc.stop()
		_ = logFile.Close()
	})

	fmt.Fprintf(r.Out, "      %s controller (pid %d), access-log receiver on %s, log in %s\n",
		filepath.Base(r.ControllerBinary), cmd.Process.Pid, r.alsAddr, logPath)
	return r.waitFor("the access-log receiver to listen", func() (bool, error) {
		select {
		case <-proc.exited:
			return false, fmt.Errorf("controller exited (%w); see %s", proc.err, logPath)
		default:
		}
		// A refused connection means the receiver is not listening yet.
		conn, dialErr := net.DialTimeout("tcp", r.alsAddr, 200*time.Millisecond)
		if dialErr == nil {
			_ = conn.Close()
		}
		return dialErr == nil, nil
	})
}

func (r *run) createScaleSets() error {
	for _, s := range samples {
		for _, obj := range envtest.SampleObjects(r.tb, s.file) {
			if err := r.env.Client.Create(r.ctx, obj); err != nil {
				return fmt.Errorf("create %s %s from %s: %w", obj.GetKind(), obj.GetName(), s.file, err)
			}
		}
		fmt.Fprintf(r.Out, "      %-12s from %s (%s)\n", s.scaleSet, s.file, s.repository)
	}
	return nil
}

func (r *run) waitForScaleSets() error {
	for _, s := range samples {
		var sse egressv1alpha1.ScaleSetEgress
		err := r.waitFor("ScaleSetEgress "+s.scaleSet+" to be ready", func() (bool, error) {
			key := client.ObjectKey{Namespace: runnerNamespace, Name: s.scaleSet}
			if err := r.env.Client.Get(r.ctx, key, &sse); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			if !meta.IsStatusConditionTrue(sse.Status.Conditions, egressv1alpha1.ConditionReady) {
				return false, nil
			}
			// The repository with a file is done once that file is in
			// force; the others once their file was read or found missing.
			fetched := meta.FindStatusCondition(sse.Status.Conditions, egressv1alpha1.ConditionConfigFetched)
			if fetched == nil || fetched.Status != metav1.ConditionTrue {
				return false, nil
			}
			if s.egressYAML != "" && s.scaleSet == "web-ci" {
				return sse.Status.AppliedSource != nil && sse.Status.AppliedSource.CommitSHA != "", nil
			}
			if s.egressYAML != "" {
				return meta.IsStatusConditionFalse(sse.Status.Conditions, egressv1alpha1.ConditionConfigValid), nil
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		r.result.ScaleSets[s.scaleSet] = sse
		objects, err := r.appliedObjects(s.scaleSet)
		if err != nil {
			return err
		}
		r.result.Objects[s.scaleSet] = objects
		fmt.Fprintf(r.Out, "      %-12s ready: %d destinations, %d objects\n", s.scaleSet, sse.Status.Destinations, len(objects))
	}
	return nil
}

// renderedKinds are the kinds the controller applies for a scale set.
var renderedKinds = []schema.GroupVersionKind{
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"},
	{Group: "networking.istio.io", Version: "v1", Kind: "Sidecar"},
	{Group: "networking.istio.io", Version: "v1", Kind: "ServiceEntry"},
	{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule"},
	{Group: "networking.istio.io", Version: "v1", Kind: "Gateway"},
	{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"},
	{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"},
}

// appliedObjects lists "Kind/namespace/name" of every object labelled as
// belonging to the scale set, in every namespace.
func (r *run) appliedObjects(scaleSet string) ([]string, error) {
	selector := client.MatchingLabels{
		egressv1alpha1.LabelScaleSet:          scaleSet,
		egressv1alpha1.LabelScaleSetNamespace: runnerNamespace,
	}
	var names []string
	for _, gvk := range renderedKinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := r.env.Client.List(r.ctx, list, selector); err != nil {
			return nil, fmt.Errorf("list %s: %w", gvk.Kind, err)
		}
		for _, item := range list.Items {
			names = append(names, gvk.Kind+"/"+item.GetNamespace()+"/"+item.GetName())
		}
	}
	return names, nil
}

// waitFor polls cond every 200 ms until it returns true or an error, or
// until the scenario's timeout passes.
func (r *run) waitFor(what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(r.Timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", r.Timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// freeAddress returns a 127.0.0.1 address with a port that was free a
// moment ago.
func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// process is a started command; exited is closed once err holds the
// result of its Wait.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// stop sends SIGTERM, waits up to 10 s for the process to exit, then kills
// it.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// indent prefixes every line of text with prefix.
func indent(text, prefix string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, line := range lines {
		lines[i] = prefix + line
	}
	return strings.Join(lines, "\n")
}
