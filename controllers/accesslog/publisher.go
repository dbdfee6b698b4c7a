package accesslog

import (
	"context"

	"github.com/arc-lockdown/arc-lockdown/github"
)

// Check-run values the Reporter sends, as GitHub's REST API names them.
const (
	StatusInProgress   = "in_progress"
	StatusCompleted    = "completed"
	ConclusionFailure  = "failure"
	ConclusionNeutral  = "neutral"
	LevelFailure       = "failure"
	LevelWarning       = "warning"
	LevelNotice        = "notice"
	checkRunNamePrefix = "egress / "
)

// CheckRun is the full state of one job's check run. The Reporter sends it
// whole on every update, and Annotations holds only the annotations not
// sent before, because GitHub appends the annotations of each update. The
// GitHub client splits annotations into requests of at most 50.
type CheckRun = github.CheckRun

// Annotation is a check-run annotation on one line of a file.
type Annotation = github.Annotation

// Target names the repository a check run goes to and the scale set's
// githubConfigUrl, from which the GitHub host and installation follow.
type Target struct {
	GitHubConfigURL string
	Owner, Repo     string
}

// Publisher writes check runs and reads workflow runs on GitHub.
type Publisher interface {
	// HeadSHA returns the head commit of a workflow run.
	HeadSHA(ctx context.Context, target Target, runID int64) (string, error)
	// UpsertCheckRun creates the check run with run.ExternalID on
	// run.HeadSHA, or updates it when it exists.
	UpsertCheckRun(ctx context.Context, target Target, run CheckRun) error
}
