package webhook

import (
	"context"
	"errors"
	"net/http"

	gogithub "github.com/google/go-github/v60/github"
)

// JobInfo describes the workflow job of one workflow_job event.
type JobInfo struct {
	// Repository runs the workflow.
	Repository Repository
	// JobID is the job's ID, which is also the ID of its check run.
	JobID int64
	// JobName is the job's display name, for example "build (ubuntu, 22)".
	JobName string
	// RunID and RunAttempt identify the workflow run.
	RunID, RunAttempt int64
	// WorkflowName is the workflow's name. The payload does not carry the
	// workflow file's path.
	WorkflowName string
	// HeadSHA and HeadBranch are the commit and branch the run builds.
	HeadSHA, HeadBranch string
	// RunnerName is the runner that took the job: for ARC, the
	// EphemeralRunner and pod name. Empty before a runner takes the job.
	RunnerName string
	// Labels are the job's runs-on labels.
	Labels []string
	// Conclusion is the job's conclusion once completed, for example
	// "success" or "failure".
	Conclusion string
	// InstallationID is the GitHub App installation that received the
	// event; zero when the payload has none.
	InstallationID int64
}

// JobObserver receives the workflow jobs that runners take and finish.
// ServeHTTP calls it before responding, so implementations must return
// quickly and queue slow work such as GitHub API calls.
type JobObserver interface {
	// JobInProgress is called when a runner takes a job.
	JobInProgress(ctx context.Context, job JobInfo)
	// JobCompleted is called when a job finishes.
	JobCompleted(ctx context.Context, job JobInfo)
}

// handleWorkflowJob passes in_progress and completed jobs to the observer.
func (h *Handler) handleWorkflowJob(ctx context.Context, e *gogithub.WorkflowJobEvent) result {
	if h.opts.Jobs == nil {
		return accepted("workflow_job ignored: no job observer configured")
	}
	action := e.GetAction()
	if action != "in_progress" && action != "completed" {
		return handled("workflow_job %s ignored", action)
	}
	job, err := jobInfo(e)
	if err != nil {
		return failed(http.StatusBadRequest, err)
	}

	if action == "in_progress" {
		h.opts.Jobs.JobInProgress(ctx, job)
	} else {
		h.opts.Jobs.JobCompleted(ctx, job)
	}
	return handled("workflow_job %s of job %d passed on", action, job.JobID)
}

// jobInfo reads a JobInfo from a workflow_job event.
func jobInfo(e *gogithub.WorkflowJobEvent) (JobInfo, error) {
	j := e.GetWorkflowJob()
	r := e.GetRepo()
	if j == nil || j.GetID() == 0 || r.GetName() == "" || r.GetOwner().GetLogin() == "" {
		return JobInfo{}, errors.New("workflow_job payload has no workflow_job.id or repository")
	}
	return JobInfo{
		Repository: Repository{
			Host:          hostOf(r.GetHTMLURL()),
			Owner:         r.GetOwner().GetLogin(),
			Name:          r.GetName(),
			DefaultBranch: r.GetDefaultBranch(),
		},
		JobID:          j.GetID(),
		JobName:        j.GetName(),
		RunID:          j.GetRunID(),
		RunAttempt:     j.GetRunAttempt(),
		WorkflowName:   j.GetWorkflowName(),
		HeadSHA:        j.GetHeadSHA(),
		HeadBranch:     j.GetHeadBranch(),
		RunnerName:     j.GetRunnerName(),
		Labels:         j.Labels,
		Conclusion:     j.GetConclusion(),
		InstallationID: e.GetInstallation().GetID(),
	}, nil
}
