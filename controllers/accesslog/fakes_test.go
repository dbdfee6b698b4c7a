package accesslog

import (
	"context"
	"net/netip"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// staticAttributor maps IPs to jobs from a table, and jobs in finished are
// no longer active. Tests of the Reporter use it in place of KubeAttributor,
// which the envtest integration test covers.
type staticAttributor struct {
	mu       sync.Mutex
	jobs     map[netip.Addr]Job
	idle     map[netip.Addr]bool // runners whose job fields are not written yet
	finished map[string]bool
	calls    int
}

func (a *staticAttributor) Attribute(_ context.Context, ip netip.Addr) (Job, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if a.idle[ip] {
		return Job{}, ErrNoJob
	}
	job, ok := a.jobs[ip]
	if !ok {
		return Job{}, ErrUnknownSource
	}
	return job, nil
}

func (a *staticAttributor) JobActive(_ context.Context, job Job) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.finished[job.Key()], nil
}

func (a *staticAttributor) finish(job Job) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.finished == nil {
		a.finished = map[string]bool{}
	}
	a.finished[job.Key()] = true
}

// countingPublisher records every write and counts GitHub requests the way
// GitHub's API would need them: one workflow-run read, and per check-run
// write one request plus one per further batch of 50 annotations. With
// light set it keeps only each run's write count and last status, so that
// a flood test measures the Reporter's memory rather than its own.
type countingPublisher struct {
	light    bool
	mu       sync.Mutex
	runs     map[string][]CheckRun // by external ID
	count    map[string]int        // writes by external ID
	status   map[string]string     // last status by external ID
	requests map[string]int        // by owner/repo
}

func newCountingPublisher() *countingPublisher {
	return &countingPublisher{runs: map[string][]CheckRun{}, count: map[string]int{}, status: map[string]string{}, requests: map[string]int{}}
}

func (p *countingPublisher) HeadSHA(_ context.Context, target Target, runID int64) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests[target.Owner+"/"+target.Repo]++
	return "0123456789abcdef0123456789abcdef01234567", nil
}

func (p *countingPublisher) UpsertCheckRun(_ context.Context, target Target, run CheckRun) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	batches := (len(run.Annotations) + 49) / 50
	p.requests[target.Owner+"/"+target.Repo] += max(1, batches)
	p.count[run.ExternalID]++
	p.status[run.ExternalID] = run.Status
	if !p.light {
		p.runs[run.ExternalID] = append(p.runs[run.ExternalID], run)
	}
	return nil
}

func (p *countingPublisher) writes(externalID string) []CheckRun {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]CheckRun(nil), p.runs[externalID]...)
}

func newTestMetrics(t testing.TB) *Metrics {
	t.Helper()
	m, err := NewMetrics(prometheus.NewRegistry(), 50)
	if err != nil {
		t.Fatalf("create metrics: %v", err)
	}
	return m
}
