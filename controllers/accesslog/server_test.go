package accesslog

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

func TestServerRejectsStreamWithoutIdentifier(t *testing.T) {
	reporter, _, _ := newTestReporter(t, Options{}, map[netip.Addr]Job{}, egressv1alpha1.ModeEnforce)
	client := startPipeline(t, reporter)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	err := sendStream(ctx, client, tcpMessage(nil, blackHoleTLS("10.244.1.5", "example.com", "203.0.113.1")))
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("stream without identifier: error %v, want code InvalidArgument", err)
	}
	if got := testutil.ToFloat64(reporter.metrics.Dropped.WithLabelValues(DropInvalidStream)); got != 1 {
		t.Errorf("invalid streams counted = %v, want 1", got)
	}
}

func TestServerAttributesSidecarByNodeID(t *testing.T) {
	ip := netip.MustParseAddr("10.244.1.5")
	job := testJob("node-id")
	reporter, _, _ := newTestReporter(t, Options{}, map[netip.Addr]Job{ip: job}, egressv1alpha1.ModeEnforce)
	client := startPipeline(t, reporter)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Only the first message names the node; the second relies on it, and
	// its entry carries no downstream address at all.
	entry := blackHoleTLS("10.244.1.5", "example.com", "203.0.113.1")
	entry.CommonProperties.DownstreamRemoteAddress = nil
	err := sendStream(ctx, client,
		tcpMessage(identifier(sidecarNode("10.244.1.5", job.Runner, job.Namespace))),
		tcpMessage(nil, entry))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the entry to reach the job", func() bool { return reporter.TrackedJobs() == 1 })
}

func TestMetricsCapDestinationLabels(t *testing.T) {
	m := newTestMetrics(t) // at most 50 destination label values
	for i := range 200 {
		host := fmt.Sprintf("h%d.example.com", i)
		m.Blocked.WithLabelValues("arc-runners", "linux", m.destinationLabel(host)).Inc()
	}
	if got := testutil.CollectAndCount(m.Blocked); got != 51 {
		t.Errorf("blocked-connection series = %d, want 50 hosts plus \"other\"", got)
	}
	if got := testutil.ToFloat64(m.Blocked.WithLabelValues("arc-runners", "linux", otherDestination)); got != 150 {
		t.Errorf("connections counted as other = %v, want 150", got)
	}
}
