package github

import (
	"context"
	"fmt"
)

// WorkflowRun is the head commit and branch of a GitHub Actions workflow run.
type WorkflowRun struct {
	HeadSHA    string
	HeadBranch string
}

// WorkflowRun returns the head SHA and branch of a workflow run. Both are
// fixed for the life of a run (re-runs keep them), so results are cached,
// up to 4096 runs per client, oldest dropped first.
func (c *Client) WorkflowRun(ctx context.Context, owner, repo string, runID int64) (WorkflowRun, error) {
	key := fmt.Sprintf("%s/%s#%d", owner, repo, runID)
	c.runMu.Lock()
	run, ok := c.runs[key]
	c.runMu.Unlock()
	if ok {
		return run, nil
	}

	got, _, err := c.gh.Actions.GetWorkflowRunByID(ctx, owner, repo, runID)
	if err != nil {
		return WorkflowRun{}, fmt.Errorf("get workflow run %d of %s/%s: %w", runID, owner, repo, asRateLimitError(c.host, err, c.clock.Now()))
	}
	run = WorkflowRun{HeadSHA: got.GetHeadSHA(), HeadBranch: got.GetHeadBranch()}

	c.runMu.Lock()
	defer c.runMu.Unlock()
	if _, ok := c.runs[key]; !ok {
		c.runs[key] = run
		c.runsOrder = append(c.runsOrder, key)
		if len(c.runsOrder) > defaultWorkflowRunCache {
			delete(c.runs, c.runsOrder[0])
			c.runsOrder = c.runsOrder[1:]
		}
	}
	return run, nil
}
