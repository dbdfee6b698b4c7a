package accesslog

// FinishRunnerJob marks the job that runner runs for workflow run runID as
// finished, so the next flush completes its check run without waiting for
// the EphemeralRunner to go away. A GitHub workflow_job "completed"
// delivery calls it. It returns the number of tracked jobs it finished:
// zero when no blocked destination of that job was seen.
func (r *Reporter) FinishRunnerJob(runner string, runID int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()

	finished := 0
	for _, s := range r.jobs {
		if s.job.Runner == runner && s.job.WorkflowRunID == runID && !s.finished {
			s.finished = true
			finished++
		}
	}
	return finished
}
