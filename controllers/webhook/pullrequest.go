package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/go-logr/logr"
	gogithub "github.com/google/go-github/v60/github"
)

// PullRequest identifies the commits of one pull request to check.
type PullRequest struct {
	// Repository is the base repository, where the check run goes.
	Repository Repository
	// Number is the pull request's number.
	Number int
	// HeadSHA is the commit the check run is attached to.
	HeadSHA string
	// BaseRef and BaseSHA are the branch the pull request merges into and
	// its commit when the event was sent.
	BaseRef, BaseSHA string
	// InstallationID is the GitHub App installation that received the
	// event; zero when the payload has none.
	InstallationID int64
}

// PullRequestChecker checks the .github/egress.yaml of a pull request.
// ConfigChecker implements it.
type PullRequestChecker interface {
	// CheckPullRequest reports on the pull request through a check run. It
	// returns without a check run when the pull request does not change the
	// file.
	CheckPullRequest(ctx context.Context, pr PullRequest) error
}

// checkedActions are the pull_request actions that can change the file or
// its base: new commits, a reopened pull request, or a changed base branch.
var checkedActions = map[string]bool{"opened": true, "synchronize": true, "reopened": true, "edited": true}

// handlePullRequest starts the check of a pull request in the background,
// because it makes several GitHub API calls and github.com records a
// delivery as failed when the response takes longer than 10 seconds.
func (h *Handler) handlePullRequest(ctx context.Context, e *gogithub.PullRequestEvent) result {
	if h.opts.Checker == nil {
		return accepted("pull_request ignored: no checker configured")
	}
	action := e.GetAction()
	if !checkedActions[action] || (action == "edited" && e.GetChanges().GetBase() == nil) {
		return handled("pull_request %s ignored", action)
	}
	pr, err := pullRequestOf(e)
	if err != nil {
		return failed(http.StatusBadRequest, err)
	}

	select {
	case h.checkSlots <- struct{}{}:
	default:
		return failed(http.StatusServiceUnavailable, fmt.Errorf("%d pull-request checks already running: retry the delivery later", cap(h.checkSlots)))
	}
	h.checks.Add(1)
	go h.runCheck(ctx, pr)
	return accepted("check of pull request %s#%d started", pr.Repository.FullName(), pr.Number)
}

// runCheck runs one check in the background. It keeps the request's logger
// but not its cancellation, and stops when the handler's base context ends.
func (h *Handler) runCheck(reqCtx context.Context, pr PullRequest) {
	defer h.checks.Done()
	defer func() { <-h.checkSlots }()

	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), h.opts.CheckTimeout)
	defer cancel()
	stop := context.AfterFunc(h.base(), cancel)
	defer stop()

	log := logr.FromContextOrDiscard(ctx).WithValues("repository", pr.Repository.FullName(), "pullRequest", pr.Number, "headSHA", pr.HeadSHA)
	if err := h.opts.Checker.CheckPullRequest(logr.NewContext(ctx, log), pr); err != nil {
		log.Error(err, "Checking the pull request's egress configuration failed")
		// The delivery already got its 202 response, and forgetting it lets a
		// redelivery run the check again.
		if delivery, ok := ctx.Value(deliveryKey{}).(string); ok {
			h.deliveries.forget(delivery)
		}
	}
}

// base returns the context that bounds background checks.
func (h *Handler) base() context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.baseCtx
}

// setBase sets the context that bounds background checks.
func (h *Handler) setBase(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.baseCtx = ctx
}

// WaitForChecks blocks until every background pull-request check started
// so far has finished.
func (h *Handler) WaitForChecks() {
	h.checks.Wait()
}

// pullRequestOf reads a PullRequest from a pull_request event.
func pullRequestOf(e *gogithub.PullRequestEvent) (PullRequest, error) {
	r := e.GetRepo()
	p := e.GetPullRequest()
	if r.GetName() == "" || r.GetOwner().GetLogin() == "" || p.GetHead().GetSHA() == "" || e.GetNumber() == 0 {
		return PullRequest{}, errors.New("pull_request payload has no repository, number or pull_request.head.sha")
	}
	return PullRequest{
		Repository: Repository{
			Host:          hostOf(r.GetHTMLURL()),
			Owner:         r.GetOwner().GetLogin(),
			Name:          r.GetName(),
			DefaultBranch: r.GetDefaultBranch(),
		},
		Number:         e.GetNumber(),
		HeadSHA:        p.GetHead().GetSHA(),
		BaseRef:        p.GetBase().GetRef(),
		BaseSHA:        p.GetBase().GetSHA(),
		InstallationID: e.GetInstallation().GetID(),
	}, nil
}
