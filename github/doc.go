// Package github talks to the GitHub REST API through go-github v60 and
// ghinstallation v2 as a GitHub App.
//
// It owns:
//   - the Scope of a scale set's githubConfigUrl (ParseConfigURL) and the
//     repository that holds its .github/egress.yaml (ConfigRepository);
//   - App credentials from a Kubernetes Secret (CredentialsFromSecret);
//   - a ClientSet that finds and caches the installation of each scope and
//     hands out one Client per installation, with tokens renewed before
//     they expire;
//   - reading .github/egress.yaml with conditional requests
//     (FetchEgressConfig), upserting check runs with batched annotations
//     (UpsertCheckRun) and looking up workflow runs (WorkflowRun);
//   - rate limits: Retry-After and X-RateLimit-Reset are honoured, GET
//     requests are retried on 5xx, concurrency is bounded and the remaining
//     quota is a Prometheus gauge.
//
// Neither the private key nor installation tokens appear in its errors or
// logs.
package github
