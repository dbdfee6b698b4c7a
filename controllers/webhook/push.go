package webhook

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gogithub "github.com/google/go-github/v60/github"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
)

// ConfigPath is the repository file that declares a repository's egress.
const ConfigPath = lockdown.ConfigPath

// maxPushCommits is the number of commits after which GitHub truncates a
// push payload's commits array; beyond it the changed paths are unknown.
const maxPushCommits = 2048

// Repository identifies one GitHub repository.
type Repository struct {
	// Host is the GitHub web host, for example "github.com".
	Host string
	// Owner is the organization or user.
	Owner string
	// Name is the repository name without the owner.
	Name string
	// DefaultBranch is the repository's default branch; empty when the
	// event payload does not carry it.
	DefaultBranch string
}

// FullName returns "owner/name".
func (r Repository) FullName() string {
	return r.Owner + "/" + r.Name
}

// RepositoryTrigger reconciles the scale sets that read a repository's
// .github/egress.yaml. Trigger implements it.
type RepositoryTrigger interface {
	// TriggerRepository reconciles the scale sets whose configuration file
	// lives in repo and is read from ref ("refs/heads/main"). An empty ref
	// matches every such scale set. It returns how many were triggered.
	TriggerRepository(ctx context.Context, repo Repository, ref string) (int, error)
	// TriggerOwner reconciles every scale set of an organization or user
	// on host, and returns how many were triggered.
	TriggerOwner(ctx context.Context, host, owner string) (int, error)
}

// handlePush triggers the scale sets reading the pushed ref when the push
// may have changed .github/egress.yaml.
func (h *Handler) handlePush(ctx context.Context, e *gogithub.PushEvent) result {
	if h.opts.Trigger == nil {
		return accepted("push ignored: no trigger configured")
	}
	repo, err := pushRepository(e)
	if err != nil {
		return failed(http.StatusBadRequest, err)
	}
	if e.GetDeleted() {
		return handled("push to %s of %s ignored: the ref was deleted", e.GetRef(), repo.FullName())
	}
	if !pushTouchesConfig(e) {
		return handled("push to %s of %s ignored: %s not changed", e.GetRef(), repo.FullName(), ConfigPath)
	}

	n, err := h.opts.Trigger.TriggerRepository(ctx, repo, e.GetRef())
	if err != nil {
		return failed(http.StatusInternalServerError, fmt.Errorf("trigger scale sets of %s: %w", repo.FullName(), err))
	}
	return handled("push to %s of %s triggered %d scale sets", e.GetRef(), repo.FullName(), n)
}

// pushRepository reads the repository of a push event.
func pushRepository(e *gogithub.PushEvent) (Repository, error) {
	r := e.GetRepo()
	owner := r.GetOwner().GetLogin()
	if owner == "" {
		owner = r.GetOwner().GetName()
	}
	if owner == "" || r.GetName() == "" {
		return Repository{}, fmt.Errorf("push payload has no repository owner or name (full_name %q)", r.GetFullName())
	}
	branch := r.GetDefaultBranch()
	if branch == "" {
		branch = r.GetMasterBranch()
	}
	return Repository{Host: hostOf(r.GetHTMLURL()), Owner: owner, Name: r.GetName(), DefaultBranch: branch}, nil
}

// pushTouchesConfig reports whether a push may have changed ConfigPath. A
// push whose commits are missing or truncated, or a forced push, may have
// changed it without listing it, so it counts as a change.
func pushTouchesConfig(e *gogithub.PushEvent) bool {
	if e.GetForced() || len(e.Commits) == 0 || len(e.Commits) >= maxPushCommits {
		return true
	}
	for _, c := range e.Commits {
		for _, paths := range [][]string{c.Added, c.Modified, c.Removed} {
			for _, p := range paths {
				if p == ConfigPath {
					return true
				}
			}
		}
	}
	return false
}

// hostOf returns the host of a GitHub web URL such as a repository's
// html_url, or "github.com" when the URL is empty or invalid.
func hostOf(htmlURL string) string {
	u, err := url.Parse(htmlURL)
	if err != nil || u.Host == "" {
		return "github.com"
	}
	return strings.ToLower(u.Host)
}
