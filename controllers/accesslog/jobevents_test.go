package accesslog

import (
	"context"
	"net/netip"
	"testing"
	"time"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

func TestFinishRunnerJobCompletesCheckRun(t *testing.T) {
	ctx := context.Background()
	ip := netip.MustParseAddr("10.244.1.9")
	job := testJob("lint")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	r, _, publisher := newTestReporter(t, Options{Clock: func() time.Time { return now }}, map[netip.Addr]Job{ip: job}, egressv1alpha1.ModeEnforce)

	r.record(ctx, blocked(ip, "registry.npmjs.org", now))
	r.Flush(ctx)

	if got := r.FinishRunnerJob(job.Runner, job.WorkflowRunID+1); got != 0 {
		t.Errorf("FinishRunnerJob for another run finished %d jobs, want 0", got)
	}
	if got := r.FinishRunnerJob("other-runner", job.WorkflowRunID); got != 0 {
		t.Errorf("FinishRunnerJob for another runner finished %d jobs, want 0", got)
	}
	if got := r.FinishRunnerJob(job.Runner, job.WorkflowRunID); got != 1 {
		t.Fatalf("FinishRunnerJob finished %d jobs, want 1", got)
	}

	// The EphemeralRunner still exists (the attributor reports the job as
	// active), yet the next flush completes the run.
	r.Flush(ctx)
	writes := publisher.writes(externalID(job))
	final := writes[len(writes)-1]
	if final.Status != StatusCompleted || final.Conclusion != ConclusionFailure {
		t.Errorf("final status/conclusion = %q/%q, want completed/failure", final.Status, final.Conclusion)
	}
	if r.TrackedJobs() != 0 {
		t.Errorf("tracked jobs after completion = %d, want 0", r.TrackedJobs())
	}
}
