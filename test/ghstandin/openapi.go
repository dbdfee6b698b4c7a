package ghstandin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// specRelPath is where `make fixtures` puts GitHub's OpenAPI description,
// relative to NPM_FIXTURES_DIR.
const specRelPath = "octokit-openapi/generated/api.github.com.json"

var (
	specOnce sync.Once
	specDoc  *openapi3.T
	specErr  error
	specPath string
)

// SpecPath returns the path of api.github.com.json: under $NPM_FIXTURES_DIR
// when set, otherwise under <repository root>/bin/npm.
func SpecPath() string {
	dir := os.Getenv("NPM_FIXTURES_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot(), "bin", "npm")
	}
	return filepath.Join(dir, specRelPath)
}

// repoRoot finds the repository root from this source file's location
// (test/ghstandin/openapi.go).
func repoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Spec loads GitHub's OpenAPI description once per process. The file is
// about 13 MB and takes seconds to load, so every Server in a test binary
// shares the parsed document. It calls tb.Skip when the file is missing.
func Spec(tb testing.TB) *openapi3.T {
	tb.Helper()
	path := SpecPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		tb.Skipf("GitHub's OpenAPI description %s is missing: run make fixtures", path)
	}

	specOnce.Do(func() {
		specPath = path
		loader := openapi3.NewLoader()
		specDoc, specErr = loader.LoadFromFile(path)
	})
	if specErr != nil {
		tb.Fatalf("load GitHub's OpenAPI description %s: %v", specPath, specErr)
	}
	return specDoc
}

// validationOptions are the openapi3filter options for every check. The
// relaxations, each one needed because openapi3filter cannot do the check or
// the description does not state the fact:
//   - Security: the description declares no security schemes, so there is
//     nothing for openapi3filter to check. The stand-in verifies the App JWT
//     and installation tokens itself.
//   - Undocumented statuses: GitHub sends 401, 403, 422, 429 and 5xx from
//     every operation, but the description lists them for only some.
//     IncludeResponseStatus stays off and checkErrorBody validates those
//     bodies against basic-error or validation-error instead.
//   - 304 Not Modified: openapi3filter never validates it. checkNotModified
//     requires the operation to list 304 and the body to be empty.
var validationOptions = &openapi3filter.Options{
	AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
	MultiError:         true,
}

// operation is one OpenAPI operation the stand-in serves.
type operation struct {
	path   string // OpenAPI path template, e.g. /repos/{owner}/{repo}/contents/{path}
	method string
	route  *routers.Route
}

// lookupOperation finds the operation for a path template and method in the
// description; a missing one is a bug in the stand-in.
func lookupOperation(doc *openapi3.T, method, path string) (*operation, error) {
	item := doc.Paths.Value(path)
	if item == nil {
		return nil, fmt.Errorf("path %s is not in GitHub's OpenAPI description", path)
	}
	op := item.GetOperation(method)
	if op == nil {
		return nil, fmt.Errorf("%s %s is not in GitHub's OpenAPI description", method, path)
	}
	return &operation{
		path:   path,
		method: method,
		route: &routers.Route{
			Spec:      doc,
			Path:      path,
			PathItem:  item,
			Method:    method,
			Operation: op,
		},
	}, nil
}

// validateRequest checks a request, whose body has been read into body,
// against the operation.
func (op *operation) validateRequest(r *http.Request, pathParams map[string]string, body []byte) (*openapi3filter.RequestValidationInput, error) {
	clone := r.Clone(r.Context())
	clone.Body = io.NopCloser(bytes.NewReader(body))
	input := &openapi3filter.RequestValidationInput{
		Request:    clone,
		PathParams: pathParams,
		Route:      op.route,
		Options:    validationOptions,
	}
	if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
		return input, fmt.Errorf("request %s %s does not match operation %s: %w", r.Method, r.URL.RequestURI(), op.route.Operation.OperationID, err)
	}
	return input, nil
}

// validateResponse checks a response against the operation that served it.
func (op *operation) validateResponse(input *openapi3filter.RequestValidationInput, status int, header http.Header, body []byte) error {
	opID := op.route.Operation.OperationID
	if status == http.StatusNotModified {
		return checkNotModified(op, body)
	}

	documented := op.route.Operation.Responses.Status(status) != nil
	if !documented && status >= 400 {
		if err := checkErrorBody(op.route.Spec, status, body); err != nil {
			return fmt.Errorf("response %d to operation %s: %w", status, opID, err)
		}
		return nil
	}
	if !documented {
		return fmt.Errorf("response %d to operation %s: status is not in GitHub's OpenAPI description", status, opID)
	}

	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 status,
		Header:                 header,
		Options:                validationOptions,
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("response %d to operation %s: %w", status, opID, err)
	}
	return nil
}

func checkNotModified(op *operation, body []byte) error {
	if op.route.Operation.Responses.Status(http.StatusNotModified) == nil {
		return fmt.Errorf("operation %s does not document 304 Not Modified", op.route.Operation.OperationID)
	}
	if len(body) != 0 {
		return fmt.Errorf("304 Not Modified to operation %s has a %d-byte body, want none", op.route.Operation.OperationID, len(body))
	}
	return nil
}

// checkErrorBody validates an error body that the operation does not document
// against GitHub's generic error schemas: validation-error for 422,
// basic-error for the rest.
func checkErrorBody(doc *openapi3.T, status int, body []byte) error {
	name := "basic-error"
	if status == http.StatusUnprocessableEntity {
		name = "validation-error"
	}
	schema := doc.Components.Schemas[name]
	if schema == nil || schema.Value == nil {
		return fmt.Errorf("schema %s is not in GitHub's OpenAPI description", name)
	}
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return fmt.Errorf("error body is not JSON: %w", err)
	}
	if err := schema.Value.VisitJSON(value, openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("error body does not match schema %s: %w", name, err)
	}
	return nil
}

// shortError keeps validation errors readable in test output: the
// MultiError of a large schema can run to many kilobytes.
func shortError(err error) string {
	msg := err.Error()
	const max = 4000
	if len(msg) > max {
		return msg[:max] + strings.Repeat(".", 3)
	}
	return msg
}
