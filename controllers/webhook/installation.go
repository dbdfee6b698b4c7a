package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gogithub "github.com/google/go-github/v60/github"
)

// InstallationForgetter drops what a GitHub client caches about an App
// installation, such as the installation ID found for an owner or
// repository and its access token.
type InstallationForgetter interface {
	// ForgetInstallation drops the cached state of installation id, which
	// is installed on account (an organization or user) of host.
	ForgetInstallation(host, account string, id int64)
}

// handleInstallation drops the cached installation and triggers the scale sets
// of its repositories: those listed in the event, or every scale set of
// the account when the event lists none (an installation on all
// repositories).
func (h *Handler) handleInstallation(ctx context.Context, e *gogithub.InstallationEvent) result {
	inst := e.GetInstallation()
	host, account, err := installationAccount(inst)
	if err != nil {
		return failed(http.StatusBadRequest, err)
	}
	if h.opts.Installations != nil {
		h.opts.Installations.ForgetInstallation(host, account, inst.GetID())
	}
	if h.opts.Trigger == nil {
		return accepted("installation %s of %s: no trigger configured", e.GetAction(), account)
	}

	if len(e.Repositories) == 0 {
		n, err := h.opts.Trigger.TriggerOwner(ctx, host, account)
		if err != nil {
			return failed(http.StatusInternalServerError, fmt.Errorf("trigger scale sets of %s: %w", account, err))
		}
		return handled("installation %s of %s triggered %d scale sets", e.GetAction(), account, n)
	}
	return h.triggerRepositories(ctx, host, account, "installation "+e.GetAction(), e.Repositories)
}

// handleInstallationRepositories drops the cached installation and triggers the
// scale sets of the repositories added to or removed from it.
func (h *Handler) handleInstallationRepositories(ctx context.Context, e *gogithub.InstallationRepositoriesEvent) result {
	inst := e.GetInstallation()
	host, account, err := installationAccount(inst)
	if err != nil {
		return failed(http.StatusBadRequest, err)
	}
	if h.opts.Installations != nil {
		h.opts.Installations.ForgetInstallation(host, account, inst.GetID())
	}
	if h.opts.Trigger == nil {
		return accepted("installation_repositories %s of %s: no trigger configured", e.GetAction(), account)
	}

	repos := append(append([]*gogithub.Repository{}, e.RepositoriesAdded...), e.RepositoriesRemoved...)
	return h.triggerRepositories(ctx, host, account, "installation_repositories "+e.GetAction(), repos)
}

// triggerRepositories triggers the scale sets of each repository, named by
// full_name "owner/repo" or, failing that, by name under account.
func (h *Handler) triggerRepositories(ctx context.Context, host, account, eventName string, repos []*gogithub.Repository) result {
	total := 0
	for _, r := range repos {
		repo := Repository{Host: host, Owner: account, Name: r.GetName()}
		if owner, name, ok := strings.Cut(r.GetFullName(), "/"); ok && owner != "" && name != "" {
			repo.Owner, repo.Name = owner, name
		}
		if repo.Name == "" {
			continue
		}
		n, err := h.opts.Trigger.TriggerRepository(ctx, repo, "")
		if err != nil {
			return failed(http.StatusInternalServerError, fmt.Errorf("trigger scale sets of %s: %w", repo.FullName(), err))
		}
		total += n
	}
	return handled("%s of %s triggered %d scale sets", eventName, account, total)
}

// installationAccount returns the host and login of the account an
// installation belongs to.
func installationAccount(inst *gogithub.Installation) (host, account string, err error) {
	account = inst.GetAccount().GetLogin()
	if inst.GetID() == 0 || account == "" {
		return "", "", errors.New("installation payload has no installation.id or installation.account.login")
	}
	return hostOf(inst.GetAccount().GetHTMLURL()), account, nil
}
