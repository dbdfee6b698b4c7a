package ghstandin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxAnnotationsPerRequest is GitHub's limit on annotations in one create
// or update request.
const maxAnnotationsPerRequest = 50

// CheckRun is a check run as the Server stores it.
type CheckRun struct {
	ID          int64
	Repository  string // owner/repo
	Name        string
	HeadSHA     string
	ExternalID  string
	Status      string
	Conclusion  string
	DetailsURL  string
	Title       string
	Summary     string
	Text        string
	StartedAt   time.Time
	CompletedAt time.Time
	// Annotations accumulate over the create request and every update.
	Annotations []Annotation
}

// Annotation is one check run annotation.
type Annotation struct {
	Path       string `json:"path"`
	StartLine  int    `json:"start_line"`
	EndLine    int    `json:"end_line"`
	Level      string `json:"annotation_level"`
	Title      string `json:"title"`
	Message    string `json:"message"`
	RawDetails string `json:"raw_details"`
}

type checkRun struct {
	CheckRun
	repo *repository
}

// checkRunRequest is the body of a create or update request.
type checkRunRequest struct {
	Name        *string `json:"name"`
	HeadSHA     *string `json:"head_sha"`
	DetailsURL  *string `json:"details_url"`
	ExternalID  *string `json:"external_id"`
	Status      *string `json:"status"`
	StartedAt   *string `json:"started_at"`
	Conclusion  *string `json:"conclusion"`
	CompletedAt *string `json:"completed_at"`
	Output      *struct {
		Title       *string      `json:"title"`
		Summary     *string      `json:"summary"`
		Text        *string      `json:"text"`
		Annotations []Annotation `json:"annotations"`
	} `json:"output"`
}

// CheckRuns returns copies of the check runs of a repository, oldest first.
func (s *Server) CheckRuns(fullName string) []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CheckRun
	for _, run := range s.checkRuns {
		if strings.EqualFold(run.Repository, fullName) {
			copied := run.CheckRun
			copied.Annotations = slices.Clone(run.Annotations)
			out = append(out, copied)
		}
	}
	slices.SortFunc(out, func(a, b CheckRun) int { return int(a.ID - b.ID) })
	return out
}

func (s *Server) createCheckRun(r *http.Request, c *caller) *response {
	var req checkRunRequest
	if err := json.Unmarshal(readBody(r), &req); err != nil {
		return newResponse().fail(http.StatusBadRequest, "Problems parsing JSON")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.accessibleRepo(r, c)
	if repo == nil {
		return newResponse().fail(http.StatusNotFound, "Not Found")
	}
	if resp := checkRunLimits(&req); resp != nil {
		return resp
	}
	if _, ok := repo.commits[*req.HeadSHA]; !ok {
		return newResponse().validationFailed("CheckRun", "head_sha", "No commit found for SHA: "+*req.HeadSHA)
	}

	s.nextID++
	run := &checkRun{repo: repo, CheckRun: CheckRun{
		ID:         s.nextID,
		Repository: repo.owner + "/" + repo.name,
		HeadSHA:    *req.HeadSHA,
		Status:     "queued",
		StartedAt:  s.now().UTC().Truncate(time.Second),
	}}
	if resp := s.applyCheckRun(run, &req); resp != nil {
		return resp
	}
	s.checkRuns[run.ID] = run
	return newResponse().json(http.StatusCreated, s.checkRunJSON(run))
}

func (s *Server) updateCheckRun(r *http.Request, c *caller) *response {
	var req checkRunRequest
	if err := json.Unmarshal(readBody(r), &req); err != nil {
		return newResponse().fail(http.StatusBadRequest, "Problems parsing JSON")
	}
	id, _ := strconv.ParseInt(r.PathValue("check_run_id"), 10, 64)

	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.accessibleRepo(r, c)
	run := s.checkRuns[id]
	if repo == nil || run == nil || run.repo != repo {
		return newResponse().fail(http.StatusNotFound, "Not Found")
	}
	if resp := checkRunLimits(&req); resp != nil {
		return resp
	}
	updated := *run
	updated.Annotations = slices.Clone(run.Annotations)
	if resp := s.applyCheckRun(&updated, &req); resp != nil {
		return resp
	}
	*run = updated
	return newResponse().json(http.StatusOK, s.checkRunJSON(run))
}

// checkRunLimits enforces GitHub's limit of 50 annotations per request. The
// description states it as maxItems too, so request validation rejects
// such a request first; this check keeps the limit should a description drop it.
func checkRunLimits(req *checkRunRequest) *response {
	if req.Output != nil && len(req.Output.Annotations) > maxAnnotationsPerRequest {
		return newResponse().validationFailed("CheckRun", "annotations",
			fmt.Sprintf("Only %d annotations are allowed per request, got %d", maxAnnotationsPerRequest, len(req.Output.Annotations)))
	}
	return nil
}

// applyCheckRun copies the request's fields onto run. Annotations are
// appended, as GitHub does on every update.
func (s *Server) applyCheckRun(run *checkRun, req *checkRunRequest) *response {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&run.Name, req.Name)
	set(&run.DetailsURL, req.DetailsURL)
	set(&run.ExternalID, req.ExternalID)
	set(&run.Status, req.Status)
	if req.Conclusion != nil {
		// Providing a conclusion sets the status to completed.
		run.Conclusion = *req.Conclusion
		run.Status = "completed"
	}
	if run.Status == "completed" && run.Conclusion == "" {
		return newResponse().validationFailed("CheckRun", "conclusion", "conclusion is required when status is completed")
	}
	if run.Status == "completed" && run.CompletedAt.IsZero() {
		run.CompletedAt = s.now().UTC().Truncate(time.Second)
	}
	if req.Output != nil {
		set(&run.Title, req.Output.Title)
		set(&run.Summary, req.Output.Summary)
		set(&run.Text, req.Output.Text)
		run.Annotations = append(run.Annotations, req.Output.Annotations...)
	}
	return nil
}

func (s *Server) listCheckRunsForRef(r *http.Request, c *caller) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.accessibleRepo(r, c)
	if repo == nil {
		return newResponse().fail(http.StatusNotFound, "Not Found")
	}
	head, ref := repo.resolve(r.PathValue("ref"))
	if head == nil {
		return newResponse().validationFailed("CheckRun", "ref", "No commit found for SHA: "+ref)
	}

	q := r.URL.Query()
	var matched []*checkRun
	for _, run := range s.checkRuns {
		switch {
		case run.repo != repo || run.HeadSHA != head.sha:
		case q.Get("check_name") != "" && run.Name != q.Get("check_name"):
		case q.Get("status") != "" && run.Status != q.Get("status"):
		case q.Get("app_id") != "" && q.Get("app_id") != strconv.FormatInt(s.appID, 10):
		default:
			matched = append(matched, run)
		}
	}
	// Newest first, as GitHub lists them.
	slices.SortFunc(matched, func(a, b *checkRun) int { return int(b.ID - a.ID) })
	if q.Get("filter") != "all" {
		matched = latestPerName(matched)
	}

	page, perPage := pagination(q)
	runs := []any{}
	for _, run := range paginate(matched, page, perPage) {
		runs = append(runs, s.checkRunJSON(run))
	}
	resp := newResponse().json(http.StatusOK, map[string]any{"total_count": len(matched), "check_runs": runs})
	setLinkHeader(resp, r, page, perPage, len(matched))
	return resp
}

// latestPerName keeps the newest run of each name from a newest-first list.
func latestPerName(runs []*checkRun) []*checkRun {
	seen := map[string]bool{}
	var out []*checkRun
	for _, run := range runs {
		if !seen[run.Name] {
			seen[run.Name] = true
			out = append(out, run)
		}
	}
	return out
}

func (s *Server) checkRunJSON(run *checkRun) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/check-runs/%d", s.URL, run.Repository, run.ID)
	nullable := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	completed := any(nil)
	if !run.CompletedAt.IsZero() {
		completed = timestamp(run.CompletedAt)
	}
	return map[string]any{
		"id":           run.ID,
		"node_id":      fmt.Sprintf("CR_%d", run.ID),
		"head_sha":     run.HeadSHA,
		"name":         run.Name,
		"url":          api,
		"html_url":     fmt.Sprintf("https://github.com/%s/runs/%d", run.Repository, run.ID),
		"details_url":  nullable(run.DetailsURL),
		"status":       run.Status,
		"conclusion":   nullable(run.Conclusion),
		"started_at":   timestamp(run.StartedAt),
		"completed_at": completed,
		"external_id":  nullable(run.ExternalID),
		"check_suite":  map[string]any{"id": run.repo.id*1000 + 1},
		"output": map[string]any{
			"title":             nullable(run.Title),
			"summary":           nullable(run.Summary),
			"text":              nullable(run.Text),
			"annotations_count": len(run.Annotations),
			"annotations_url":   api + "/annotations",
		},
		"app":           s.appJSON(),
		"pull_requests": []any{},
	}
}
