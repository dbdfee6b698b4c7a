package ghstandin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// authKind is the credential an endpoint requires.
type authKind int

const (
	authApp          authKind = iota // an App JWT
	authInstallation                 // an installation token
)

// handlerFunc serves one operation for an authenticated caller.
type handlerFunc func(r *http.Request, caller *caller) *response

// caller is the authenticated credential of a request.
type caller struct {
	app          bool
	installation *installation
}

type route struct {
	method  string
	path    string // OpenAPI path template
	auth    authKind
	handler handlerFunc
}

var paramRE = regexp.MustCompile(`\{[a-z_]+\}`)

func (s *Server) routes() (*http.ServeMux, error) {
	table := []route{
		{http.MethodPost, "/app/installations/{installation_id}/access_tokens", authApp, s.createInstallationToken},
		{http.MethodGet, "/repos/{owner}/{repo}/installation", authApp, s.getRepoInstallation},
		{http.MethodGet, "/orgs/{org}/installation", authApp, s.getOrgInstallation},
		{http.MethodGet, "/repos/{owner}/{repo}/contents/{path}", authInstallation, s.getContent},
		{http.MethodGet, "/repos/{owner}/{repo}/commits", authInstallation, s.listCommits},
		{http.MethodPost, "/repos/{owner}/{repo}/check-runs", authInstallation, s.createCheckRun},
		{http.MethodPatch, "/repos/{owner}/{repo}/check-runs/{check_run_id}", authInstallation, s.updateCheckRun},
		{http.MethodGet, "/repos/{owner}/{repo}/commits/{ref}/check-runs", authInstallation, s.listCheckRunsForRef},
		{http.MethodGet, "/repos/{owner}/{repo}/actions/runs/{run_id}", authInstallation, s.getWorkflowRun},
		{http.MethodGet, "/repos/{owner}/{repo}/pulls/{pull_number}/files", authInstallation, s.listPullRequestFiles},
	}

	mux := http.NewServeMux()
	for _, rt := range table {
		op, err := lookupOperation(s.doc, rt.method, rt.path)
		if err != nil {
			return nil, err
		}
		// The contents path parameter spans several segments.
		pattern := rt.path
		if rt.path == "/repos/{owner}/{repo}/contents/{path}" {
			pattern = "/repos/{owner}/{repo}/contents/{path...}"
		}
		mux.Handle(rt.method+" "+pattern, s.serve(op, rt))
	}
	mux.HandleFunc("/", s.notImplemented)
	return mux, nil
}

// apiRootKey is the context key of the API root, for building links.
type apiRootKey struct{}

// withPrefix serves the API under the path prefix, as GitHub Enterprise
// Server serves it under /api/v3.
func (s *Server) withPrefix(mux http.Handler) http.Handler {
	if s.prefix == "" {
		return mux
	}
	stripped := http.StripPrefix(s.prefix, mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, s.prefix+"/") {
			s.notImplemented(w, r)
			return
		}
		stripped.ServeHTTP(w, r)
	})
}

// notImplemented returns 404 for endpoints the stand-in does not serve
// and fails the test: client code should call only what the stand-in
// implements.
func (s *Server) notImplemented(w http.ResponseWriter, r *http.Request) {
	body := readBody(r)
	s.tb.Errorf("ghstandin: %s %s is not implemented by the stand-in", r.Method, r.URL.Path)
	s.record(r, body, "none", http.StatusNotFound)
	resp := newResponse().fail(http.StatusNotFound, "Not Found")
	s.write(w, resp)
}

// serve wraps a handler with what GitHub does for every request: request
// validation, faults, authentication, rate limits, response validation and
// recording.
func (s *Server) serve(op *operation, rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), apiRootKey{}, s.URL))
		body := readBody(r)
		params := map[string]string{}
		for _, name := range paramRE.FindAllString(rt.path, -1) {
			name = name[1 : len(name)-1]
			params[name] = r.PathValue(name)
		}

		credential := "none"
		var resp *response
		input, err := op.validateRequest(r, params, body)
		switch {
		case err != nil:
			s.tb.Errorf("ghstandin: %s", shortError(err))
			resp = invalidRequest(err, body)
			if verr := checkErrorBody(s.doc, resp.status, resp.body); verr != nil {
				s.tb.Errorf("ghstandin: response %d to an invalid request: %s", resp.status, shortError(verr))
			}
		default:
			credential, resp = s.handle(r, rt)
		}

		if err == nil {
			if verr := op.validateResponse(input, resp.status, resp.header, resp.body); verr != nil {
				s.tb.Errorf("ghstandin: %s", shortError(verr))
				resp = newResponse().fail(http.StatusInternalServerError, "ghstandin produced a response that does not match GitHub's OpenAPI description")
			}
		}
		s.record(r, body, credential, resp.status)
		s.write(w, resp)
	})
}

// handle applies faults, authentication and rate limits, then runs the
// handler. It returns the credential name for the request record.
func (s *Server) handle(r *http.Request, rt route) (string, *response) {
	if f := s.matchFault(r.Method, r.URL.Path); f != nil {
		if !sleepContext(r.Context(), f.Latency) {
			return "none", newResponse().fail(http.StatusServiceUnavailable, "request canceled")
		}
		if f.Status != 0 {
			return "none", s.faultResponse(f)
		}
	}

	c, credential, authResp := s.authenticate(r, rt.auth)
	if authResp != nil {
		s.mu.Lock()
		s.setRateHeaders(authResp.header, s.window(credential))
		s.mu.Unlock()
		return credential, authResp
	}

	rateKey := "app"
	if c.installation != nil {
		rateKey = installationCredential(c.installation.id)
	}
	s.mu.Lock()
	w := s.window(rateKey)
	if w.used >= s.rateLimit {
		resp := newResponse().json(http.StatusForbidden, map[string]any{
			"message":           fmt.Sprintf("API rate limit exceeded for %s.", rateKey),
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
		})
		s.setRateHeaders(resp.header, w)
		s.mu.Unlock()
		return credential, resp
	}
	s.mu.Unlock()

	resp := rt.handler(r, c)

	s.mu.Lock()
	// A 304 to an authenticated conditional request does not count against
	// the primary rate limit.
	if resp.status != http.StatusNotModified {
		w.used++
	}
	s.setRateHeaders(resp.header, w)
	s.mu.Unlock()
	return credential, resp
}

func (s *Server) faultResponse(f *Fault) *response {
	resp := newResponse()
	secondary := f.RetryAfter > 0 && (f.Status == http.StatusForbidden || f.Status == http.StatusTooManyRequests)
	if secondary {
		resp.json(f.Status, map[string]any{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
	} else {
		resp.fail(f.Status, http.StatusText(f.Status))
	}
	if f.RetryAfter > 0 {
		resp.header.Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	s.mu.Lock()
	s.setRateHeaders(resp.header, s.window("faults"))
	s.mu.Unlock()
	return resp
}

func (s *Server) record(r *http.Request, body []byte, credential string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{
		Time:       time.Now(),
		Method:     r.Method,
		Path:       r.URL.Path,
		RawQuery:   r.URL.RawQuery,
		Header:     redactedHeaders(r.Header),
		Body:       body,
		Credential: credential,
		Status:     status,
	})
}

func (s *Server) write(w http.ResponseWriter, resp *response) {
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	w.WriteHeader(resp.status)
	if len(resp.body) > 0 {
		_, _ = w.Write(resp.body)
	}
}

func sleepContext(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// invalidRequest responds to a request that breaks the OpenAPI description the
// way GitHub does: 400 for a body that is not JSON, 422 "Invalid request"
// for a body that breaks its schema, 400 for anything else.
func invalidRequest(err error, body []byte) *response {
	if len(body) > 0 && !json.Valid(body) {
		return newResponse().fail(http.StatusBadRequest, "Problems parsing JSON")
	}
	if isBodyError(err) {
		return newResponse().json(http.StatusUnprocessableEntity, map[string]any{
			"message":           "Invalid request.\n\n" + shortError(err),
			"documentation_url": docsURL,
		})
	}
	return newResponse().fail(http.StatusBadRequest, "Invalid request: "+shortError(err))
}

func isBodyError(err error) bool {
	// Check the outermost RequestError first: its cause is a MultiError too.
	var reqErr *openapi3filter.RequestError
	if errors.As(err, &reqErr) {
		return reqErr.RequestBody != nil
	}
	var multi openapi3.MultiError
	if errors.As(err, &multi) {
		for _, e := range multi {
			if isBodyError(e) {
				return true
			}
		}
	}
	return false
}
