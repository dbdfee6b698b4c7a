package accesslog

import "context"

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
// whole on every update; Annotations holds only the annotations not sent
// before, because GitHub appends the annotations of each update.
type CheckRun struct {
	Name       string
	HeadSHA    string
	ExternalID string
	Status     string
	Conclusion string
	Title      string
	Summary    string
	Text       string
	// Annotations are at most MaxDestinationsPerJob; the publisher splits
	// them into requests of at most 50, GitHub's limit.
	Annotations []Annotation
}

// Annotation is a check-run annotation on one line of a file.
type Annotation struct {
	Path       string
	StartLine  int
	EndLine    int
	Level      string
	Title      string
	Message    string
	RawDetails string
}

// Target names the repository a check run goes to and the scale set's
// githubConfigUrl, which tells the GitHub host and installation.
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
