package ghstandin

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// pullRequest is an open pull request from head into base. mergeBase is the
// base branch's commit when the pull request was opened.
type pullRequest struct {
	number     int
	base, head string
	mergeBase  string
}

// pullRequests holds the pull requests of every Server, by Server and then
// by lower-case "owner/repo". It lives outside Server so that the pull
// request endpoints stay in this file.
var pullRequests = struct {
	mu       sync.Mutex
	byServer map[*Server]map[string][]*pullRequest
}{byServer: map[*Server]map[string][]*pullRequest{}}

// OpenPullRequest opens a pull request from branch head into branch base
// (the default branch when empty) of the repository and returns its
// number. The files it changes are those that differ between base's
// commit at this moment, standing in for the merge base, and head's latest
// commit when the files are listed.
func (s *Server) OpenPullRequest(fullName, base, head string) int {
	s.mu.Lock()
	repo := s.repository(fullName, "")
	if base == "" {
		base = repo.defaultBranch
	}
	mergeBase := repo.branches[base]
	if _, ok := repo.branches[head]; !ok {
		s.mu.Unlock()
		s.tb.Fatalf("ghstandin: branch %q of %s does not exist: commit to it with SetFile first", head, fullName)
	}
	s.mu.Unlock()

	pullRequests.mu.Lock()
	defer pullRequests.mu.Unlock()
	repos := pullRequests.byServer[s]
	if repos == nil {
		repos = map[string][]*pullRequest{}
		pullRequests.byServer[s] = repos
		s.tb.Cleanup(func() {
			pullRequests.mu.Lock()
			defer pullRequests.mu.Unlock()
			delete(pullRequests.byServer, s)
		})
	}
	key := strings.ToLower(fullName)
	pr := &pullRequest{number: len(repos[key]) + 1, base: base, head: head, mergeBase: mergeBase}
	repos[key] = append(repos[key], pr)
	return pr.number
}

// findPullRequest returns a pull request of the repository, or nil.
func (s *Server) findPullRequest(fullName string, number int) *pullRequest {
	pullRequests.mu.Lock()
	defer pullRequests.mu.Unlock()
	for _, pr := range pullRequests.byServer[s][strings.ToLower(fullName)] {
		if pr.number == number {
			return pr
		}
	}
	return nil
}

// listPullRequestFiles serves GET /repos/{owner}/{repo}/pulls/{pull_number}/files.
func (s *Server) listPullRequestFiles(r *http.Request, c *caller) *response {
	number, err := strconv.Atoi(r.PathValue("pull_number"))
	if err != nil {
		return newResponse().fail(http.StatusNotFound, "Not Found")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.accessibleRepo(r, c)
	if repo == nil {
		return newResponse().fail(http.StatusNotFound, "Not Found")
	}
	pr := s.findPullRequest(repo.owner+"/"+repo.name, number)
	if pr == nil {
		return newResponse().fail(http.StatusNotFound, "Not Found")
	}
	base := repo.commits[pr.mergeBase]
	head := repo.commits[repo.branches[pr.head]]

	var entries []any
	for _, path := range changedPaths(base.files, head.files) {
		entries = append(entries, s.diffEntryJSON(repo, head.sha, path, base.files[path], head.files[path]))
	}

	query := r.URL.Query()
	page, perPage := pagination(query)
	items := []any{}
	items = append(items, paginate(entries, page, perPage)...)
	resp := newResponse().json(http.StatusOK, items)
	setLinkHeader(resp, r, page, perPage, len(entries))
	return resp
}

// changedPaths returns the sorted paths whose content differs between two
// snapshots, including paths present in only one of them.
func changedPaths(base, head map[string][]byte) []string {
	var paths []string
	for path, content := range head {
		if old, ok := base[path]; !ok || !bytes.Equal(old, content) {
			paths = append(paths, path)
		}
	}
	for path := range base {
		if _, ok := head[path]; !ok {
			paths = append(paths, path)
		}
	}
	slices.Sort(paths)
	return paths
}

// diffEntryJSON renders one changed file as GitHub's diff-entry object.
// Line counts treat every old line as deleted and every new line as added.
func (s *Server) diffEntryJSON(repo *repository, headSHA, path string, old, content []byte) map[string]any {
	status := "modified"
	blob := BlobSHA(content)
	switch {
	case old == nil:
		status = "added"
	case content == nil:
		status, blob = "removed", BlobSHA(old)
	}
	additions, deletions := lineCount(content), lineCount(old)
	web := fmt.Sprintf("https://github.com/%s/%s", repo.owner, repo.name)
	return map[string]any{
		"sha":          blob,
		"filename":     path,
		"status":       status,
		"additions":    additions,
		"deletions":    deletions,
		"changes":      additions + deletions,
		"blob_url":     fmt.Sprintf("%s/blob/%s/%s", web, headSHA, path),
		"raw_url":      fmt.Sprintf("%s/raw/%s/%s", web, headSHA, path),
		"contents_url": fmt.Sprintf("%s/repos/%s/%s/contents/%s?ref=%s", s.URL, repo.owner, repo.name, path, headSHA),
	}
}

func lineCount(content []byte) int {
	if len(content) == 0 {
		return 0
	}
	return bytes.Count(bytes.TrimSuffix(content, []byte("\n")), []byte("\n")) + 1
}
