package ghstandin

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// DefaultAppID is the GitHub App ID a Server accepts unless WithAppID sets
// another.
const DefaultAppID int64 = 4242

// DefaultRateLimit is the hourly request budget per credential, as GitHub
// gives an installation on github.com.
const DefaultRateLimit = 5000

// docsURL is the documentation_url GitHub puts in error bodies.
const docsURL = "https://docs.github.com/rest"

// Server is the GitHub API stand-in. Create it with New; it stops when the
// test ends.
type Server struct {
	// URL is the API root without a trailing slash, e.g.
	// "http://127.0.0.1:34567", or "https://127.0.0.1:34567/api/v3" with
	// WithTLS and WithPathPrefix("/api/v3").
	URL string

	tb     testing.TB
	tls    bool
	prefix string
	http   *httptest.Server
	doc    *openapi3.T
	appID  int64
	key    *rsa.PrivateKey

	mu           sync.Mutex
	now          func() time.Time
	tokenTTL     time.Duration
	rateLimit    int
	rateWindow   time.Duration
	nextID       int64
	installs     map[string]*installation // by lower-case account login
	tokens       map[string]*token        // by token value
	repos        map[string]*repository   // by lower-case "owner/repo"
	checkRuns    map[int64]*checkRun
	workflowRuns map[int64]*workflowRun
	faults       []*faultState
	requests     []Request
	rates        map[string]*rateWindow // by credential
}

// Option configures a Server.
type Option func(*Server)

// WithAppID sets the GitHub App ID whose JWTs the Server accepts.
func WithAppID(id int64) Option { return func(s *Server) { s.appID = id } }

// WithTokenTTL sets how long installation tokens last; GitHub's are one hour.
func WithTokenTTL(d time.Duration) Option { return func(s *Server) { s.tokenTTL = d } }

// WithClock sets the Server's clock, used for JWT checks, token expiry and
// rate-limit windows.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithTLS serves HTTPS with a certificate from httptest's own CA; get the
// CA certificate from CACertPEM.
func WithTLS() Option { return func(s *Server) { s.tls = true } }

// WithPathPrefix serves the API under a path prefix such as "/api/v3", as
// GitHub Enterprise Server does.
func WithPathPrefix(prefix string) Option {
	return func(s *Server) { s.prefix = "/" + strings.Trim(prefix, "/") }
}

// WithRateLimit sets the request budget per credential and window.
func WithRateLimit(n int) Option { return func(s *Server) { s.rateLimit = n } }

// WithRateWindow sets the length of a rate-limit window; GitHub's is one
// hour. Tests shorten it to see a reset.
func WithRateWindow(d time.Duration) Option { return func(s *Server) { s.rateWindow = d } }

var (
	keyOnce sync.Once
	appKey  *rsa.PrivateKey
	keyErr  error
)

// New starts a Server on 127.0.0.1 and stops it when tb's test ends. It skips
// the test when GitHub's OpenAPI description is missing.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	doc := Spec(tb)

	// One RSA key per process: generating a 2048-bit key takes long enough to
	// matter when many tests start a Server.
	keyOnce.Do(func() { appKey, keyErr = rsa.GenerateKey(rand.Reader, 2048) })
	if keyErr != nil {
		tb.Fatalf("generate the App's RSA key: %v", keyErr)
	}

	s := &Server{
		tb:           tb,
		doc:          doc,
		appID:        DefaultAppID,
		key:          appKey,
		now:          time.Now,
		tokenTTL:     time.Hour,
		rateLimit:    DefaultRateLimit,
		rateWindow:   time.Hour,
		nextID:       1000,
		installs:     map[string]*installation{},
		tokens:       map[string]*token{},
		repos:        map[string]*repository{},
		checkRuns:    map[int64]*checkRun{},
		workflowRuns: map[int64]*workflowRun{},
		rates:        map[string]*rateWindow{},
	}
	for _, opt := range opts {
		opt(s)
	}

	mux, err := s.routes()
	if err != nil {
		tb.Fatalf("build the stand-in's routes: %v", err)
	}
	s.http = httptest.NewUnstartedServer(s.withPrefix(mux))
	// Handshakes that clients abort on purpose (an untrusted certificate)
	// are not worth a log line.
	s.http.Config.ErrorLog = log.New(io.Discard, "", 0)
	if s.tls {
		s.http.StartTLS()
	} else {
		s.http.Start()
	}
	s.URL = s.http.URL + s.prefix
	tb.Cleanup(s.http.Close)
	return s
}

// BaseURL returns the API root with a trailing slash, as go-github expects.
func (s *Server) BaseURL() string { return s.URL + "/" }

// CACertPEM returns the PEM certificate that signs the Server's TLS
// certificate, or nil without WithTLS.
func (s *Server) CACertPEM() []byte {
	if !s.tls {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.http.Certificate().Raw})
}

// AppID returns the GitHub App ID the Server accepts.
func (s *Server) AppID() int64 { return s.appID }

// PrivateKeyPEM returns the App's private key in PKCS #1 PEM, the format
// GitHub hands out.
func (s *Server) PrivateKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s.key)})
}

// Request is one request as it reached the Server. The Authorization header
// keeps its scheme and loses its value; Credential names what it carried.
type Request struct {
	Time     time.Time
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
	// Credential is "app" for an App JWT, "installation <id> token <n>" for
	// the n-th token issued by the Server, "invalid" or "none".
	Credential string
	// Status is the status code the Server responded with.
	Status int
}

// Requests returns a copy of every request received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestsTo returns the requests whose method matches (any when empty) and
// whose path matches the regular expression pathRE.
func (s *Server) RequestsTo(method, pathRE string) []Request {
	re := regexp.MustCompile(pathRE)
	var out []Request
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && re.MatchString(r.Path) {
			out = append(out, r)
		}
	}
	return out
}

// Fault makes matching requests fail or slow down. It applies after the
// request has been validated and recorded, before authentication.
type Fault struct {
	// Method matches the HTTP method; empty matches any.
	Method string
	// Path is a regular expression matched against the URL path; empty
	// matches any.
	Path string
	// Status is the status code to respond with; 0 only adds Latency. A 403
	// or 429 with RetryAfter reads as GitHub's secondary rate limit.
	Status int
	// RetryAfter sets the Retry-After header, in whole seconds.
	RetryAfter time.Duration
	// Latency delays the response.
	Latency time.Duration
	// Count is how many matching requests the fault applies to; 0 means all.
	Count int
}

type faultState struct {
	Fault
	re   *regexp.Regexp
	used int
}

// InjectFault adds a fault. Faults are checked in the order they were added
// and the first one that matches and has uses left applies.
func (s *Server) InjectFault(f Fault) {
	state := &faultState{Fault: f}
	if f.Path != "" {
		state.re = regexp.MustCompile(f.Path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, state)
}

func (s *Server) matchFault(method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.Count > 0 && f.used >= f.Count {
			continue
		}
		if f.Method != "" && f.Method != method {
			continue
		}
		if f.re != nil && !f.re.MatchString(path) {
			continue
		}
		f.used++
		fault := f.Fault
		return &fault
	}
	return nil
}

// rateWindow is the primary rate limit of one credential.
type rateWindow struct {
	reset time.Time
	used  int
}

// ExhaustRateLimit uses up the hourly budget of an installation's tokens so
// that its next request gets GitHub's primary rate-limit 403.
func (s *Server) ExhaustRateLimit(installationID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.window(installationCredential(installationID))
	w.used = s.rateLimit
}

func installationCredential(id int64) string { return "installation " + strconv.FormatInt(id, 10) }

// window returns the current rate window of a credential, starting a new
// one when the last has passed. The caller holds s.mu.
func (s *Server) window(credential string) *rateWindow {
	now := s.now()
	w := s.rates[credential]
	if w == nil || !now.Before(w.reset) {
		w = &rateWindow{reset: now.Add(s.rateWindow).Truncate(time.Second)}
		s.rates[credential] = w
	}
	return w
}

// setRateHeaders writes the X-RateLimit-* headers GitHub sends on every
// response. The caller holds s.mu.
func (s *Server) setRateHeaders(h http.Header, w *rateWindow) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.rateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(s.rateLimit-w.used, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(w.reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(w.used))
	h.Set("X-RateLimit-Resource", "core")
}

// response is what a handler produces; the middleware validates it before
// sending.
type response struct {
	status int
	header http.Header
	body   []byte
}

func newResponse() *response { return &response{header: http.Header{}} }

func (r *response) json(status int, v any) *response {
	body, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("ghstandin: marshal response: %v", err))
	}
	r.status = status
	r.header.Set("Content-Type", "application/json; charset=utf-8")
	r.body = body
	return r
}

// errorBody is GitHub's basic-error body.
func errorBody(message string) map[string]any {
	return map[string]any{"message": message, "documentation_url": docsURL}
}

func (r *response) fail(status int, message string) *response {
	return r.json(status, errorBody(message))
}

// validationFailed is GitHub's 422 body with one validation error.
func (r *response) validationFailed(resource, field, message string) *response {
	return r.json(http.StatusUnprocessableEntity, map[string]any{
		"message":           "Validation Failed",
		"documentation_url": docsURL,
		"errors": []any{map[string]any{
			"resource": resource,
			"field":    field,
			"code":     "custom",
			"message":  message,
		}},
	})
}

// redactedHeaders copies h with the Authorization value replaced, keeping
// the scheme so tests can see which kind of credential was sent.
func redactedHeaders(h http.Header) http.Header {
	out := h.Clone()
	if auth := out.Get("Authorization"); auth != "" {
		scheme, _, _ := strings.Cut(auth, " ")
		out.Set("Authorization", scheme+" [redacted]")
	}
	return out
}

func readBody(r *http.Request) []byte {
	if r.Body == nil {
		return nil
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body
}
