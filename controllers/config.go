package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/arc-lockdown/arc-lockdown/github"
	"github.com/arc-lockdown/arc-lockdown/lockdown"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// ConfigFetcher reads a scope's .github/egress.yaml at a ref (empty: the
// default branch). A non-empty etag makes the request conditional, and an
// unchanged file comes back with State github.FileNotModified.
type ConfigFetcher interface {
	FetchEgressConfig(ctx context.Context, scope github.Scope, ref, etag string) (*github.ConfigFile, error)
}

// GitHubFetcher is the ConfigFetcher that reads GitHub through the App
// installation of each scope.
type GitHubFetcher struct {
	// Clients hands out an installation client per scope.
	Clients *github.ClientSet
}

// FetchEgressConfig reads the egress file with the installation client of
// the scope.
func (f GitHubFetcher) FetchEgressConfig(ctx context.Context, scope github.Scope, ref, etag string) (*github.ConfigFile, error) {
	c, err := f.Clients.For(ctx, scope)
	if err != nil {
		return nil, err
	}
	return c.FetchEgressConfig(ctx, scope, ref, etag)
}

// resolveConfig decides which repository file the profile is bounded from
// and sets the ConfigFetched and ConfigValid conditions.
//
// Durability: the content of the last good file is kept in the
// ScaleSetEgress status (appliedConfig) together with its source and the
// ETag of the last read. Status survives controller restarts and leader
// changes, so a policy change can re-bound the last good file while GitHub
// is unreachable, and the first read after a restart is still conditional.
// The file is public to everyone who can read the repository, so status is
// an acceptable place for it.
func (r *ScaleSetReconciler) resolveConfig(ctx context.Context, s *reconcileState) {
	if s.scopeErr != nil {
		setCondition(&s.status, egressv1alpha1.ConditionConfigFetched, metav1.ConditionFalse, ReasonInvalidConfigURL,
			fmt.Sprintf("%v; fix spec.githubConfigUrl of the AutoscalingRunnerSet", s.scopeErr))
		s.useLastGood()
		return
	}

	now := time.Now()
	ref := s.ars.Annotations[egressv1alpha1.AnnotationConfigRef]
	same := sameSource(s.status.Fetched, s.scope, ref)
	if same && !r.fetchDue(s.key, now) {
		s.useLastGood()
		return
	}

	etag := ""
	if same {
		etag = s.status.Fetched.ETag
	}
	file, err := r.Fetcher.FetchEgressConfig(ctx, s.scope, ref, etag)
	if err != nil {
		r.fetchFailed(s, err, now)
		return
	}
	r.scheduleFetch(s.key, now.Add(r.resyncPeriod()))
	setCondition(&s.status, egressv1alpha1.ConditionConfigFetched, metav1.ConditionTrue, ReasonFetched,
		fmt.Sprintf("Read %s from %s", file.Path, configRepository(s.scope)))

	switch file.State {
	case github.FileNotModified:
		s.useLastGood()
	case github.FileNotFound:
		s.fileNotFound(file, ref)
	default:
		s.fileFound(ctx, file, ref)
	}
}

// fetchFailed keeps the last good profile and schedules the next read:
// at the rate limit's reset time, or after fetchRetryInterval.
func (r *ScaleSetReconciler) fetchFailed(s *reconcileState, err error, now time.Time) {
	s.fetchErr = err
	if reset, ok := rateLimitReset(err); ok {
		if reset.Before(now.Add(time.Second)) {
			reset = now.Add(time.Second)
		}
		r.scheduleFetch(s.key, reset)
		setCondition(&s.status, egressv1alpha1.ConditionConfigFetched, metav1.ConditionFalse, ReasonRateLimited,
			fmt.Sprintf("GitHub rate limit exhausted until %s; the last applied profile stays in force: %v",
				reset.UTC().Format(time.RFC3339), err))
	} else {
		r.scheduleFetch(s.key, now.Add(fetchRetryInterval))
		setCondition(&s.status, egressv1alpha1.ConditionConfigFetched, metav1.ConditionFalse, ReasonFetchFailed,
			fmt.Sprintf("Reading the egress file failed, retrying in %s; the last applied profile stays in force: %v",
				fetchRetryInterval, err))
	}
	s.useLastGood()
}

// rateLimitReset returns when GitHub's primary or secondary rate limit
// lifts, when err is a rate-limit error.
func rateLimitReset(err error) (time.Time, bool) {
	var limited *github.RateLimitError
	if errors.As(err, &limited) {
		return limited.Reset, true
	}
	return time.Time{}, false
}

// fileNotFound puts the policy's no-file profile in force.
//
// NOTE: FetchEgressConfig returns no ETag with FileNotFound, so every
// resync of a repository without the file is an unconditional request
// that counts against the rate limit.
func (s *reconcileState) fileNotFound(file *github.ConfigFile, ref string) {
	s.cfg = nil
	s.status.Fetched = fetchedRecord(file, ref)
	s.status.AppliedConfig = ""
	s.status.AppliedSource = &egressv1alpha1.ConfigSource{Repository: file.Repository, Path: file.Path}
	setCondition(&s.status, egressv1alpha1.ConditionConfigValid, metav1.ConditionTrue, ReasonFileNotFound,
		fmt.Sprintf("%s has no %s; the policy's no-file profile is in force", file.Repository, file.Path))
}

// fileFound parses a newly read file. A valid file becomes the last good
// file; an invalid one leaves the last good file in force.
func (s *reconcileState) fileFound(ctx context.Context, file *github.ConfigFile, ref string) {
	if s.status.Fetched == nil || s.status.Fetched.BlobSHA != file.BlobSHA {
		ctrl.LoggerFrom(ctx).Info("Read a new version of the egress file", "repository", file.Repository, "commit", file.CommitSHA, "blob", file.BlobSHA)
	}
	s.status.Fetched = fetchedRecord(file, ref)
	content := string(file.Content)

	cfg, err := lockdown.ParseConfig(file.Path, []byte(content), &s.policy.Spec)
	if err != nil {
		s.configErr = err
		setCondition(&s.status, egressv1alpha1.ConditionConfigValid, metav1.ConditionFalse, ReasonConfigInvalid,
			fmt.Sprintf("%s@%s is invalid, the last good profile stays in force: %s", file.Repository, shortSHA(file.CommitSHA), formatProblems(err)))
		s.useLastGood()
		return
	}

	s.cfg = cfg
	s.status.AppliedConfig = content
	s.status.AppliedSource = &egressv1alpha1.ConfigSource{
		Repository: file.Repository,
		Path:       file.Path,
		CommitSHA:  file.CommitSHA,
		BlobSHA:    file.BlobSHA,
	}
	setCondition(&s.status, egressv1alpha1.ConditionConfigValid, metav1.ConditionTrue, ReasonConfigValid,
		fmt.Sprintf("%s@%s parsed and bounded by EgressPolicy %s", file.Repository, shortSHA(file.CommitSHA), s.policy.Name))
}

// useLastGood bounds the last good file by the current policy, or selects
// the no-file profile when no file was ever read or the repository has none.
func (s *reconcileState) useLastGood() {
	s.cfg = nil
	source := s.status.AppliedSource
	if source == nil || source.BlobSHA == "" || s.status.AppliedConfig == "" {
		return
	}
	cfg, err := lockdown.ParseConfig(source.Path, []byte(s.status.AppliedConfig), &s.policy.Spec)
	if err != nil {
		// The last good file no longer passes the current policy, so the
		// stricter no-file profile is the only safe choice.
		s.configErr = err
		setCondition(&s.status, egressv1alpha1.ConditionConfigValid, metav1.ConditionFalse, ReasonConfigInvalid,
			fmt.Sprintf("%s@%s is invalid under EgressPolicy %s, the no-file profile is in force: %s",
				source.Repository, shortSHA(source.CommitSHA), s.policy.Name, formatProblems(err)))
		return
	}
	s.cfg = cfg
}

// sameSource reports whether the last read file came from the same
// repository and ref, so that its ETag applies.
func sameSource(fetched *egressv1alpha1.FetchedConfig, scope github.Scope, ref string) bool {
	return fetched != nil && fetched.Repository == configRepository(scope) && fetched.Ref == ref
}

// configRepository returns the "owner/repo" whose egress file applies to
// the scope: the repository itself, or an organization's .github
// repository.
func configRepository(scope github.Scope) string {
	owner, repo, err := github.ConfigRepository(scope)
	if err != nil {
		return scope.String()
	}
	return owner + "/" + repo
}

func fetchedRecord(file *github.ConfigFile, ref string) *egressv1alpha1.FetchedConfig {
	return &egressv1alpha1.FetchedConfig{
		Repository: file.Repository,
		Path:       file.Path,
		Ref:        ref,
		ETag:       file.ETag,
		BlobSHA:    file.BlobSHA,
		CommitSHA:  file.CommitSHA,
	}
}

// shortSHA returns the first 12 characters of a commit SHA.
func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	if sha == "" {
		return "unknown"
	}
	return sha
}

// formatProblems returns "file:line:column: message" lines of an invalid
// file, for Events and conditions.
func formatProblems(err error) string {
	var cfgErr *lockdown.ConfigError
	if !errors.As(err, &cfgErr) {
		return err.Error()
	}
	lines := make([]string, 0, len(cfgErr.Problems))
	for _, p := range cfgErr.Problems {
		lines = append(lines, p.String())
	}
	return strings.Join(lines, "; ")
}
