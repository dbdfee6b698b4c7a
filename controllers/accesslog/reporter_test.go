package accesslog

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

func newTestReporter(t testing.TB, opts Options, jobs map[netip.Addr]Job, mode egressv1alpha1.Mode) (*Reporter, *staticAttributor, *countingPublisher) {
	t.Helper()
	attributor := &staticAttributor{jobs: jobs}
	publisher := newCountingPublisher()
	profiles := ProfileLookupFunc(func(context.Context, string, string) (ScaleSetProfile, error) {
		return ScaleSetProfile{
			Mode:  mode,
			Hosts: []string{"github.com", "*.actions.githubusercontent.com"},
			Catalog: []egressv1alpha1.CatalogEntry{{
				Name:         "npm-mirror",
				Destinations: []egressv1alpha1.Destination{{Host: "npm.corp.example.com"}},
				Replaces:     []string{"registry.npmjs.org"},
				Hint:         "npm config set registry https://npm.corp.example.com/",
			}},
			GitHubConfigURL: "https://github.com/octo",
		}, nil
	})
	return NewReporter(opts, attributor, profiles, publisher, newTestMetrics(t)), attributor, publisher
}

func blocked(ip netip.Addr, host string, at time.Time) Entry {
	return Entry{SourceIP: ip, Host: host, HostSource: HostFromSNI, Port: 443, Verdict: VerdictBlocked, Arrived: at}
}

func TestReporterDeduplicatesAndBatches(t *testing.T) {
	ctx := context.Background()
	ip := netip.MustParseAddr("10.244.1.5")
	job := testJob("build")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	r, attributor, publisher := newTestReporter(t, Options{Clock: func() time.Time { return now }}, map[netip.Addr]Job{ip: job}, egressv1alpha1.ModeEnforce)

	for i := range 1000 {
		r.record(ctx, blocked(ip, "registry.npmjs.org", now.Add(time.Duration(i)*time.Millisecond)))
	}
	r.record(ctx, blocked(ip, "pypi.org", now))
	r.Flush(ctx)

	writes := publisher.writes(externalID(job))
	if len(writes) != 1 {
		t.Fatalf("writes after first flush = %d, want 1", len(writes))
	}
	if got := len(writes[0].Annotations); got != 2 {
		t.Errorf("annotations in first write = %d, want 2", got)
	}
	if !strings.Contains(writes[0].Summary, "| `registry.npmjs.org` | 443 | blocked | 1000 |") {
		t.Errorf("summary lacks the count of 1000:\n%s", writes[0].Summary)
	}
	if attributor.calls != 1 {
		t.Errorf("attributor calls = %d, want 1 (cached per source IP)", attributor.calls)
	}

	// Repeats of known destinations alone cost no write.
	r.record(ctx, blocked(ip, "pypi.org", now))
	r.Flush(ctx)
	if got := len(publisher.writes(externalID(job))); got != 1 {
		t.Errorf("writes after repeats = %d, want 1", got)
	}

	r.record(ctx, blocked(ip, "proxy.golang.org", now))
	r.Flush(ctx)
	writes = publisher.writes(externalID(job))
	if len(writes) != 2 {
		t.Fatalf("writes after a new destination = %d, want 2", len(writes))
	}
	if got := len(writes[1].Annotations); got != 1 || !strings.Contains(writes[1].Annotations[0].Title, "proxy.golang.org:443") {
		t.Errorf("second write annotations = %+v, want only proxy.golang.org", writes[1].Annotations)
	}
	if writes[1].Status != StatusInProgress || writes[1].Conclusion != "" {
		t.Errorf("running job status/conclusion = %q/%q, want in_progress/empty", writes[1].Status, writes[1].Conclusion)
	}

	attributor.finish(job)
	now = now.Add(time.Minute)
	r.Flush(ctx)
	writes = publisher.writes(externalID(job))
	final := writes[len(writes)-1]
	if final.Status != StatusCompleted || final.Conclusion != ConclusionFailure {
		t.Errorf("final status/conclusion = %q/%q, want completed/failure", final.Status, final.Conclusion)
	}
	if len(final.Annotations) != 0 {
		t.Errorf("final write repeats %d annotations, want 0", len(final.Annotations))
	}
	if r.TrackedJobs() != 0 {
		t.Errorf("tracked jobs after completion = %d, want 0", r.TrackedJobs())
	}

	// A late entry of the finished job does not reopen its check run.
	r.record(ctx, blocked(ip, "late.example.com", now))
	r.Flush(ctx)
	if got := len(publisher.writes(externalID(job))); got != len(writes) {
		t.Errorf("writes after a late entry = %d, want %d", got, len(writes))
	}
}

func TestReporterCapsWritesPerJob(t *testing.T) {
	ctx := context.Background()
	ip := netip.MustParseAddr("10.244.1.6")
	job := testJob("test")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	r, attributor, publisher := newTestReporter(t, Options{MaxUpdatesPerJob: 3, Clock: func() time.Time { return now }}, map[netip.Addr]Job{ip: job}, egressv1alpha1.ModeEnforce)

	for i := range 10 {
		r.record(ctx, blocked(ip, fmt.Sprintf("host%d.example.com", i), now))
		r.Flush(ctx)
	}
	if got := len(publisher.writes(externalID(job))); got != 3 {
		t.Errorf("writes while running = %d, want the cap of 3", got)
	}

	attributor.finish(job)
	now = now.Add(time.Minute)
	r.Flush(ctx)
	writes := publisher.writes(externalID(job))
	if len(writes) != 4 {
		t.Fatalf("writes including completion = %d, want 4", len(writes))
	}
	annotated := 0
	for _, w := range writes {
		annotated += len(w.Annotations)
	}
	if annotated != 10 {
		t.Errorf("annotations over all writes = %d, want each of the 10 destinations once", annotated)
	}
}

func TestReporterAuditMode(t *testing.T) {
	ctx := context.Background()
	ip := netip.MustParseAddr("10.244.1.7")
	job := testJob("lint")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	r, attributor, publisher := newTestReporter(t, Options{Clock: func() time.Time { return now }}, map[netip.Addr]Job{ip: job}, egressv1alpha1.ModeAudit)

	pass := func(host string) Entry {
		return Entry{SourceIP: ip, Host: host, HostSource: HostFromSNI, Port: 443, Verdict: VerdictPassthrough, Arrived: now}
	}
	r.record(ctx, pass("github.com"))
	r.Flush(ctx)
	if got := len(publisher.writes(externalID(job))); got != 0 {
		t.Errorf("writes with only allowed traffic = %d, want 0", got)
	}
	r.record(ctx, pass("registry.npmjs.org"))
	r.record(ctx, pass("api.example.com"))
	attributor.finish(job)
	now = now.Add(time.Minute)
	r.Flush(ctx)

	writes := publisher.writes(externalID(job))
	if len(writes) != 1 {
		t.Fatalf("writes = %d, want 1", len(writes))
	}
	run := writes[0]
	if run.Conclusion != ConclusionNeutral || run.Title != "2 destinations would be blocked (audit mode)" {
		t.Errorf("conclusion/title = %q/%q", run.Conclusion, run.Title)
	}
	wantSnippet := "```yaml\nversion: 1\nmode: audit\nallow:\n  - npm-mirror  # replaces registry.npmjs.org\n  - host: api.example.com\n  - host: github.com\n```"
	if !strings.Contains(run.Text, wantSnippet) {
		t.Errorf("text lacks the snippet\n%s\ntext:\n%s", wantSnippet, run.Text)
	}
}

func TestReporterDropsUnknownSources(t *testing.T) {
	ctx := context.Background()
	r, _, publisher := newTestReporter(t, Options{}, map[netip.Addr]Job{}, egressv1alpha1.ModeEnforce)
	for range 5 {
		r.record(ctx, blocked(netip.MustParseAddr("10.9.9.9"), "example.com", time.Now()))
	}
	r.Flush(ctx)
	if got := testutil.ToFloat64(r.metrics.Dropped.WithLabelValues(DropUnknownSource)); got != 5 {
		t.Errorf("unknown-source drops = %v, want 5", got)
	}
	if r.TrackedJobs() != 0 || len(publisher.runs) != 0 {
		t.Errorf("unknown source created state: jobs %d, runs %d", r.TrackedJobs(), len(publisher.runs))
	}
}

func TestReporterRetriesRunnerWithoutJobSoon(t *testing.T) {
	ctx := context.Background()
	ip := netip.MustParseAddr("10.244.1.8")
	job := testJob("early")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	r, attributor, _ := newTestReporter(t, Options{NegativeTTL: 2 * time.Second}, map[netip.Addr]Job{ip: job}, egressv1alpha1.ModeEnforce)
	attributor.idle = map[netip.Addr]bool{ip: true}

	r.record(ctx, blocked(ip, "early.example.com", now))
	r.record(ctx, blocked(ip, "early.example.com", now.Add(time.Second)))
	if got := testutil.ToFloat64(r.metrics.Dropped.WithLabelValues(DropNoJob)); got != 2 {
		t.Errorf("no-job drops = %v, want 2", got)
	}
	if attributor.calls != 1 {
		t.Errorf("attributor calls within NegativeTTL = %d, want 1", attributor.calls)
	}

	// ARC writes the job fields; after NegativeTTL the runner is looked up
	// again and its entries count.
	attributor.mu.Lock()
	attributor.idle = nil
	attributor.mu.Unlock()
	r.record(ctx, blocked(ip, "early.example.com", now.Add(2*time.Second)))
	if r.TrackedJobs() != 1 {
		t.Errorf("tracked jobs = %d, want 1 once the job fields exist", r.TrackedJobs())
	}
}
