// Package ghstandin is a GitHub REST API stand-in for tests: an httptest
// server on 127.0.0.1 that implements the endpoints arc-lockdown calls (App
// JWT and installation tokens, contents, commits, check runs, workflow runs,
// rate limits) the way GitHub documents them.
//
// Every request it receives and every response it sends is validated against
// the operation in GitHub's own OpenAPI description (api.github.com.json from
// the npm package @octokit/openapi, fetched by `make fixtures`). A mismatch
// fails the test through testing.TB.Errorf. The stand-in then responds as
// GitHub would to an invalid request (400, or 422 for a body that breaks the
// schema), or with 500 for an invalid response, so that client code notices
// too. Tests can inject faults (status codes, Retry-After, latency) and read
// back every request that reached the stand-in.
package ghstandin
