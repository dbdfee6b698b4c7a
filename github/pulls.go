package github

import (
	"context"
	"fmt"

	gogithub "github.com/google/go-github/v60/github"
)

// maxPullRequestFiles is how many files GitHub lists for one pull request;
// the endpoint stops there.
const maxPullRequestFiles = 3000

// ListPullRequestFiles returns the paths a pull request changes, following
// pagination up to GitHub's limit of 3,000 files. A renamed file is listed
// under its new path and, when GitHub reports it, its previous one.
func (c *Client) ListPullRequestFiles(ctx context.Context, owner, repo string, number int) ([]string, error) {
	var paths []string
	opts := &gogithub.ListOptions{PerPage: 100}
	for {
		files, resp, err := c.gh.PullRequests.ListFiles(ctx, owner, repo, number, opts)
		if err != nil {
			return nil, fmt.Errorf("list files of pull request %s/%s#%d: %w", owner, repo, number, asRateLimitError(c.host, err, c.clock.Now()))
		}
		for _, f := range files {
			paths = append(paths, f.GetFilename())
			if prev := f.GetPreviousFilename(); prev != "" {
				paths = append(paths, prev)
			}
		}
		if resp.NextPage == 0 || len(paths) >= maxPullRequestFiles {
			return paths, nil
		}
		opts.Page = resp.NextPage
	}
}
