package accesslog

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arc-lockdown/arc-lockdown/github"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

// arrivalRecorder is a Server clock that keeps the time of every call; the
// server calls it once per received message.
type arrivalRecorder struct {
	mu    sync.Mutex
	times []time.Time
}

func (a *arrivalRecorder) now() time.Time {
	t := time.Now()
	a.mu.Lock()
	a.times = append(a.times, t)
	a.mu.Unlock()
	return t
}

// BenchmarkBlockToAnnotation measures the time from a blocked entry's
// arrival at the access-log server to the GitHub stand-in recording the
// request that carries its annotation, with the default 3 s flush interval
// and the real GitHub client. Each sample is a separate job with its own
// repository, and samples arrive 20 ms apart. Attribution uses a static
// table: the envtest integration test covers the Kubernetes lookups.
// Run it with -benchtime=200x: each iteration is one sample.
func BenchmarkBlockToAnnotation(b *testing.B) {
	gh := ghstandin.New(b)
	gh.AddInstallation("octo")
	jobs := map[netip.Addr]Job{}
	var ips []netip.Addr
	for i := range b.N {
		repo := fmt.Sprintf("octo/app-%d", i)
		sha := gh.SetFile(repo, "main", ".github/workflows/ci.yml", []byte("on: push\n"))
		ip := netip.AddrFrom4([4]byte{10, 246, byte(i / 250), byte(i%250 + 1)})
		job := testJob(fmt.Sprintf("latency-%d", i))
		job.Repository = repo
		job.WorkflowRef = repo + "/.github/workflows/ci.yml@refs/heads/main"
		job.WorkflowRunID = gh.AddWorkflowRun(repo, ghstandin.WorkflowRun{HeadSHA: sha, HeadBranch: "main"})
		jobs[ip] = job
		ips = append(ips, ip)
	}
	clients, err := github.NewClientSet(
		github.AppCredentials{AppID: gh.AppID(), PrivateKey: gh.PrivateKeyPEM()},
		github.Options{BaseURLs: map[string]string{"github.com": gh.BaseURL()}, Registerer: prometheus.NewRegistry()},
	)
	if err != nil {
		b.Fatal(err)
	}
	profiles := ProfileLookupFunc(func(context.Context, string, string) (ScaleSetProfile, error) {
		return ScaleSetProfile{Mode: egressv1alpha1.ModeEnforce, GitHubConfigURL: "https://github.com/octo"}, nil
	})
	reporter := NewReporter(Options{}, &staticAttributor{jobs: jobs}, profiles, NewGitHubPublisher(clients), newTestMetrics(b))
	arrivals := &arrivalRecorder{}
	client := startPipelineServer(b, reporter, &Server{BindAddress: "127.0.0.1:0", Reporter: reporter, Metrics: reporter.metrics, Clock: arrivals.now})
	ctx := context.Background()

	stream, err := client.StreamAccessLogs(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	id := identifier(gatewayNode())
	for i := range b.N {
		if err := stream.Send(tcpMessage(id, gatewayDeniedTCP(ips[i].String(), fmt.Sprintf("blocked-%d.example.com", i)))); err != nil {
			b.Fatal(err)
		}
		id = nil
		time.Sleep(20 * time.Millisecond)
	}

	// Wait for every job's check run: its first write carries the
	// annotation.
	deadline := time.Now().Add(2 * time.Minute)
	var created []ghstandin.Request
	for {
		created = gh.RequestsTo("POST", `^/repos/octo/app-[0-9]+/check-runs$`)
		if len(created) >= b.N {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d check runs reached the stand-in", len(created), b.N)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	if _, err := stream.CloseAndRecv(); err != nil {
		b.Fatal(err)
	}

	arrivals.mu.Lock()
	times := slices.Clone(arrivals.times)
	arrivals.mu.Unlock()
	if len(times) < b.N {
		b.Fatalf("recorded %d arrivals, want %d", len(times), b.N)
	}
	latencies := make([]time.Duration, 0, b.N)
	for _, req := range created {
		var i int
		repo := strings.TrimSuffix(strings.TrimPrefix(req.Path, "/repos/octo/app-"), "/check-runs")
		if _, err := fmt.Sscanf(repo, "%d", &i); err != nil || i >= b.N {
			b.Fatalf("unexpected check-run request %s", req.Path)
		}
		if !strings.Contains(string(req.Body), fmt.Sprintf("blocked-%d.example.com", i)) {
			b.Fatalf("check run of job %d lacks its annotation: %s", i, req.Body)
		}
		latencies = append(latencies, req.Time.Sub(times[i]))
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(percentile(latencies, 0.50).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(percentile(latencies, 0.95).Milliseconds()), "p95-ms")
}

// percentile returns the nearest-rank percentile p (0 to 1) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[max(0, min(len(sorted), rank)-1)]
}
