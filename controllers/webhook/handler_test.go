package webhook

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// pushOfConfig returns GitHub's example push to Codertocat/Hello-World's
// default branch, changed so that its commit modifies the egress file.
func pushOfConfig(t *testing.T) []byte {
	t.Helper()
	for _, example := range examplePayloads(t, "push") {
		if !bytes.Contains(example, []byte(`"ref":"refs/heads/master"`)) && !bytes.Contains(example, []byte(`"ref": "refs/heads/master"`)) {
			continue
		}
		return editJSON(t, example, func(m map[string]any) {
			commits := m["commits"].([]any)
			commit := commits[0].(map[string]any)
			commit["modified"] = []any{ConfigPath}
		})
	}
	t.Fatal("no example push to refs/heads/master")
	return nil
}

// newTestHandler returns a Handler with a real Trigger on the shared API
// server and one scale set reading Codertocat/Hello-World, in namespace ns.
func newTestHandler(t *testing.T, ns string, opts Options) (*Handler, *Trigger) {
	t.Helper()
	env := requireEnv(t)
	createScaleSets(t, env.Client, ns, nil, testScaleSet{name: "hello-world", url: "https://github.com/Codertocat/Hello-World"})
	trigger := NewTrigger(env.Client, nil)
	opts.Secret = []byte(testSecret)
	opts.Trigger = trigger
	h, err := NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h, trigger
}

func TestNewHandlerRejectsEmptySecret(t *testing.T) {
	for _, secret := range []string{"", " \n"} {
		if _, err := NewHandler(Options{Secret: []byte(secret)}); err == nil {
			t.Errorf("NewHandler with secret %q returned no error", secret)
		}
	}
}

func TestValidPushTriggersScaleSet(t *testing.T) {
	h, trigger := newTestHandler(t, "valid-push", Options{})

	w := serve(h, newDelivery("push", pushOfConfig(t)))

	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body: %s", w.Code, w.Body)
	}
	if got := drain(trigger); len(got) != 1 || got[0] != "valid-push/hello-world" {
		t.Errorf("triggered %v, want [valid-push/hello-world]", got)
	}
}

func TestRejectedDeliveries(t *testing.T) {
	checker := &checkRecorder{}
	h, trigger := newTestHandler(t, "rejected", Options{MaxBodyBytes: 64 << 10, Checker: checker})
	push := pushOfConfig(t)

	tests := []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"unsigned", func() *http.Request {
			r := newDelivery("push", push)
			r.Header.Del(headerSignature)
			return r
		}, http.StatusUnauthorized},
		{"signed with another secret", func() *http.Request {
			r := newDelivery("push", push)
			r.Header.Set(headerSignature, sign("another secret", push))
			return r
		}, http.StatusUnauthorized},
		{"signature of another body", func() *http.Request {
			r := newDelivery("push", push)
			r.Header.Set(headerSignature, sign(testSecret, []byte(`{}`)))
			return r
		}, http.StatusUnauthorized},
		{"SHA-1 signature only", func() *http.Request {
			r := newDelivery("push", push)
			r.Header.Del(headerSignature)
			r.Header.Set("X-Hub-Signature", "sha1=0000000000000000000000000000000000000000")
			return r
		}, http.StatusUnauthorized},
		{"oversized", func() *http.Request {
			body := append(bytes.TrimSuffix(push, []byte("}")), []byte(`,"padding":"`+strings.Repeat("x", 64<<10)+`"}`)...)
			return newDelivery("push", body)
		}, http.StatusRequestEntityTooLarge},
		{"malformed JSON", func() *http.Request {
			return newDelivery("push", []byte(`{"ref": "refs/heads/master", "commits": [`))
		}, http.StatusBadRequest},
		{"JSON of the wrong shape", func() *http.Request {
			return newDelivery("push", []byte(`{"ref": 42}`))
		}, http.StatusBadRequest},
		{"malformed pull_request", func() *http.Request {
			return newDelivery("pull_request", []byte(`{"action": "opened", "number": "two"}`))
		}, http.StatusBadRequest},
		{"GET", func() *http.Request {
			r := newDelivery("push", push)
			r.Method = http.MethodGet
			return r
		}, http.StatusMethodNotAllowed},
		{"plain text", func() *http.Request {
			r := newDelivery("push", push)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, http.StatusUnsupportedMediaType},
		{"no delivery ID", func() *http.Request {
			r := newDelivery("push", push)
			r.Header.Del(headerDelivery)
			return r
		}, http.StatusBadRequest},
		{"no event", func() *http.Request {
			r := newDelivery("push", push)
			r.Header.Del(headerEvent)
			return r
		}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(h, tt.req())
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d; body: %s", w.Code, tt.status, w.Body)
			}
			if got := drain(trigger); len(got) != 0 {
				t.Errorf("rejected delivery triggered %v", got)
			}
			h.WaitForChecks()
			if got := checker.checked(); len(got) != 0 {
				t.Errorf("rejected delivery started checks %v", got)
			}
		})
	}
}

func TestReplayedDeliveryIsHandledOnce(t *testing.T) {
	h, trigger := newTestHandler(t, "replayed", Options{})
	push := pushOfConfig(t)
	first := newDelivery("push", push)
	replay := newDelivery("push", push)
	replay.Header.Set(headerDelivery, first.Header.Get(headerDelivery))

	if w := serve(h, first); w.Code != http.StatusOK {
		t.Fatalf("first delivery: status = %d, want 200; body: %s", w.Code, w.Body)
	}
	if got := drain(trigger); len(got) != 1 {
		t.Fatalf("first delivery triggered %v, want one scale set", got)
	}

	w := serve(h, replay)
	if w.Code != http.StatusOK {
		t.Errorf("replay: status = %d, want 200", w.Code)
	}
	if !strings.Contains(w.Body.String(), "duplicate") {
		t.Errorf("replay: body %q does not say duplicate", w.Body)
	}
	if got := drain(trigger); len(got) != 0 {
		t.Errorf("replay triggered %v", got)
	}
}

// failingTrigger is a RepositoryTrigger whose calls fail while err is set.
type failingTrigger struct {
	err   error
	calls int
}

func (f *failingTrigger) TriggerRepository(context.Context, Repository, string) (int, error) {
	f.calls++
	return 1, f.err
}

func (f *failingTrigger) TriggerOwner(context.Context, string, string) (int, error) {
	f.calls++
	return 1, f.err
}

func TestFailedDeliveryCanBeRedelivered(t *testing.T) {
	trigger := &failingTrigger{err: errors.New("API server unavailable")}
	h, err := NewHandler(Options{Secret: []byte(testSecret), Trigger: trigger})
	if err != nil {
		t.Fatal(err)
	}
	push := pushOfConfig(t)
	first := newDelivery("push", push)
	redelivery := newDelivery("push", push)
	redelivery.Header.Set(headerDelivery, first.Header.Get(headerDelivery))

	if w := serve(h, first); w.Code != http.StatusInternalServerError {
		t.Fatalf("failing delivery: status = %d, want 500", w.Code)
	}
	trigger.err = nil
	if w := serve(h, redelivery); w.Code != http.StatusOK {
		t.Errorf("redelivery: status = %d, want 200; body: %s", w.Code, w.Body)
	}
	if trigger.calls != 2 {
		t.Errorf("trigger calls = %d, want 2", trigger.calls)
	}
}

func TestUnknownAndPingEventsAreAcknowledged(t *testing.T) {
	h, trigger := newTestHandler(t, "unknown-events", Options{})

	if w := serve(h, newDelivery("star", []byte(`{"action": "created"}`))); w.Code != http.StatusAccepted {
		t.Errorf("star: status = %d, want 202", w.Code)
	}
	ping := examplePayloads(t, "ping")[0]
	if w := serve(h, newDelivery("ping", ping)); w.Code != http.StatusOK {
		t.Errorf("ping: status = %d, want 200", w.Code)
	}
	if got := drain(trigger); len(got) != 0 {
		t.Errorf("unknown events triggered %v", got)
	}
}

func TestFormEncodedDeliveryIsAccepted(t *testing.T) {
	h, trigger := newTestHandler(t, "form-encoded", Options{})
	body := []byte("payload=" + url.QueryEscape(string(pushOfConfig(t))))
	r := newDelivery("push", body)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")

	if w := serve(h, r); w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body: %s", w.Code, w.Body)
	}
	if got := drain(trigger); len(got) != 1 {
		t.Errorf("triggered %v, want one scale set", got)
	}
}

func TestDeliveryCacheExpiresAndEvicts(t *testing.T) {
	c := newDeliveryCache(2, 50*time.Millisecond)
	if !c.begin("a") || c.begin("a") {
		t.Fatal("a second begin of the same ID must return false")
	}
	c.finish("a")
	if c.begin("a") {
		t.Error("a finished ID must still count as seen")
	}
	c.begin("b")
	c.begin("c")
	if !c.begin("a") {
		t.Error("the least recently used ID must be evicted beyond the size")
	}
	time.Sleep(60 * time.Millisecond)
	if !c.begin("c") {
		t.Error("an ID must expire after the TTL")
	}
}

// blockingChecker is a PullRequestChecker that blocks until release is
// closed.
type blockingChecker struct {
	release chan struct{}
}

func (b *blockingChecker) CheckPullRequest(ctx context.Context, _ PullRequest) error {
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return nil
}

func TestBusyCheckerRejectsAndAcceptsRedelivery(t *testing.T) {
	checker := &blockingChecker{release: make(chan struct{})}
	h, err := NewHandler(Options{Secret: []byte(testSecret), Checker: checker, MaxConcurrentChecks: 1})
	if err != nil {
		t.Fatal(err)
	}
	var opened []byte
	for _, example := range examplePayloads(t, "pull_request") {
		if bytes.Contains(example, []byte(`"action":"opened"`)) || bytes.Contains(example, []byte(`"action": "opened"`)) {
			opened = example
			break
		}
	}

	if w := serve(h, newDelivery("pull_request", opened)); w.Code != http.StatusAccepted {
		t.Fatalf("first delivery: status = %d, want 202", w.Code)
	}
	second := newDelivery("pull_request", opened)
	if w := serve(h, second); w.Code != http.StatusServiceUnavailable {
		t.Errorf("second delivery while busy: status = %d, want 503", w.Code)
	}

	close(checker.release)
	h.WaitForChecks()
	redelivery := newDelivery("pull_request", opened)
	redelivery.Header.Set(headerDelivery, second.Header.Get(headerDelivery))
	if w := serve(h, redelivery); w.Code != http.StatusAccepted {
		t.Errorf("redelivery: status = %d, want 202; body: %s", w.Code, w.Body)
	}
	h.WaitForChecks()
}

// failingChecker is a PullRequestChecker that always fails and counts its
// calls.
type failingChecker struct {
	calls atomic.Int32
}

func (f *failingChecker) CheckPullRequest(context.Context, PullRequest) error {
	f.calls.Add(1)
	return errors.New("GitHub unavailable")
}

func TestFailedCheckCanBeRedelivered(t *testing.T) {
	checker := &failingChecker{}
	h, err := NewHandler(Options{Secret: []byte(testSecret), Checker: checker})
	if err != nil {
		t.Fatal(err)
	}
	opened := examplePayloads(t, "pull_request")[0]
	first := newDelivery("pull_request", opened)
	redelivery := newDelivery("pull_request", opened)
	redelivery.Header.Set(headerDelivery, first.Header.Get(headerDelivery))

	if w := serve(h, first); w.Code != http.StatusAccepted {
		t.Fatalf("first delivery: status = %d, want 202; body: %s", w.Code, w.Body)
	}
	h.WaitForChecks()
	if w := serve(h, redelivery); w.Code != http.StatusAccepted {
		t.Errorf("redelivery after a failed check: status = %d, want 202; body: %s", w.Code, w.Body)
	}
	h.WaitForChecks()
	if got := checker.calls.Load(); got != 2 {
		t.Errorf("checks run = %d, want 2", got)
	}
}

func TestDeliveriesAreCounted(t *testing.T) {
	h, err := NewHandler(Options{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	unsigned := func() float64 { return testutil.ToFloat64(deliveriesTotal.WithLabelValues("push", "401")) }
	other := func() float64 { return testutil.ToFloat64(deliveriesTotal.WithLabelValues("other", "202")) }
	unsignedBefore, otherBefore := unsigned(), other()

	r := newDelivery("push", []byte(`{}`))
	r.Header.Del(headerSignature)
	serve(h, r)
	serve(h, newDelivery("made-up-event", []byte(`{}`)))

	if got := unsigned() - unsignedBefore; got != 1 {
		t.Errorf("push deliveries answered 401 counted %v times, want 1", got)
	}
	if got := other() - otherBefore; got != 1 {
		t.Errorf("unknown events counted %v times under \"other\", want 1", got)
	}
}
