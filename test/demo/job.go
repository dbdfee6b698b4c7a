package demo

import (
	"context"
	"fmt"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	datav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

const (
	// runnerPod is the runner pod (and EphemeralRunner) that takes the job.
	runnerPod = "web-ci-7xk2p-runner-q9w4d"
	// runnerIP is the runner pod's IP, the source of its connections.
	runnerIP = "10.244.1.15"
)

// runnerLabels are the labels ARC puts on a runner pod of web-ci.
var runnerLabels = map[string]string{
	"app.kubernetes.io/component":            "runner",
	"actions.github.com/scale-set-name":      "web-ci",
	"actions.github.com/scale-set-namespace": runnerNamespace,
	"actions.github.com/repository":          "web-app",
	"actions-ephemeral-runner":               "True",
}

// checkRunName is the name of the job's check run on GitHub.
const checkRunName = "egress / " + jobName

func (r *run) runJob() error {
	if err := r.createRunner(); err != nil {
		return err
	}
	fmt.Fprintf(r.Out, "      runner pod %s (%s) took job %q of run %d\n", runnerPod, runnerIP, jobName, r.runID)

	if err := r.streamAccessLogs(); err != nil {
		return err
	}
	return r.waitFor("check run "+checkRunName+" with annotations", func() (bool, error) {
		run, ok := r.checkRun()
		return ok && len(run.Annotations) > 0, nil
	})
}

func (r *run) finishJob() error {
	runner := &unstructured.Unstructured{}
	runner.SetAPIVersion("actions.github.com/v1alpha1")
	runner.SetKind("EphemeralRunner")
	runner.SetNamespace(runnerNamespace)
	runner.SetName(runnerPod)
	if err := r.env.Client.Delete(r.ctx, runner); err != nil {
		return fmt.Errorf("delete EphemeralRunner %s: %w", runnerPod, err)
	}
	err := r.waitFor("check run "+checkRunName+" to be completed", func() (bool, error) {
		run, ok := r.checkRun()
		return ok && run.Status == "completed", nil
	})
	if err != nil {
		return err
	}
	r.result.CheckRun, _ = r.checkRun()
	return nil
}

// checkRun returns the job's check run from the stand-in.
func (r *run) checkRun() (ghstandin.CheckRun, bool) {
	for _, run := range r.gh.CheckRuns(owner + "/web-app") {
		if run.Name == checkRunName {
			return run, true
		}
	}
	return ghstandin.CheckRun{}, false
}

// createRunner creates the runner pod and its EphemeralRunner with the job
// fields ARC writes when a job starts.
func (r *run) createRunner() error {
	c := r.env.Client
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: runnerPod, Namespace: runnerNamespace, Labels: runnerLabels},
		Spec: corev1.PodSpec{
			ServiceAccountName: "web-ci-gha-rs-no-permission",
			Containers:         []corev1.Container{{Name: "runner", Image: "ghcr.io/actions/actions-runner:latest"}},
		},
	}
	if err := c.Create(r.ctx, pod); err != nil {
		return fmt.Errorf("create runner pod: %w", err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: runnerIP, PodIPs: []corev1.PodIP{{IP: runnerIP}}}
	if err := c.Status().Update(r.ctx, pod); err != nil {
		return fmt.Errorf("set runner pod IP: %w", err)
	}

	labels := map[string]any{}
	for k, v := range runnerLabels {
		labels[k] = v
	}
	runner := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "actions.github.com/v1alpha1", "kind": "EphemeralRunner",
		"metadata": map[string]any{"name": runnerPod, "namespace": runnerNamespace, "labels": labels},
		"spec": map[string]any{
			"githubConfigUrl": "https://github.com/acme/web-app", "githubConfigSecret": "arc-gh-secret", "runnerScaleSetId": int64(1),
			"spec": map[string]any{"containers": []any{map[string]any{"name": "runner", "image": "ghcr.io/actions/actions-runner:latest"}}},
		},
	}}
	if err := c.Create(r.ctx, runner); err != nil {
		return fmt.Errorf("create EphemeralRunner: %w", err)
	}
	runner.Object["status"] = map[string]any{
		"phase": "Running", "ready": true, "runnerId": int64(7), "runnerName": runnerPod,
		"jobRequestId":      int64(4242),
		"jobId":             "job-4242",
		"jobRepositoryName": owner + "/web-app",
		"jobWorkflowRef":    owner + "/web-app/" + workflowPath + "@refs/heads/main",
		"workflowRunId":     r.runID,
		"jobDisplayName":    jobName,
	}
	if err := c.Status().Update(r.ctx, runner); err != nil {
		return fmt.Errorf("set the EphemeralRunner's job fields: %w", err)
	}
	return nil
}

// streamAccessLogs sends what the runner's Envoy sidecar would log for the
// job: blocked TLS connections to public registries, one to a bare IP, a
// blocked plain-HTTP request and an allowed connection to the mirror.
func (r *run) streamAccessLogs() error {
	conn, err := grpc.NewClient(r.alsAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connect to the access-log receiver: %w", err)
	}
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()

	tcp := []*datav3.TCPAccessLogEntry{
		blackHole("registry.npmjs.org", "104.16.1.35"),
		blackHole("registry.npmjs.org", "104.16.1.35"),
		blackHole("registry.npmjs.org", "104.16.1.35"),
		blackHole("files.pythonhosted.org", "151.101.0.223"),
		blackHole("", "198.51.100.7"),
		toGateway("npm.corp.example.com"),
	}
	http := []*datav3.HTTPAccessLogEntry{blockAll("downloads.example.org", "203.0.113.9")}

	node := &corev3.Node{Id: "sidecar~" + runnerIP + "~" + runnerPod + "." + runnerNamespace + "~" + runnerNamespace + ".svc.cluster.local"}
	messages := []*accesslogv3.StreamAccessLogsMessage{
		{
			Identifier: &accesslogv3.StreamAccessLogsMessage_Identifier{Node: node, LogName: "envoy_tcp_als"},
			LogEntries: &accesslogv3.StreamAccessLogsMessage_TcpLogs{TcpLogs: &accesslogv3.StreamAccessLogsMessage_TCPAccessLogEntries{LogEntry: tcp}},
		},
		{
			LogEntries: &accesslogv3.StreamAccessLogsMessage_HttpLogs{HttpLogs: &accesslogv3.StreamAccessLogsMessage_HTTPAccessLogEntries{LogEntry: http}},
		},
	}

	stream, err := accesslogv3.NewAccessLogServiceClient(conn).StreamAccessLogs(ctx)
	if err != nil {
		return fmt.Errorf("open an access-log stream: %w", err)
	}
	for _, m := range messages {
		if err := stream.Send(m); err != nil {
			return fmt.Errorf("send access-log entries: %w", err)
		}
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		return fmt.Errorf("close the access-log stream: %w", err)
	}
	fmt.Fprintf(r.Out, "      sent %d TCP and %d HTTP access-log entries\n", len(tcp), len(http))
	return nil
}

func address(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

// blackHole is a TLS connection that REGISTRY_ONLY sent to BlackHoleCluster;
// sni is empty when the client sent no server name.
func blackHole(sni, dstIP string) *datav3.TCPAccessLogEntry {
	common := &datav3.AccessLogCommon{
		DownstreamRemoteAddress: address(runnerIP, 41000),
		DownstreamLocalAddress:  address(dstIP, 443),
		UpstreamCluster:         "BlackHoleCluster",
		ResponseFlags:           &datav3.ResponseFlags{NoHealthyUpstream: true},
	}
	if sni != "" {
		common.TlsProperties = &datav3.TLSProperties{TlsSniHostname: sni}
	}
	return &datav3.TCPAccessLogEntry{CommonProperties: common}
}

// toGateway is an allowed TLS connection routed to the egress gateway.
func toGateway(sni string) *datav3.TCPAccessLogEntry {
	return &datav3.TCPAccessLogEntry{CommonProperties: &datav3.AccessLogCommon{
		DownstreamRemoteAddress: address(runnerIP, 41001),
		DownstreamLocalAddress:  address("10.96.0.20", 443),
		UpstreamCluster:         "outbound|443|egress|istio-egressgateway.istio-system.svc.cluster.local",
		TlsProperties:           &datav3.TLSProperties{TlsSniHostname: sni},
	}}
}

// blockAll is a plain-HTTP request that REGISTRY_ONLY rejected with a 502
// from the route block_all.
func blockAll(authority, dstIP string) *datav3.HTTPAccessLogEntry {
	return &datav3.HTTPAccessLogEntry{
		CommonProperties: &datav3.AccessLogCommon{
			DownstreamRemoteAddress: address(runnerIP, 41002),
			DownstreamLocalAddress:  address(dstIP, 80),
			RouteName:               "block_all",
		},
		Request:  &datav3.HTTPRequestProperties{Authority: authority, Path: "/tool.tar.gz"},
		Response: &datav3.HTTPResponseProperties{ResponseCode: wrapperspb.UInt32(502)},
	}
}
