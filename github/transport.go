package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

// Clock is the time source for waits and caches; tests replace it.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// limiter is the http.RoundTripper under go-github that handles GitHub's
// rate limits and server errors for one installation (or the App itself):
//   - at most cap(sem) requests in flight, shared by the whole ClientSet;
//   - after a 429, a secondary-limit 403 or a response with no quota left,
//     no request leaves before the reset. A wait up to maxWait is slept
//     through and the rejected request is sent again. A longer wait fails
//     at once with *RateLimitError, without contacting GitHub;
//   - GET and HEAD requests that fail with a 5xx or a network error are
//     retried with exponential backoff and jitter;
//   - the remaining quota goes to the Prometheus gauge.
type limiter struct {
	next       http.RoundTripper
	host       string
	sem        chan struct{}
	clock      Clock
	maxWait    time.Duration
	maxRetries int
	baseDelay  time.Duration
	remaining  prometheus.Gauge // nil when metrics are off

	mu        sync.Mutex
	blocked   time.Time // no request before this time
	secondary bool
	message   string
}

func (l *limiter) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	idempotent := req.Method == http.MethodGet || req.Method == http.MethodHead
	for attempt := 0; ; attempt++ {
		if err := l.waitForReset(ctx); err != nil {
			return nil, err
		}
		if attempt > 0 {
			rewound, err := rewind(req)
			if err != nil {
				return nil, err
			}
			req = rewound
		}

		resp, err := l.send(ctx, req)
		retriesLeft := attempt < l.maxRetries
		log := logr.FromContextOrDiscard(ctx).WithValues("host", l.host, "method", req.Method, "path", req.URL.Path, "attempt", attempt+1)
		if err != nil {
			if idempotent && retriesLeft && ctx.Err() == nil && !tokenRejected(err) {
				delay := l.backoff(attempt)
				log.V(1).Info("Retrying GitHub request after a transport error", "error", err.Error(), "delay", delay)
				if werr := l.sleep(ctx, delay); werr != nil {
					return nil, werr
				}
				continue
			}
			return nil, err
		}

		l.observe(resp)
		if wait, secondary, message, limited := l.rateLimited(resp); limited {
			discard(resp)
			reset := l.block(wait, secondary, message)
			// GitHub did not act on a rate-limited request, so any method may
			// be sent again once the limit resets.
			if retriesLeft && wait <= l.maxWait && (req.Body == nil || req.GetBody != nil) {
				log.Info("Waiting for GitHub's rate limit to reset", "status", resp.StatusCode, "secondary", secondary, "wait", wait)
				continue
			}
			return nil, &RateLimitError{Host: l.host, Reset: reset, Secondary: secondary, Message: message}
		}
		if resp.StatusCode >= 500 && idempotent && retriesLeft {
			discard(resp)
			delay := l.backoff(attempt)
			log.V(1).Info("Retrying GitHub request after a server error", "status", resp.StatusCode, "delay", delay)
			if werr := l.sleep(ctx, delay); werr != nil {
				return nil, werr
			}
			continue
		}
		return resp, nil
	}
}

// tokenRejected reports whether GitHub refused to issue an installation
// token with a 4xx (a wrong key, a removed installation): sending the
// request again cannot succeed.
func tokenRejected(err error) bool {
	var tokenErr *ghinstallation.HTTPError
	return errors.As(err, &tokenErr) && tokenErr.Response != nil &&
		tokenErr.Response.StatusCode >= 400 && tokenErr.Response.StatusCode < 500
}

// send takes a concurrency slot for one request.
func (l *limiter) send(ctx context.Context, req *http.Request) (*http.Response, error) {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-l.sem }()
	return l.next.RoundTrip(req)
}

// waitForReset sleeps until a rate-limit block ends, or fails with
// *RateLimitError when that is further away than maxWait.
func (l *limiter) waitForReset(ctx context.Context) error {
	l.mu.Lock()
	wait := l.blocked.Sub(l.clock.Now())
	err := &RateLimitError{Host: l.host, Reset: l.blocked, Secondary: l.secondary, Message: l.message}
	l.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	if wait > l.maxWait {
		return err
	}
	return l.sleep(ctx, wait)
}

func (l *limiter) block(wait time.Duration, secondary bool, message string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	until := l.clock.Now().Add(wait)
	if until.After(l.blocked) {
		l.blocked, l.secondary, l.message = until, secondary, message
	}
	return l.blocked
}

func (l *limiter) sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-l.clock.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoff is the delay before retry attempt+1: exponential from baseDelay,
// with jitter over its upper half so that replicas spread out.
func (l *limiter) backoff(attempt int) time.Duration {
	d := l.baseDelay << attempt
	return d/2 + rand.N(d/2+1) //nolint:gosec // jitter needs no cryptographic randomness
}

// observe records the remaining quota and blocks further requests when a
// successful response used up the last of it.
func (l *limiter) observe(resp *http.Response) {
	remaining, err := strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining"))
	if err != nil {
		return
	}
	if l.remaining != nil {
		l.remaining.Set(float64(remaining))
	}
	if remaining == 0 && resp.StatusCode < 400 {
		if reset, ok := l.resetTime(resp); ok {
			l.block(reset.Sub(l.clock.Now()), false, "")
		}
	}
}

// rateLimited separates a rate-limit rejection from other errors: a 429, or a
// 403 with no quota left, with Retry-After, or with GitHub's
// secondary-limit message. It returns how long to wait.
func (l *limiter) rateLimited(resp *http.Response) (wait time.Duration, secondary bool, message string, limited bool) {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusForbidden {
		return 0, false, "", false
	}
	message = peekMessage(resp)
	retryAfter, hasRetryAfter := parseRetryAfter(resp.Header.Get("Retry-After"))
	exhausted := resp.Header.Get("X-RateLimit-Remaining") == "0"
	mentionsSecondary := strings.Contains(strings.ToLower(message), "secondary rate limit")

	switch {
	case hasRetryAfter:
		return retryAfter, !exhausted, message, true
	case exhausted:
		if reset, ok := l.resetTime(resp); ok {
			// One second of margin: X-RateLimit-Reset is whole seconds.
			return max(reset.Sub(l.clock.Now())+time.Second, 0), false, message, true
		}
		return time.Minute, false, message, true
	case resp.StatusCode == http.StatusTooManyRequests || mentionsSecondary:
		// GitHub's documentation asks clients to wait at least a minute
		// when a secondary-limit response has no Retry-After header.
		return time.Minute, true, message, true
	}
	return 0, false, "", false
}

func (l *limiter) resetTime(resp *http.Response) (time.Time, bool) {
	sec, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(sec, 0), true
}

func parseRetryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if sec, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && sec >= 0 {
		return time.Duration(sec) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// peekMessage reads GitHub's error message from a JSON body and puts the
// body back.
func peekMessage(resp *http.Response) string {
	if resp.Body == nil {
		return ""
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var payload struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &payload) != nil {
		return ""
	}
	return payload.Message
}

func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// rewind returns a copy of req with a fresh body for another attempt.
func rewind(req *http.Request) (*http.Request, error) {
	clone := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return clone, nil
	}
	if req.GetBody == nil {
		return nil, fmt.Errorf("retry %s %s: the request body cannot be sent again", req.Method, req.URL.Path)
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("retry %s %s: %w", req.Method, req.URL.Path, err)
	}
	clone.Body = body
	return clone, nil
}
