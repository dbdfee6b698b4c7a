package accesslog

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	datav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/arc-lockdown/arc-lockdown/github"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

// TestGitHubRequestsPerJobCapped streams 20,000 entries for one job over
// many flush intervals, with a new host in every message, through the real
// GitHub client, and counts the requests that reach the stand-in.
func TestGitHubRequestsPerJobCapped(t *testing.T) {
	gh := ghstandin.New(t)
	gh.AddInstallation("octo")
	sha := gh.SetFile("octo/app", "main", ".github/workflows/ci.yml", []byte("on: push\n"))
	ip := netip.MustParseAddr("10.244.1.9")
	job := testJob("noisy")
	job.WorkflowRunID = gh.AddWorkflowRun("octo/app", ghstandin.WorkflowRun{HeadSHA: sha, HeadBranch: "main"})

	clients, err := github.NewClientSet(
		github.AppCredentials{AppID: gh.AppID(), PrivateKey: gh.PrivateKeyPEM()},
		github.Options{BaseURLs: map[string]string{"github.com": gh.BaseURL()}, Registerer: prometheus.NewRegistry()},
	)
	if err != nil {
		t.Fatal(err)
	}
	profiles := ProfileLookupFunc(func(context.Context, string, string) (ScaleSetProfile, error) {
		return ScaleSetProfile{Mode: egressv1alpha1.ModeEnforce, GitHubConfigURL: "https://github.com/octo"}, nil
	})
	attributor := &staticAttributor{jobs: map[netip.Addr]Job{ip: job}}
	// A low write cap, so that it is reached even on a slow machine.
	const maxUpdates = 10
	opts := Options{FlushInterval: 10 * time.Millisecond, CompletionCheckInterval: 10 * time.Millisecond, MaxUpdatesPerJob: maxUpdates}
	reporter := NewReporter(opts, attributor, profiles, NewGitHubPublisher(clients), newTestMetrics(t))
	client := startPipeline(t, reporter)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	stream, err := client.StreamAccessLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := identifier(sidecarNode(ip.String(), job.Runner, job.Namespace))
	for round := range 200 {
		entries := make([]*datav3.TCPAccessLogEntry, 100)
		for k := range entries {
			host := fmt.Sprintf("h%d.noisy.example.com", k%(round+1))
			entries[k] = blackHoleTLS(ip.String(), host, "203.0.113.5")
		}
		if err := stream.Send(&accesslogv3.StreamAccessLogsMessage{Identifier: id, LogEntries: tcpMessage(nil, entries...).LogEntries}); err != nil {
			t.Fatal(err)
		}
		id = nil
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}

	attributor.finish(job)
	// The completing write sets the status with its first batch of 50
	// annotations and appends the rest in a second request, so wait for
	// both.
	maxDestinations := DefaultOptions().MaxDestinationsPerJob
	run := waitForCheckRun(t, gh, "egress / noisy", func(r ghstandin.CheckRun) bool {
		return r.Status == "completed" && len(r.Annotations) >= maxDestinations
	})

	if got := len(run.Annotations); got != maxDestinations {
		t.Errorf("annotations = %d, want one per kept destination (%d)", got, maxDestinations)
	}
	// One workflow-run read, one check-run lookup, at most maxUpdates+1
	// writes, and one extra batch when a write carries more than 50 of the
	// 100 annotations.
	capPerJob := 1 + 1 + maxUpdates + 1 + (maxDestinations-1)/50
	requests := gh.RequestsTo("", `^/repos/octo/app/(check-runs|commits/[0-9a-f]+/check-runs|actions/runs/)`)
	t.Logf("GitHub requests for one job with 20,000 entries: %d, cap %d", len(requests), capPerJob)
	if len(requests) > capPerJob {
		t.Errorf("GitHub requests = %d, cap %d", len(requests), capPerJob)
	}
	// The cap must have held back writes, or the test does not exercise it.
	if got := testutil.ToFloat64(reporter.metrics.GitHubRequests.WithLabelValues("skipped_cap")); got == 0 {
		t.Errorf("no write was held back by the cap of %d: the test sent too few changes", maxUpdates)
	}
}
