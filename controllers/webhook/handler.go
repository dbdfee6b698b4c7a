package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	gogithub "github.com/google/go-github/v60/github"
)

// Defaults of Options.
const (
	// DefaultMaxBodyBytes is the largest delivery body accepted. Pushes are
	// the largest events handled here. GitHub's OpenAPI description caps a
	// push's commits at 2,048, and a commit of GitHub's example push takes
	// 550 bytes, so such a push is about 1.1 MB. The limit is an estimate
	// that leaves room for long messages and many paths, far below GitHub's
	// 25 MB payload cap, because the body is read before it is
	// authenticated.
	DefaultMaxBodyBytes = 5 << 20
	// DefaultDeliveryCacheSize is the number of delivery IDs remembered.
	DefaultDeliveryCacheSize = 10000
	// DefaultDeliveryTTL is how long a delivery ID is remembered.
	DefaultDeliveryTTL = time.Hour
	// DefaultMaxConcurrentChecks bounds the pull-request checks running at
	// once; a delivery that finds them all busy gets 503.
	DefaultMaxConcurrentChecks = 4
	// DefaultCheckTimeout bounds one pull-request check.
	DefaultCheckTimeout = 2 * time.Minute
)

// Headers GitHub sets on every delivery.
const (
	headerEvent     = "X-GitHub-Event"
	headerDelivery  = "X-GitHub-Delivery"
	headerSignature = "X-Hub-Signature-256"
)

// Options configures a Handler.
type Options struct {
	// Secret is the webhook secret configured on the GitHub App. It must not
	// be empty: go-github's ValidatePayload skips the signature check for
	// an empty secret.
	Secret []byte

	// MaxBodyBytes is the largest body accepted; larger deliveries get 413.
	// Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// DeliveryCacheSize is the number of delivery IDs remembered for
	// deduplication. Zero means DefaultDeliveryCacheSize.
	DeliveryCacheSize int
	// DeliveryTTL is how long a delivery ID is remembered. Zero means
	// DefaultDeliveryTTL.
	DeliveryTTL time.Duration
	// MaxConcurrentChecks bounds the pull-request checks running at once.
	// Zero means DefaultMaxConcurrentChecks.
	MaxConcurrentChecks int
	// CheckTimeout bounds one pull-request check. Zero means
	// DefaultCheckTimeout.
	CheckTimeout time.Duration

	// Trigger reconciles the scale sets of pushed repositories and of
	// changed installations. Nil ignores push and installation events.
	Trigger RepositoryTrigger
	// Checker runs the "egress / config" check of pull requests. Nil
	// ignores pull_request events.
	Checker PullRequestChecker
	// Jobs receives workflow_job events. Nil ignores them.
	Jobs JobObserver
	// Installations drops cached installation IDs when an installation
	// changes. Nil skips that step.
	Installations InstallationForgetter
}

// Handler is the http.Handler for GitHub webhook deliveries. It responds
//
//   - 405 to a method other than POST, 413 to a body over the limit and 415
//     to a content type other than JSON or form-encoded JSON;
//   - 401 when X-Hub-Signature-256 is missing or wrong;
//   - 400 when the event or delivery header is missing, or the payload is
//     not valid JSON for its event;
//   - 200 with "duplicate delivery" to a delivery ID seen within the TTL,
//     without handling it again;
//   - 202 to events it does not handle and when a pull-request check starts
//     in the background, 200 when the delivery was handled;
//   - 500 when handling failed and 503 when every check slot is busy. The
//     delivery ID of a failed delivery is forgotten, so that GitHub's
//     redelivery is handled again.
type Handler struct {
	opts       Options
	deliveries *deliveryCache

	checkSlots chan struct{}
	checks     sync.WaitGroup

	mu      sync.Mutex
	baseCtx context.Context
}

// NewHandler returns a Handler. It returns an error when the secret is
// empty, so that the controller refuses to serve unauthenticated webhooks.
func NewHandler(opts Options) (*Handler, error) {
	if len(bytes.TrimSpace(opts.Secret)) == 0 {
		return nil, errors.New("webhook secret is empty: set the GitHub App's webhook secret and pass it with --webhook-secret-file")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.DeliveryCacheSize <= 0 {
		opts.DeliveryCacheSize = DefaultDeliveryCacheSize
	}
	if opts.DeliveryTTL <= 0 {
		opts.DeliveryTTL = DefaultDeliveryTTL
	}
	if opts.MaxConcurrentChecks <= 0 {
		opts.MaxConcurrentChecks = DefaultMaxConcurrentChecks
	}
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = DefaultCheckTimeout
	}
	return &Handler{
		opts:       opts,
		deliveries: newDeliveryCache(opts.DeliveryCacheSize, opts.DeliveryTTL),
		checkSlots: make(chan struct{}, opts.MaxConcurrentChecks),
		baseCtx:    context.Background(),
	}, nil
}

// ServeHTTP authenticates, deduplicates and dispatches one delivery.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	recorder := &statusRecorder{ResponseWriter: w}
	defer func() { observeDelivery(r.Header.Get(headerEvent), recorder.status) }()
	w = recorder

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		respond(w, http.StatusMethodNotAllowed, "method %s not allowed: GitHub sends webhooks with POST", r.Method)
		return
	}

	payload, status, msg := h.readPayload(w, r)
	if status != 0 {
		logr.FromContextOrDiscard(r.Context()).V(1).Info("Rejecting webhook delivery",
			"status", status, "reason", msg, "delivery", r.Header.Get(headerDelivery))
		respond(w, status, "%s", msg)
		return
	}

	event := r.Header.Get(headerEvent)
	delivery := r.Header.Get(headerDelivery)
	if event == "" || delivery == "" {
		respond(w, http.StatusBadRequest, "missing %s or %s header", headerEvent, headerDelivery)
		return
	}
	log := logr.FromContextOrDiscard(r.Context()).WithValues("delivery", delivery, "event", event)
	ctx := context.WithValue(logr.NewContext(r.Context(), log), deliveryKey{}, delivery)

	if !h.deliveries.begin(delivery) {
		log.V(1).Info("Ignoring a delivery seen before")
		respond(w, http.StatusOK, "duplicate delivery %s ignored", delivery)
		return
	}

	result := h.dispatch(ctx, event, payload)
	if result.status >= 400 {
		h.deliveries.forget(delivery)
	} else {
		h.deliveries.finish(delivery)
	}
	switch {
	case result.status >= 500:
		log.Error(result.err, "Handling webhook delivery failed", "status", result.status)
	case result.status >= 400:
		log.V(1).Info("Rejecting webhook delivery", "status", result.status, "reason", result.message)
	}
	respond(w, result.status, "%s", result.message)
}

// readPayload reads the body within the size limit and checks its
// signature. A non-zero status means the delivery is rejected with msg.
func (h *Handler) readPayload(w http.ResponseWriter, r *http.Request) (payload []byte, status int, msg string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", h.opts.MaxBodyBytes)
		}
		return nil, http.StatusBadRequest, fmt.Sprintf("read body: %v", err)
	}

	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mediaType != "application/json" && mediaType != "application/x-www-form-urlencoded") {
		return nil, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q not supported: set the webhook's content type to application/json", r.Header.Get("Content-Type"))
	}

	// ValidatePayload falls back to the SHA-1 X-Hub-Signature header when
	// X-Hub-Signature-256 is missing; this endpoint accepts SHA-256 only.
	if r.Header.Get(headerSignature) == "" {
		return nil, http.StatusUnauthorized, fmt.Sprintf("missing %s header: set a secret on the webhook", headerSignature)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	payload, err = gogithub.ValidatePayload(r, h.opts.Secret)
	if err != nil {
		return nil, http.StatusUnauthorized, fmt.Sprintf("invalid %s: %v", headerSignature, err)
	}
	return payload, 0, ""
}

// result is the outcome of handling one delivery.
type result struct {
	status  int
	message string
	err     error
}

func handled(format string, args ...any) result {
	return result{status: http.StatusOK, message: fmt.Sprintf(format, args...)}
}

func accepted(format string, args ...any) result {
	return result{status: http.StatusAccepted, message: fmt.Sprintf(format, args...)}
}

func failed(status int, err error) result {
	return result{status: status, message: err.Error(), err: err}
}

// dispatch parses the payload of a supported event and hands it on.
func (h *Handler) dispatch(ctx context.Context, event string, payload []byte) result {
	switch event {
	case "ping":
		return handled("pong")
	case "push", "pull_request", "installation", "installation_repositories", "workflow_job":
	default:
		return accepted("event %s ignored", event)
	}

	parsed, err := gogithub.ParseWebHook(event, payload)
	if err != nil {
		return failed(http.StatusBadRequest, fmt.Errorf("parse %s payload: %w", event, err))
	}
	switch e := parsed.(type) {
	case *gogithub.PushEvent:
		return h.handlePush(ctx, e)
	case *gogithub.PullRequestEvent:
		return h.handlePullRequest(ctx, e)
	case *gogithub.InstallationEvent:
		return h.handleInstallation(ctx, e)
	case *gogithub.InstallationRepositoriesEvent:
		return h.handleInstallationRepositories(ctx, e)
	case *gogithub.WorkflowJobEvent:
		return h.handleWorkflowJob(ctx, e)
	default:
		return accepted("event %s ignored", event)
	}
}

// deliveryKey is the context key of the X-GitHub-Delivery ID.
type deliveryKey struct{}

// statusRecorder remembers the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(status int) {
	s.status = status
	s.ResponseWriter.WriteHeader(status)
}

// respond writes a plain-text response.
func respond(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, format+"\n", args...)
}
