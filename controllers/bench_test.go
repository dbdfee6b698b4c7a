package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
	"github.com/arc-lockdown/arc-lockdown/test/envtest"
	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

// benchScaleSets is the number of scale sets of the convergence benchmark.
const benchScaleSets = 500

// benchResync is the resync period of the benchmark. The resync phase
// waits at most this long after convergence for every scale set to be
// read again.
const benchResync = 60 * time.Second

// BenchmarkConverge500ScaleSets starts the controller against 500
// repository-level scale sets that exist before it starts (a cold start).
// Each has its own egress file on the GitHub stand-in. The benchmark
// reports how long it takes until every ScaleSetEgress is Ready at its
// commit, with the API writes and GitHub requests made. It then waits for
// one full resync with nothing changed and fails unless that resync made
// no API write and only conditional GitHub requests that returned 304.
func BenchmarkConverge500ScaleSets(b *testing.B) {
	for i := 0; i < b.N; i++ {
		commits := map[string]string{}
		h := startHarness(b, harnessOptions{
			arc:    envtest.ARCModule,
			resync: benchResync,
			configure: func(h *harness) {
				for n := 0; n < benchScaleSets; n++ {
					name := fmt.Sprintf("bench-%03d", n)
					commits[name] = h.addRepository(name, fileV1)
					h.create(b, scaleSet(b, name, name))
				}
			},
		})

		converged := waitConverged(b, h, commits, 10*time.Minute)
		seconds := time.Since(h.started).Seconds()
		writes := h.writes.Load()
		requests := h.gh.Requests()
		b.ReportMetric(seconds, "s/converge")
		b.ReportMetric(float64(writes), "api-writes")
		b.ReportMetric(float64(len(requests)), "github-requests")
		b.Logf("cold start: %d scale sets Ready in %.1fs with %d API writes and %d GitHub requests (%s)",
			converged, seconds, writes, len(requests), requestBreakdown(requests))

		resyncWrites, resyncRequests := measureResync(b, h, commits, converged, len(requests), writes)
		b.ReportMetric(float64(resyncWrites), "resync-api-writes")
		b.ReportMetric(float64(resyncRequests), "resync-github-requests")
	}
}

// waitConverged waits until every scale set's ScaleSetEgress is Ready at
// the commit of its file, and returns how many there are.
func waitConverged(b *testing.B, h *harness, commits map[string]string, timeout time.Duration) int {
	b.Helper()
	ready := 0
	eventually(b, timeout, fmt.Sprintf("%d scale sets Ready", len(commits)), func() error {
		var list egressv1alpha1.ScaleSetEgressList
		if err := h.admin.List(context.Background(), &list, client.InNamespace(runnerNamespace)); err != nil {
			return err
		}
		ready = 0
		for _, sse := range list.Items {
			c, err := condition(&sse, egressv1alpha1.ConditionReady)
			if err != nil || c.Status != metav1.ConditionTrue {
				continue
			}
			if sse.Status.AppliedSource != nil && sse.Status.AppliedSource.CommitSHA == commits[sse.Name] {
				ready++
			}
		}
		if ready < len(commits) {
			return fmt.Errorf("%d of %d Ready", ready, len(commits))
		}
		return nil
	})
	return ready
}

// measureResync waits until every repository was read again after
// convergence, then checks that the controller wrote nothing to the API
// server and that every GitHub request since was a conditional read
// that returned 304. It returns the writes and GitHub requests of the resync.
func measureResync(b *testing.B, h *harness, commits map[string]string, scaleSets, requestsBefore int, writesBefore int64) (int64, int) {
	b.Helper()
	var since []ghstandin.Request
	eventually(b, benchResync+time.Minute, "one resync of every scale set", func() error {
		since = h.gh.Requests()[requestsBefore:]
		seen := map[string]bool{}
		for _, req := range since {
			if repo, ok := contentsRepository(req.Path); ok {
				seen[repo] = true
			}
		}
		if len(seen) < len(commits) {
			return fmt.Errorf("%d of %d repositories read again", len(seen), len(commits))
		}
		return nil
	})
	// Let reconciles still running after their read finish their writes.
	time.Sleep(2 * time.Second)
	since = h.gh.Requests()[requestsBefore:]
	writes := h.writes.Load() - writesBefore

	if writes != 0 {
		b.Errorf("resync with nothing changed made %d API writes, want 0", writes)
	}
	for _, req := range since {
		if _, ok := contentsRepository(req.Path); !ok || req.Method != http.MethodGet {
			b.Errorf("resync sent %s %s; want only conditional reads of the egress file", req.Method, req.Path)
			continue
		}
		if req.Header.Get("If-None-Match") == "" {
			b.Errorf("resync read %s without If-None-Match", req.Path)
		}
		if req.Status != http.StatusNotModified {
			b.Errorf("resync read %s answered %d, want 304", req.Path, req.Status)
		}
	}
	b.Logf("resync: %d scale sets read again with %d GitHub requests and %d API writes", scaleSets, len(since), writes)
	return writes, len(since)
}

// requestBreakdown counts GitHub requests by kind, for the log.
func requestBreakdown(requests []ghstandin.Request) string {
	counts := map[string]int{}
	for _, req := range requests {
		kind := "other"
		switch {
		case strings.HasSuffix(req.Path, "/access_tokens"):
			kind = "token"
		case strings.HasSuffix(req.Path, "/installation"):
			kind = "installation lookup"
		case strings.Contains(req.Path, "/commits"):
			kind = "commits"
		case strings.Contains(req.Path, "/contents/"):
			kind = fmt.Sprintf("contents %d", req.Status)
		}
		counts[kind]++
	}
	kinds := make([]string, 0, len(counts))
	for kind := range counts {
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds)
	parts := make([]string, 0, len(kinds))
	for _, kind := range kinds {
		parts = append(parts, fmt.Sprintf("%s: %d", kind, counts[kind]))
	}
	return strings.Join(parts, ", ")
}

// contentsRepository returns "owner/repo" of a contents API path.
func contentsRepository(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/repos/")
	if !ok {
		return "", false
	}
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) < 3 || parts[2] != "contents" {
		return "", false
	}
	return parts[0] + "/" + parts[1], true
}
