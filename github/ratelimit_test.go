package github

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

func TestRetryAfterDelaysNextRequest(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n"))
	cs, _ := newTestClientSet(t, s, nil)
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	s.InjectFault(ghstandin.Fault{Method: http.MethodGet, Path: contentsPath, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Count: 1})

	got, err := client.FetchEgressConfig(context.Background(), scope, "", "")
	if err != nil || got.State != FileFound {
		t.Fatalf("FetchEgressConfig = %v, %v; want found after waiting", got, err)
	}
	reqs := s.RequestsTo(http.MethodGet, contentsPath)
	if len(reqs) != 2 || reqs[0].Status != http.StatusTooManyRequests {
		t.Fatalf("contents requests = %d, want a 429 and a retry", len(reqs))
	}
	if gap := reqs[1].Time.Sub(reqs[0].Time); gap < time.Second {
		t.Errorf("retry came %v after the 429, want at least the 1s Retry-After", gap)
	}
}

func TestSecondaryLimitBeyondMaxWaitFailsFast(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n"))
	cs, _ := newTestClientSet(t, s, func(o *Options) { o.MaxWait = time.Second })
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	s.InjectFault(ghstandin.Fault{Method: http.MethodGet, Path: contentsPath, Status: http.StatusForbidden, RetryAfter: time.Minute, Count: 1})

	before := time.Now()
	_, err = client.FetchEgressConfig(context.Background(), scope, "", "")
	var limit *RateLimitError
	if !errors.As(err, &limit) {
		t.Fatalf("err = %v, want a *RateLimitError", err)
	}
	if !limit.Secondary {
		t.Errorf("Secondary = false, want true for a 403 with Retry-After")
	}
	if wait := limit.Reset.Sub(before); wait < 59*time.Second || wait > 62*time.Second {
		t.Errorf("Reset is %v away, want about the 60s Retry-After", wait)
	}

	// The next request does not reach GitHub before the reset.
	_, err = client.FetchEgressConfig(context.Background(), scope, "", "")
	if !errors.As(err, &limit) {
		t.Errorf("second fetch err = %v, want a *RateLimitError", err)
	}
	if n := len(s.RequestsTo(http.MethodGet, contentsPath)); n != 1 {
		t.Errorf("contents requests = %d, want 1", n)
	}
}

func TestPrimaryLimitWaitsForReset(t *testing.T) {
	clock := newFakeClock()
	s := ghstandin.New(t, ghstandin.WithClock(clock.Now), ghstandin.WithRateWindow(30*time.Second))
	id := s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n"))
	cs, _ := newTestClientSet(t, s, func(o *Options) { o.Clock = clock })
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	s.ExhaustRateLimit(id)

	got, err := client.FetchEgressConfig(context.Background(), scope, "", "")
	if err != nil || got.State != FileFound {
		t.Fatalf("FetchEgressConfig = %v, %v; want found after the reset", got, err)
	}
	reqs := s.RequestsTo(http.MethodGet, contentsPath)
	if len(reqs) != 2 || reqs[0].Status != http.StatusForbidden || reqs[0].Credential == "" {
		t.Fatalf("contents requests = %d, want a 403 then a retry", len(reqs))
	}
	waits := clock.Waits()
	if len(waits) != 1 || waits[0] < 29*time.Second || waits[0] > 32*time.Second {
		t.Errorf("waits = %v, want one of about 30s until X-RateLimit-Reset", waits)
	}
}

func TestPrimaryLimitBeyondMaxWait(t *testing.T) {
	s := ghstandin.New(t)
	id := s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n"))
	cs, _ := newTestClientSet(t, s, nil)
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	s.ExhaustRateLimit(id)

	_, err = client.FetchEgressConfig(context.Background(), scope, "", "")
	var limit *RateLimitError
	if !errors.As(err, &limit) {
		t.Fatalf("err = %v, want a *RateLimitError", err)
	}
	if limit.Secondary {
		t.Errorf("Secondary = true, want false for an exhausted quota")
	}
	if wait := time.Until(limit.Reset); wait < 59*time.Minute {
		t.Errorf("Reset is %v away, want about an hour", wait)
	}
}

func TestRateLimitGauge(t *testing.T) {
	s := ghstandin.New(t)
	id := s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n"))
	cs, reg := newTestClientSet(t, s, nil)
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.FetchEgressConfig(context.Background(), scope, "", ""); err != nil {
		t.Fatal(err)
	}

	// One contents read and one commit lookup used two requests.
	want := float64(ghstandin.DefaultRateLimit - 2)
	host := s.URL[len("http://"):]
	if got := testutil.ToFloat64(cs.gauge.WithLabelValues(host, itoa(id))); got != want {
		t.Errorf("gauge = %v, want %v", got, want)
	}
	n, err := testutil.GatherAndCount(reg, RateLimitRemainingMetric)
	if err != nil || n != 2 {
		t.Errorf("series of %s = %d, %v; want 2 (the App and the installation)", RateLimitRemainingMetric, n, err)
	}

	// A second ClientSet on the same registry reuses the gauge.
	if _, err := NewClientSet(AppCredentials{AppID: s.AppID(), PrivateKey: s.PrivateKeyPEM()}, Options{Registerer: reg}); err != nil {
		t.Errorf("second ClientSet on one registry: %v", err)
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", EgressConfigPath, []byte("version: 1\n"))
	counter := &countingTransport{next: http.DefaultTransport}
	cs, _ := newTestClientSet(t, s, func(o *Options) {
		o.MaxConcurrency = 2
		o.Transport = counter
	})
	scope := mustScope(t, "https://github.com/octo-org/app")
	client, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	s.InjectFault(ghstandin.Fault{Method: http.MethodGet, Path: contentsPath, Latency: 50 * time.Millisecond})

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			if _, err := client.FetchEgressConfig(context.Background(), scope, "", ""); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("fetch: %v", err)
	}
	// A token request is sent while its API request holds the slot.
	if peak := counter.peak.Load(); peak != 2 {
		t.Errorf("peak requests in flight = %d, want 2", peak)
	}
	if n := len(s.RequestsTo(http.MethodGet, contentsPath)); n != 8 {
		t.Errorf("contents requests = %d, want 8", n)
	}
}
