package ghstandin

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// WorkflowRun is the part of a GitHub Actions workflow run the stand-in
// lets tests set.
type WorkflowRun struct {
	HeadSHA    string
	HeadBranch string
	// Event is the triggering event; "push" when empty.
	Event string
	// Path is the workflow file; ".github/workflows/ci.yml" when empty.
	Path string
}

type workflowRun struct {
	WorkflowRun
	id      int64
	repo    *repository
	created time.Time
}

// AddWorkflowRun adds a workflow run to a repository, creating the
// repository when missing, and returns the run ID.
func (s *Server) AddWorkflowRun(fullName string, run WorkflowRun) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if run.Event == "" {
		run.Event = "push"
	}
	if run.Path == "" {
		run.Path = ".github/workflows/ci.yml"
	}
	s.nextID++
	wr := &workflowRun{WorkflowRun: run, id: s.nextID, repo: s.repository(fullName, ""), created: s.now()}
	s.workflowRuns[wr.id] = wr
	return wr.id
}

func (s *Server) getWorkflowRun(r *http.Request, c *caller) *response {
	id, _ := strconv.ParseInt(r.PathValue("run_id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.accessibleRepo(r, c)
	run := s.workflowRuns[id]
	if repo == nil || run == nil || run.repo != repo {
		return newResponse().fail(http.StatusNotFound, "Not Found")
	}
	return newResponse().json(http.StatusOK, s.workflowRunJSON(run))
}

func (s *Server) workflowRunJSON(run *workflowRun) map[string]any {
	repo := run.repo
	api := fmt.Sprintf("%s/repos/%s/%s", s.URL, repo.owner, repo.name)
	runURL := fmt.Sprintf("%s/actions/runs/%d", api, run.id)
	workflowID := int64(161335)
	var headBranch any
	if run.HeadBranch != "" {
		headBranch = run.HeadBranch
	}
	return map[string]any{
		"id":              run.id,
		"name":            "CI",
		"node_id":         fmt.Sprintf("WFR_%d", run.id),
		"head_branch":     headBranch,
		"head_sha":        run.HeadSHA,
		"path":            run.Path,
		"display_title":   "CI",
		"run_number":      run.id % 1000,
		"run_attempt":     1,
		"event":           run.Event,
		"status":          "in_progress",
		"conclusion":      nil,
		"workflow_id":     workflowID,
		"url":             runURL,
		"html_url":        fmt.Sprintf("https://github.com/%s/%s/actions/runs/%d", repo.owner, repo.name, run.id),
		"created_at":      timestamp(run.created),
		"updated_at":      timestamp(run.created),
		"jobs_url":        runURL + "/jobs",
		"logs_url":        runURL + "/logs",
		"check_suite_url": fmt.Sprintf("%s/check-suites/%d", api, run.id),
		"cancel_url":      runURL + "/cancel",
		"rerun_url":       runURL + "/rerun",
		"artifacts_url":   runURL + "/artifacts",
		"workflow_url":    fmt.Sprintf("%s/actions/workflows/%d", api, workflowID),
		"pull_requests":   []any{},
		"head_repository": s.minimalRepositoryJSON(repo),
		"repository":      s.minimalRepositoryJSON(repo),
		"head_commit": map[string]any{
			"id":        run.HeadSHA,
			"tree_id":   strings.Repeat("0", 40),
			"message":   "CI",
			"timestamp": timestamp(run.created),
			"author":    map[string]any{"name": "Octo Cat", "email": "octocat@users.noreply.github.com"},
			"committer": map[string]any{"name": "Octo Cat", "email": "octocat@users.noreply.github.com"},
		},
	}
}
