package accesslog

import (
	"context"
	"fmt"

	"github.com/arc-lockdown/arc-lockdown/github"
)

// GitHubPublisher writes check runs through the App installation that
// covers the job's repository, on the GitHub host of the scale set's
// githubConfigUrl.
type GitHubPublisher struct {
	Clients *github.ClientSet
}

// NewGitHubPublisher returns a Publisher backed by clients.
func NewGitHubPublisher(clients *github.ClientSet) GitHubPublisher {
	return GitHubPublisher{Clients: clients}
}

// HeadSHA implements Publisher. The client caches workflow runs, so a job
// costs one request.
func (p GitHubPublisher) HeadSHA(ctx context.Context, target Target, runID int64) (string, error) {
	client, err := p.client(ctx, target)
	if err != nil {
		return "", err
	}
	run, err := client.WorkflowRun(ctx, target.Owner, target.Repo, runID)
	if err != nil {
		return "", err
	}
	return run.HeadSHA, nil
}

// UpsertCheckRun implements Publisher.
func (p GitHubPublisher) UpsertCheckRun(ctx context.Context, target Target, run CheckRun) error {
	client, err := p.client(ctx, target)
	if err != nil {
		return err
	}
	_, err = client.UpsertCheckRun(ctx, target.Owner, target.Repo, run)
	return err
}

// client returns the client for the job's repository: the host comes from
// the scale set's githubConfigUrl, the scope is the repository itself, so
// that enterprise- and organization-level scale sets report through the
// installation that covers the repository.
func (p GitHubPublisher) client(ctx context.Context, target Target) (*github.Client, error) {
	if target.GitHubConfigURL == "" {
		return nil, fmt.Errorf("no githubConfigUrl known for the scale set of %s/%s: its profile could not be read", target.Owner, target.Repo)
	}
	scope, err := github.ParseConfigURL(target.GitHubConfigURL)
	if err != nil {
		return nil, err
	}
	scope.Enterprise = ""
	scope.Owner, scope.Repo = target.Owner, target.Repo
	client, err := p.Clients.For(ctx, scope)
	if err != nil {
		return nil, fmt.Errorf("find the GitHub App installation for %s/%s: %w", target.Owner, target.Repo, err)
	}
	return client, nil
}
