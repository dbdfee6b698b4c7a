package github

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	gogithub "github.com/google/go-github/v60/github"
)

// Limits of the Checks API.
const (
	// MaxAnnotationsPerRequest is how many annotations GitHub accepts in
	// one create or update request.
	MaxAnnotationsPerRequest = 50
	// MaxOutputChars is the longest check run title, summary or text
	// UpsertCheckRun sends, in characters. GitHub documents 65,535 for
	// summary and text.
	MaxOutputChars = 65535
)

// truncationMarker ends text that UpsertCheckRun cut to MaxOutputChars.
const truncationMarker = "\n\n… (truncated: GitHub allows at most 65535 characters)"

// CheckRun is the desired state of a check run.
type CheckRun struct {
	// Name is the check run's name, e.g. "egress / build".
	Name string
	// HeadSHA is the commit the check run is attached to.
	HeadSHA string
	// ExternalID identifies the run in arc-lockdown; together with Name and
	// HeadSHA it finds the run again after a restart or on another replica.
	ExternalID string
	// Status is queued, in_progress or completed; empty leaves it alone
	// (GitHub starts a new run as queued).
	Status string
	// Conclusion (success, failure, neutral, ...) completes the run.
	Conclusion string
	// Title, Summary (Markdown) and Text (Markdown) are the run's output.
	// Each is cut to MaxOutputChars with a visible marker. Title defaults
	// to Name.
	Title   string
	Summary string
	Text    string
	// Annotations are added to the run. GitHub appends annotations on
	// every update and cannot remove them, so pass only annotations the
	// run does not have yet.
	Annotations []Annotation
	// DetailsURL links to more detail; empty leaves it alone.
	DetailsURL string
}

// Annotation is a note on a line range of a file.
type Annotation struct {
	Path string
	// StartLine and EndLine are 1-based; 0 becomes 1 (the whole file).
	StartLine int
	EndLine   int
	// Level is notice, warning or failure; empty means warning.
	Level      string
	Title      string
	Message    string
	RawDetails string
}

type checkRunSlot struct {
	mu sync.Mutex
	id int64
}

// maxCachedCheckRuns bounds the remembered check run IDs; past it the
// cache starts over and lookups fall back to listing.
const maxCachedCheckRuns = 10000

// UpsertCheckRun creates the check run, or updates the one with the same
// name, head SHA and external ID that this App made earlier, and returns
// its ID. Annotations go in batches of MaxAnnotationsPerRequest: the first
// with the create or update, the rest in further updates. When a later
// batch fails, the returned ID is set and the error names the batch: the
// run keeps the batches before it, so send only the rest again.
//
// NOTE: finding and creating are two requests, so two replicas that upsert
// the same new run at the same moment can still create two runs.
func (c *Client) UpsertCheckRun(ctx context.Context, owner, repo string, run CheckRun) (int64, error) {
	if err := validateCheckRun(run); err != nil {
		return 0, fmt.Errorf("check run %q on %s/%s: %w", run.Name, owner, repo, err)
	}
	slot := c.checkRunSlot(strings.Join([]string{owner, repo, run.Name, run.HeadSHA, run.ExternalID}, "\x00"))
	slot.mu.Lock()
	defer slot.mu.Unlock()

	if slot.id == 0 {
		id, err := c.findCheckRun(ctx, owner, repo, run)
		if err != nil {
			return 0, err
		}
		slot.id = id
	}

	batches := annotationBatches(run.Annotations)
	output := checkRunOutput(run, batches[0])
	// A run that completes with more than one batch stays in progress
	// until its last batch, so no reader sees it completed with annotations
	// missing.
	first := run
	completeLast := len(batches) > 1 && run.Status == "completed"
	if completeLast {
		first.Status, first.Conclusion = "in_progress", ""
	}
	if slot.id == 0 {
		created, _, err := c.gh.Checks.CreateCheckRun(ctx, owner, repo, gogithub.CreateCheckRunOptions{
			Name:       run.Name,
			HeadSHA:    run.HeadSHA,
			DetailsURL: optional(run.DetailsURL),
			ExternalID: optional(run.ExternalID),
			Status:     optional(first.Status),
			Conclusion: optional(first.Conclusion),
			Output:     output,
		})
		if err != nil {
			return 0, fmt.Errorf("create check run %q on %s/%s: %w", run.Name, owner, repo, asRateLimitError(c.host, err, c.clock.Now()))
		}
		slot.id = created.GetID()
	} else {
		_, _, err := c.gh.Checks.UpdateCheckRun(ctx, owner, repo, slot.id, gogithub.UpdateCheckRunOptions{
			Name:       run.Name,
			DetailsURL: optional(run.DetailsURL),
			ExternalID: optional(run.ExternalID),
			Status:     optional(first.Status),
			Conclusion: optional(first.Conclusion),
			Output:     output,
		})
		if err != nil {
			return 0, fmt.Errorf("update check run %d %q on %s/%s: %w", slot.id, run.Name, owner, repo, asRateLimitError(c.host, err, c.clock.Now()))
		}
	}

	for i, batch := range batches[1:] {
		update := gogithub.UpdateCheckRunOptions{
			Name:   run.Name,
			Output: checkRunOutput(run, batch),
		}
		if completeLast && i == len(batches)-2 {
			update.Status = optional(run.Status)
			update.Conclusion = optional(run.Conclusion)
		}
		_, _, err := c.gh.Checks.UpdateCheckRun(ctx, owner, repo, slot.id, update)
		if err != nil {
			return slot.id, fmt.Errorf("add annotation batch %d of %d to check run %d on %s/%s: %w", i+2, len(batches), slot.id, owner, repo, asRateLimitError(c.host, err, c.clock.Now()))
		}
	}
	return slot.id, nil
}

func (c *Client) checkRunSlot(key string) *checkRunSlot {
	c.checkMu.Lock()
	defer c.checkMu.Unlock()
	if slot := c.checkRuns[key]; slot != nil {
		return slot
	}
	if len(c.checkRuns) >= maxCachedCheckRuns {
		c.checkRuns = map[string]*checkRunSlot{}
	}
	slot := &checkRunSlot{}
	c.checkRuns[key] = slot
	return slot
}

// findCheckRun lists this App's runs of the name on the head SHA and
// returns the newest with the external ID, or 0.
func (c *Client) findCheckRun(ctx context.Context, owner, repo string, run CheckRun) (int64, error) {
	opts := &gogithub.ListCheckRunsOptions{
		CheckName:   gogithub.String(run.Name),
		Filter:      gogithub.String("all"),
		AppID:       gogithub.Int64(c.appID),
		ListOptions: gogithub.ListOptions{PerPage: 100},
	}
	var found int64
	for {
		page, resp, err := c.gh.Checks.ListCheckRunsForRef(ctx, owner, repo, run.HeadSHA, opts)
		if err != nil {
			return 0, fmt.Errorf("list check runs %q on %s/%s at %s: %w", run.Name, owner, repo, run.HeadSHA, asRateLimitError(c.host, err, c.clock.Now()))
		}
		for _, existing := range page.CheckRuns {
			if existing.GetName() == run.Name && existing.GetHeadSHA() == run.HeadSHA &&
				existing.GetExternalID() == run.ExternalID && existing.GetID() > found {
				found = existing.GetID()
			}
		}
		if resp.NextPage == 0 {
			return found, nil
		}
		opts.Page = resp.NextPage
	}
}

func validateCheckRun(run CheckRun) error {
	if run.Name == "" || run.HeadSHA == "" {
		return fmt.Errorf("name and head SHA are required")
	}
	switch run.Status {
	case "", "queued", "in_progress":
	case "completed":
		if run.Conclusion == "" {
			return fmt.Errorf("status completed needs a conclusion")
		}
	default:
		return fmt.Errorf("status %q is invalid: use queued, in_progress or completed", run.Status)
	}
	for i, a := range run.Annotations {
		switch a.Level {
		case "", "notice", "warning", "failure":
		default:
			return fmt.Errorf("annotation %d level %q is invalid: use notice, warning or failure", i, a.Level)
		}
		if a.Path == "" || a.Message == "" {
			return fmt.Errorf("annotation %d needs a path and a message", i)
		}
	}
	return nil
}

// annotationBatches splits annotations into request-sized batches; there
// is always at least one, possibly empty, batch.
func annotationBatches(all []Annotation) [][]Annotation {
	batches := [][]Annotation{nil}
	for i := 0; i < len(all); i += MaxAnnotationsPerRequest {
		batch := all[i:min(i+MaxAnnotationsPerRequest, len(all))]
		if i == 0 {
			batches[0] = batch
		} else {
			batches = append(batches, batch)
		}
	}
	return batches
}

func checkRunOutput(run CheckRun, batch []Annotation) *gogithub.CheckRunOutput {
	title := run.Title
	if title == "" {
		title = run.Name
	}
	summary := run.Summary
	if summary == "" {
		summary = title
	}
	out := &gogithub.CheckRunOutput{
		Title:   gogithub.String(truncate(title, MaxOutputChars)),
		Summary: gogithub.String(truncate(summary, MaxOutputChars)),
		Text:    optional(truncate(run.Text, MaxOutputChars)),
	}
	for _, a := range batch {
		out.Annotations = append(out.Annotations, toGitHubAnnotation(a))
	}
	return out
}

func toGitHubAnnotation(a Annotation) *gogithub.CheckRunAnnotation {
	start := max(a.StartLine, 1)
	end := max(a.EndLine, start)
	level := a.Level
	if level == "" {
		level = "warning"
	}
	return &gogithub.CheckRunAnnotation{
		Path:            gogithub.String(a.Path),
		StartLine:       gogithub.Int(start),
		EndLine:         gogithub.Int(end),
		AnnotationLevel: gogithub.String(level),
		Title:           optional(truncate(a.Title, MaxOutputChars)),
		Message:         gogithub.String(truncate(a.Message, MaxOutputChars)),
		RawDetails:      optional(truncate(a.RawDetails, MaxOutputChars)),
	}
}

// truncate cuts s to at most limit characters (runes), ending it with
// truncationMarker when it had to cut.
func truncate(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	keep := limit - utf8.RuneCountInString(truncationMarker)
	runes := []rune(s)
	return string(runes[:keep]) + truncationMarker
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return gogithub.String(s)
}
