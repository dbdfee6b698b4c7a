package accesslog

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	datav3 "github.com/envoyproxy/go-control-plane/envoy/data/accesslog/v3"
	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// TestFloodStaysBounded streams 100,000 entries from 1,000 runner pods,
// each running its own job and reaching many distinct hosts, and checks
// that the Reporter's heap stays bounded and that no job costs more GitHub
// requests than the cap allows.
func TestFloodStaysBounded(t *testing.T) {
	const (
		pods           = 1000
		entriesPerPod  = 100
		entriesPerMsg  = 25
		maxJobs        = 500 // half the pods: the rest must be dropped and counted
		maxDestsPerJob = 20
		maxUpdates     = 5
	)
	jobs := map[netip.Addr]Job{}
	ips := make([]netip.Addr, pods)
	for i := range pods {
		ips[i] = netip.AddrFrom4([4]byte{10, 244, byte(i / 250), byte(i%250 + 1)})
		job := testJob(fmt.Sprintf("job-%d", i))
		job.Runner = fmt.Sprintf("runner-%d", i)
		job.Repository = fmt.Sprintf("octo/app-%d", i)
		job.WorkflowRef = job.Repository + "/.github/workflows/ci.yml@refs/heads/main"
		jobs[ips[i]] = job
	}
	opts := Options{
		FlushInterval:         20 * time.Millisecond,
		QueueSize:             4096,
		MaxJobs:               maxJobs,
		MaxDestinationsPerJob: maxDestsPerJob,
		MaxUpdatesPerJob:      maxUpdates,
		// Jobs finish only at the end of the test, so frequent checks cost
		// nothing but cover the completion path quickly.
		CompletionCheckInterval: 20 * time.Millisecond,
	}
	reporter, attributor, publisher := newTestReporter(t, opts, jobs, egressv1alpha1.ModeEnforce)
	publisher.light = true
	client := startPipeline(t, reporter)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	before := heapAfterGC()
	start := time.Now()

	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, pods)
	for i := range pods {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			id := identifier(sidecarNode(ips[i].String(), jobs[ips[i]].Runner, "arc-runners"))
			var msgs []*accesslogv3.StreamAccessLogsMessage
			for m := range entriesPerPod / entriesPerMsg {
				entries := make([]*datav3.TCPAccessLogEntry, entriesPerMsg)
				for k := range entries {
					// Every entry goes to a new host: the worst case for
					// per-destination state.
					host := fmt.Sprintf("h%d-%d.flood.example.com", m, k)
					entries[k] = blackHoleTLS(ips[i].String(), host, "203.0.113.9")
				}
				msgs = append(msgs, tcpMessage(id, entries...))
				id = nil
			}
			if err := sendStream(ctx, client, msgs...); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("stream: %v", err)
	}

	// Every entry is either ingested or counted as dropped at the queue.
	total := float64(pods * entriesPerPod)
	waitFor(t, time.Minute, "every entry to be ingested or dropped", func() bool {
		ingested := testutil.ToFloat64(reporter.metrics.Entries.WithLabelValues(VerdictBlocked.String()))
		return ingested+testutil.ToFloat64(reporter.metrics.Dropped.WithLabelValues(DropQueueFull)) == total
	})
	during := heapAfterGC()

	// The jobs end; each gets its completing write.
	for _, job := range jobs {
		attributor.finish(job)
	}
	waitFor(t, time.Minute, "every tracked job to complete", func() bool { return reporter.TrackedJobs() == 0 })

	growth := int64(during) - int64(before)
	// Each job holds at most maxDestsPerJob destinations of about 300
	// bytes (host string, struct, map slot, order slice) and 2 KiB of its
	// own state. Each source IP holds one cache entry. The 4 MiB covers
	// runtime and gRPC buffers. These sizes are estimates.
	bound := int64(maxJobs*(maxDestsPerJob*300+2048) + pods*256 + 4<<20)
	t.Logf("heap before %d B, after the flood %d B, growth %d B, bound %d B", before, during, growth, bound)
	if growth > bound {
		t.Errorf("heap grew by %d bytes during the flood, bound %d", growth, bound)
	}

	if got := testutil.ToFloat64(reporter.metrics.Dropped.WithLabelValues(DropMaxJobs)); got == 0 {
		t.Errorf("no entry was dropped for max_jobs, although %d pods ran jobs and the limit is %d", pods, maxJobs)
	}
	if got := testutil.ToFloat64(reporter.metrics.Dropped.WithLabelValues(DropMaxDestinations)); got == 0 {
		t.Errorf("no destination was dropped although each job reached %d hosts and the limit is %d", entriesPerPod, maxDestsPerJob)
	}

	t.Logf("started %d, ingested+dropped %v in %s", pods*entriesPerPod, total, time.Since(start))

	// Requests per job: one workflow-run read, at most maxUpdates writes
	// while running plus the completing write, each one request, and the
	// annotations of at most maxDestsPerJob destinations in extra batches
	// of 50.
	capPerJob := 1 + maxUpdates + 1 + (maxDestsPerJob+49)/50
	reported := 0
	publisher.mu.Lock()
	for _, job := range jobs {
		writes := publisher.count[externalID(job)]
		if writes == 0 {
			continue
		}
		reported++
		if writes > maxUpdates+1 {
			t.Errorf("job %s got %d check-run writes, cap %d", job.Name, writes, maxUpdates+1)
		}
		if status := publisher.status[externalID(job)]; status != StatusCompleted {
			t.Errorf("job %s: last write has status %q, want completed", job.Name, status)
		}
	}
	publisher.mu.Unlock()
	if reported == 0 || reported > maxJobs {
		t.Errorf("jobs with a check run = %d, want between 1 and %d", reported, maxJobs)
	}
	publisher.mu.Lock()
	defer publisher.mu.Unlock()
	for repo, n := range publisher.requests {
		// Each job has its own repository.
		if n > capPerJob {
			t.Errorf("%s got %d GitHub requests, cap %d per job", repo, n, capPerJob)
		}
	}
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
