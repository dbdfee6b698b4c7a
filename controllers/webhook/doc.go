// Package webhook receives GitHub webhook deliveries for the arc-lockdown
// controller and turns them into work:
//
//   - a push to a repository's default branch that touches
//     .github/egress.yaml makes the scale sets reading that file reconcile at
//     once, through the Trigger's controller-runtime source;
//   - a pull request that changes .github/egress.yaml gets the check run
//     "egress / config" with the parse errors and dropped entries as
//     annotations and the effect of the merge as its summary;
//   - installation events make the scale sets of the affected repositories
//     reconcile;
//   - workflow_job events are passed to a JobObserver.
//
// Every delivery is authenticated with its X-Hub-Signature-256 header,
// limited in size and deduplicated by its X-GitHub-Delivery header before it
// is parsed.
package webhook
