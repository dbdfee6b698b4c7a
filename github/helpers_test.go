package github

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

// newTestClientSet returns a ClientSet whose github.com scopes go to the
// stand-in. edit may change the options before the ClientSet is built.
func newTestClientSet(t *testing.T, s *ghstandin.Server, edit func(*Options)) (*ClientSet, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts := Options{
		BaseURLs:       map[string]string{"github.com": s.BaseURL()},
		Registerer:     reg,
		RetryBaseDelay: 10 * time.Millisecond,
	}
	if edit != nil {
		edit(&opts)
	}
	cs, err := NewClientSet(AppCredentials{AppID: s.AppID(), PrivateKey: s.PrivateKeyPEM()}, opts)
	if err != nil {
		t.Fatalf("NewClientSet: %v", err)
	}
	return cs, reg
}

func mustScope(t *testing.T, raw string) Scope {
	t.Helper()
	scope, err := ParseConfigURL(raw)
	if err != nil {
		t.Fatalf("ParseConfigURL(%q): %v", raw, err)
	}
	return scope
}

// fakeClock advances only when something waits on it, so waits of minutes
// take no time. Waits records every wait.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// countingTransport tracks how many requests are in flight at once.
type countingTransport struct {
	next     http.RoundTripper
	inFlight atomic.Int32
	peak     atomic.Int32
	total    atomic.Int32
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	c.total.Add(1)
	for {
		peak := c.peak.Load()
		if n <= peak || c.peak.CompareAndSwap(peak, n) {
			break
		}
	}
	return c.next.RoundTrip(req)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
