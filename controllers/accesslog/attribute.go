package accesslog

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Labels ARC and its container hooks set on the pods that run job code.
const (
	labelComponent         = "app.kubernetes.io/component"
	componentRunner        = "runner"
	labelScaleSetName      = "actions.github.com/scale-set-name"
	labelScaleSetNamespace = "actions.github.com/scale-set-namespace"
	// labelRunnerPod is the only label of the job and step pods that the
	// kubernetes container-mode hooks create; its value is the runner pod.
	labelRunnerPod = "runner-pod"
)

// RunnerPodIPIndex is the field index, on Pods, from each IP address of a
// runner pod or container-mode job pod to the pod. Other pods are not
// indexed, so a lookup never attributes traffic to an unrelated workload.
const RunnerPodIPIndex = "accesslog.egress.arc-lockdown.io/runner-pod-ip"

// Errors an Attributor returns for sources that have no job to report to.
var (
	// ErrUnknownSource means the IP belongs to no runner or job pod.
	ErrUnknownSource = errors.New("source is not a runner pod")
	// ErrNoJob means the runner is idle: its EphemeralRunner has no job
	// fields, or is gone.
	ErrNoJob = errors.New("runner has no job")
)

// Job identifies the GitHub Actions job a runner is running, from the job
// fields of its EphemeralRunner's status.
type Job struct {
	// Namespace and Runner name the EphemeralRunner (and its pod).
	Namespace, Runner string
	// ScaleSet is the AutoscalingRunnerSet name; ScaleSetNamespace its
	// namespace.
	ScaleSet, ScaleSetNamespace string
	// Repository is "owner/repo".
	Repository string
	// WorkflowRef is "owner/repo/.github/workflows/x.yml@ref".
	WorkflowRef string
	// WorkflowRunID is the run the job belongs to.
	WorkflowRunID int64
	// JobID is status.jobId, or status.jobRequestId when the CRD version
	// has no jobId.
	JobID string
	// Name is the job's display name.
	Name string
}

// Key identifies the job among all jobs the Reporter tracks. A runner runs
// one job, so a new job on a reused name gets a new key.
func (j Job) Key() string {
	return j.Namespace + "/" + j.Runner + "/" + strconv.FormatInt(j.WorkflowRunID, 10) + "/" + j.JobID
}

// WorkflowPath returns the workflow file in the repository, taken from the
// workflow ref: "owner/repo/.github/workflows/x.yml@ref" gives
// ".github/workflows/x.yml". It returns "" when the ref has another form.
func (j Job) WorkflowPath() string {
	ref, _, _ := strings.Cut(j.WorkflowRef, "@")
	rest, ok := strings.CutPrefix(ref, j.Repository+"/")
	if !ok {
		// The ref may name another repository (a reusable workflow).
		parts := strings.SplitN(ref, "/", 3)
		if len(parts) < 3 {
			return ""
		}
		rest = parts[2]
	}
	if !strings.HasPrefix(rest, ".github/workflows/") {
		return ""
	}
	return rest
}

// Attributor maps the source IP of an entry to the job that runs there.
type Attributor interface {
	// Attribute returns the job of the pod with this IP, ErrUnknownSource
	// when no runner or job pod has it, or ErrNoJob when the runner is idle.
	Attribute(ctx context.Context, ip netip.Addr) (Job, error)
	// JobActive reports whether the job's runner is still running that job.
	JobActive(ctx context.Context, job Job) (bool, error)
}

var ephemeralRunnerGVK = schema.GroupVersionKind{
	Group: "actions.github.com", Version: "v1alpha1", Kind: "EphemeralRunner",
}

// KubeAttributor attributes IPs with the RunnerPodIPIndex on the manager's
// Pod cache and reads EphemeralRunners as unstructured objects: ARC
// v0.27.6's Go types fail to decode the status.failures field of current
// CRDs.
type KubeAttributor struct {
	// Pods reads Pods with the RunnerPodIPIndex registered: the manager's
	// cached client.
	Pods client.Reader
	// Runners reads EphemeralRunners. The manager's client reads
	// unstructured objects from the API server unless its cache is set up
	// for them. Either works, because the Reporter caches attributions.
	Runners client.Reader
}

// RegisterRunnerPodIndex adds RunnerPodIPIndex to the manager's field
// indexer. Call it before the manager starts.
func RegisterRunnerPodIndex(ctx context.Context, indexer client.FieldIndexer) error {
	err := indexer.IndexField(ctx, &corev1.Pod{}, RunnerPodIPIndex, runnerPodIPs)
	if err != nil {
		return fmt.Errorf("register pod index %s: %w", RunnerPodIPIndex, err)
	}
	return nil
}

func runnerPodIPs(obj client.Object) []string {
	pod, ok := obj.(*corev1.Pod)
	if !ok || !isRunnerPod(pod) {
		return nil
	}
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = append(ips, pod.Status.PodIP)
	}
	return ips
}

func isRunnerPod(pod *corev1.Pod) bool {
	if pod.Labels[labelRunnerPod] != "" {
		return true
	}
	return pod.Labels[labelComponent] == componentRunner && pod.Labels[labelScaleSetName] != ""
}

// Attribute implements Attributor.
func (a KubeAttributor) Attribute(ctx context.Context, ip netip.Addr) (Job, error) {
	var pods corev1.PodList
	if err := a.Pods.List(ctx, &pods, client.MatchingFields{RunnerPodIPIndex: ip.String()}); err != nil {
		return Job{}, fmt.Errorf("list pods with IP %s: %w", ip, err)
	}
	pod := livePod(pods.Items)
	if pod == nil {
		return Job{}, ErrUnknownSource
	}

	runnerName := pod.Name
	if owner := pod.Labels[labelRunnerPod]; owner != "" {
		runnerName = owner
	}
	runner, err := a.getRunner(ctx, pod.Namespace, runnerName)
	if err != nil {
		return Job{}, err
	}
	job, err := jobFromRunner(runner)
	if err != nil {
		return Job{}, err
	}

	if job.ScaleSet == "" {
		// Job pods carry no scale-set label: take it from the runner pod.
		var runnerPod corev1.Pod
		if err := a.Pods.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: runnerName}, &runnerPod); err == nil {
			job.ScaleSet = runnerPod.Labels[labelScaleSetName]
			job.ScaleSetNamespace = runnerPod.Labels[labelScaleSetNamespace]
		}
		if pod.Labels[labelScaleSetName] != "" {
			job.ScaleSet = pod.Labels[labelScaleSetName]
			job.ScaleSetNamespace = pod.Labels[labelScaleSetNamespace]
		}
	}
	if job.ScaleSetNamespace == "" {
		job.ScaleSetNamespace = job.Namespace
	}
	return job, nil
}

// JobActive implements Attributor.
func (a KubeAttributor) JobActive(ctx context.Context, job Job) (bool, error) {
	runner, err := a.getRunner(ctx, job.Namespace, job.Runner)
	if errors.Is(err, ErrNoJob) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	current, err := jobFromRunner(runner)
	if errors.Is(err, ErrNoJob) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return current.WorkflowRunID == job.WorkflowRunID && current.JobID == job.JobID, nil
}

func (a KubeAttributor) getRunner(ctx context.Context, namespace, name string) (*unstructured.Unstructured, error) {
	runner := &unstructured.Unstructured{}
	runner.SetGroupVersionKind(ephemeralRunnerGVK)
	err := a.Runners.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, runner)
	if apierrors.IsNotFound(err) {
		return nil, ErrNoJob
	}
	if err != nil {
		return nil, fmt.Errorf("get EphemeralRunner %s/%s: %w", namespace, name, err)
	}
	return runner, nil
}

// livePod picks the pod that holds the IP now: a pod that finished keeps
// its IP in status while a new pod may already reuse it.
func livePod(pods []corev1.Pod) *corev1.Pod {
	var found *corev1.Pod
	for i := range pods {
		pod := &pods[i]
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if found == nil || pod.CreationTimestamp.After(found.CreationTimestamp.Time) {
			found = pod
		}
	}
	return found
}

// jobFromRunner reads the job fields of an EphemeralRunner's status.
func jobFromRunner(runner *unstructured.Unstructured) (Job, error) {
	status, _, _ := unstructured.NestedMap(runner.Object, "status")
	job := Job{
		Namespace:         runner.GetNamespace(),
		Runner:            runner.GetName(),
		ScaleSet:          runner.GetLabels()[labelScaleSetName],
		ScaleSetNamespace: runner.GetLabels()[labelScaleSetNamespace],
		Repository:        stringField(status, "jobRepositoryName"),
		WorkflowRef:       stringField(status, "jobWorkflowRef"),
		WorkflowRunID:     intField(status, "workflowRunId"),
		JobID:             stringField(status, "jobId"),
		Name:              stringField(status, "jobDisplayName"),
	}
	if job.JobID == "" {
		if id := intField(status, "jobRequestId"); id != 0 {
			job.JobID = strconv.FormatInt(id, 10)
		}
	}
	if job.Repository == "" || job.WorkflowRunID == 0 {
		return Job{}, ErrNoJob
	}
	if job.Name == "" {
		job.Name = job.JobID
	}
	return job, nil
}

func stringField(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func intField(m map[string]any, key string) int64 {
	switch v := m[key].(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}
