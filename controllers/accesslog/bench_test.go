package accesslog

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	datav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// BenchmarkIngest measures entries per second from the gRPC stream through
// classification and attribution into per-job state: gateway denials from
// 100 runner pods, 100 entries per message, 20 distinct hosts per pod. Run it with
// -cpu 1 for the one-core figure; the client that sends the messages runs
// in the same process and shares that core.
func BenchmarkIngest(b *testing.B) {
	const pods, perMessage = 100, 100
	jobs := map[netip.Addr]Job{}
	var ips []netip.Addr
	for i := range pods {
		ip := netip.AddrFrom4([4]byte{10, 245, 0, byte(i + 1)})
		job := testJob(fmt.Sprintf("bench-%d", i))
		job.Runner = fmt.Sprintf("runner-%d", i)
		jobs[ip] = job
		ips = append(ips, ip)
	}
	// The queue is sized to hold the whole run, so the figure is ingestion
	// speed, not the drop rate of a full queue.
	opts := Options{FlushInterval: time.Hour, QueueSize: b.N + perMessage}
	reporter, _, _ := newTestReporter(b, opts, jobs, egressv1alpha1.ModeEnforce)
	client := startPipeline(b, reporter)
	ctx := context.Background()

	var messages []*accesslogv3.StreamAccessLogsMessage
	for sent := 0; sent < b.N; sent += perMessage {
		pod := (sent / perMessage) % pods
		entries := make([]*datav3.TCPAccessLogEntry, min(perMessage, b.N-sent))
		for k := range entries {
			entries[k] = gatewayDeniedTCP(ips[pod].String(), fmt.Sprintf("h%d.bench.example.com", k%20))
		}
		messages = append(messages, tcpMessage(nil, entries...))
	}
	stream, err := client.StreamAccessLogs(ctx)
	if err != nil {
		b.Fatal(err)
	}
	// One stream stands for a gateway, which logs for every pod: the
	// source comes from each entry's downstream address.
	if err := stream.Send(tcpMessage(identifier(gatewayNode()))); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	start := time.Now()
	cpuStart := processCPU(b)
	for _, m := range messages {
		if err := stream.Send(m); err != nil {
			b.Fatal(err)
		}
	}
	counter := reporter.metrics.Entries.WithLabelValues(VerdictDenied.String())
	for testutil.ToFloat64(counter) < float64(b.N) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	cpu := processCPU(b) - cpuStart
	b.StopTimer()
	if _, err := stream.CloseAndRecv(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
	// CPU time of the whole process (server, reporter and the sending
	// client) per entry: unlike wall time it does not depend on what else
	// the machine runs.
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "entries/cpu-s")
}

// processCPU returns the user and system CPU time the process has used.
func processCPU(tb testing.TB) time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
