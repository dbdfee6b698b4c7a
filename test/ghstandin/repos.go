package ghstandin

import (
	"crypto/sha1" //nolint:gosec // Git object IDs are SHA-1.
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxInlineContent is the largest file the contents API returns inline;
// larger files come back with encoding "none" and empty content.
const maxInlineContent = 1 << 20

// repository is a Git repository: branches pointing at commits, each commit a
// full snapshot of the files.
type repository struct {
	id            int64
	owner, name   string
	defaultBranch string
	branches      map[string]string // branch name -> commit SHA
	commits       map[string]*commit
}

type commit struct {
	sha     string
	parent  string // "" for the first commit
	message string
	time    time.Time
	files   map[string][]byte
	changed string // the path this commit changed; "" for none
}

// AddRepository creates a repository with one empty commit on its default
// branch, unless it exists already.
func (s *Server) AddRepository(fullName, defaultBranch string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repository(fullName, defaultBranch)
}

// repository returns the repository, creating it when missing. The caller
// holds s.mu.
func (s *Server) repository(fullName, defaultBranch string) *repository {
	key := strings.ToLower(fullName)
	if repo := s.repos[key]; repo != nil {
		return repo
	}
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok {
		s.tb.Fatalf("ghstandin: repository %q is not owner/repo", fullName)
	}
	if defaultBranch == "" {
		defaultBranch = "main"
	}
	s.nextID++
	repo := &repository{
		id:            s.nextID,
		owner:         owner,
		name:          name,
		defaultBranch: defaultBranch,
		branches:      map[string]string{},
		commits:       map[string]*commit{},
	}
	s.repos[key] = repo
	s.commitTo(repo, defaultBranch, "Initial commit", "", nil, false)
	return repo
}

// commitTo adds a commit on branch that sets path to content (or deletes it
// when remove is set) and returns its SHA. The caller holds s.mu.
func (s *Server) commitTo(repo *repository, branch, message, path string, content []byte, remove bool) string {
	files := map[string][]byte{}
	parent := repo.branches[branch]
	if parent == "" {
		parent = repo.branches[repo.defaultBranch]
	}
	if p := repo.commits[parent]; p != nil {
		files = maps.Clone(p.files)
	}
	if path != "" {
		if remove {
			delete(files, path)
		} else {
			files[path] = append([]byte(nil), content...)
		}
	}
	s.nextID++
	sum := sha1.Sum([]byte(fmt.Sprintf("%s/%s %d %s", repo.owner, repo.name, s.nextID, message))) //nolint:gosec // a fake commit ID
	c := &commit{
		sha:     hex.EncodeToString(sum[:]),
		parent:  parent,
		message: message,
		time:    s.now().UTC().Truncate(time.Second),
		files:   files,
		changed: path,
	}
	repo.commits[c.sha] = c
	repo.branches[branch] = c.sha
	return c.sha
}

// SetFile commits content to path on branch (the default branch when empty)
// of the repository, creating the repository when missing, and returns the
// new commit's SHA.
func (s *Server) SetFile(fullName, branch, path string, content []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.repository(fullName, "")
	if branch == "" {
		branch = repo.defaultBranch
	}
	return s.commitTo(repo, branch, "Update "+path, path, content, false)
}

// DeleteFile commits the removal of path on branch (the default branch when
// empty) and returns the new commit's SHA.
func (s *Server) DeleteFile(fullName, branch, path string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.repository(fullName, "")
	if branch == "" {
		branch = repo.defaultBranch
	}
	return s.commitTo(repo, branch, "Delete "+path, path, nil, true)
}

// AddCommit commits nothing but a message on branch (the default branch
// when empty) and returns the commit SHA, e.g. to move a branch head
// without touching a file.
func (s *Server) AddCommit(fullName, branch, message string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.repository(fullName, "")
	if branch == "" {
		branch = repo.defaultBranch
	}
	return s.commitTo(repo, branch, message, "", nil, false)
}

// BlobSHA returns the Git blob ID of content, as GitHub reports it in the
// sha field of a file.
func BlobSHA(content []byte) string {
	h := sha1.New() //nolint:gosec // Git object IDs are SHA-1.
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// resolve finds the commit a ref names: a branch, a full commit SHA or, when
// empty, the default branch. It returns the commit and the ref as GitHub
// echoes it. The caller holds s.mu.
func (repo *repository) resolve(ref string) (*commit, string) {
	if ref == "" {
		ref = repo.defaultBranch
	}
	ref = strings.TrimPrefix(ref, "refs/heads/")
	if sha, ok := repo.branches[ref]; ok {
		return repo.commits[sha], ref
	}
	return repo.commits[ref], ref
}

// accessibleRepo returns the repository when the caller's installation can
// read it. GitHub returns 404 for repositories a token cannot see.
func (s *Server) accessibleRepo(r *http.Request, c *caller) *repository {
	owner := r.PathValue("owner")
	if c.installation == nil || !strings.EqualFold(c.installation.account, owner) {
		return nil
	}
	return s.repos[strings.ToLower(owner+"/"+r.PathValue("repo"))]
}

func (s *Server) getContent(r *http.Request, c *caller) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.accessibleRepo(r, c)
	if repo == nil {
		return newResponse().fail(http.StatusNotFound, "Not Found")
	}
	head, ref := repo.resolve(r.URL.Query().Get("ref"))
	if head == nil {
		return newResponse().fail(http.StatusNotFound, "No commit found for the ref "+ref)
	}
	path := strings.Trim(r.PathValue("path"), "/")
	content, ok := head.files[path]
	if !ok {
		return newResponse().fail(http.StatusNotFound, "Not Found")
	}

	resp := newResponse().json(http.StatusOK, s.contentFileJSON(repo, ref, path, content))
	// GitHub's ETag is a weak validator over the representation.
	sum := sha256.Sum256(resp.body)
	etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
	resp.header.Set("ETag", etag)
	resp.header.Set("Cache-Control", "private, max-age=60, s-maxage=60")
	resp.header.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
	if matchesETag(r.Header.Get("If-None-Match"), etag) {
		notModified := newResponse()
		notModified.status = http.StatusNotModified
		notModified.header.Set("ETag", etag)
		notModified.header.Set("Cache-Control", resp.header.Get("Cache-Control"))
		notModified.header.Set("Vary", resp.header.Get("Vary"))
		return notModified
	}
	return resp
}

// matchesETag compares an If-None-Match header with an ETag using the weak
// comparison RFC 9110 prescribes for If-None-Match.
func matchesETag(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, candidate := range strings.Split(header, ",") {
		candidate = strings.TrimSpace(candidate)
		if candidate == "*" || strings.TrimPrefix(candidate, "W/") == want {
			return true
		}
	}
	return false
}

func (s *Server) contentFileJSON(repo *repository, ref, path string, content []byte) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/%s", s.URL, repo.owner, repo.name)
	html := fmt.Sprintf("https://github.com/%s/%s", repo.owner, repo.name)
	sha := BlobSHA(content)
	self := api + "/contents/" + path + "?ref=" + url.QueryEscape(ref)
	encoded, encoding := "", "none"
	if len(content) <= maxInlineContent {
		encoded, encoding = wrapBase64(base64.StdEncoding.EncodeToString(content)), "base64"
	}
	return map[string]any{
		"type":         "file",
		"encoding":     encoding,
		"size":         len(content),
		"name":         path[strings.LastIndex(path, "/")+1:],
		"path":         path,
		"content":      encoded,
		"sha":          sha,
		"url":          self,
		"git_url":      api + "/git/blobs/" + sha,
		"html_url":     html + "/blob/" + ref + "/" + path,
		"download_url": "https://raw.githubusercontent.com/" + repo.owner + "/" + repo.name + "/" + ref + "/" + path,
		"_links": map[string]any{
			"self": self,
			"git":  api + "/git/blobs/" + sha,
			"html": html + "/blob/" + ref + "/" + path,
		},
	}
}

// wrapBase64 breaks base64 text into 60-character lines, as GitHub sends it.
func wrapBase64(s string) string {
	var b strings.Builder
	for len(s) > 60 {
		b.WriteString(s[:60])
		b.WriteByte('\n')
		s = s[60:]
	}
	b.WriteString(s)
	if b.Len() > 0 {
		b.WriteByte('\n')
	}
	return b.String()
}

func (s *Server) listCommits(r *http.Request, c *caller) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.accessibleRepo(r, c)
	if repo == nil {
		return newResponse().fail(http.StatusNotFound, "Not Found")
	}
	query := r.URL.Query()
	head, ref := repo.resolve(query.Get("sha"))
	if head == nil {
		return newResponse().fail(http.StatusNotFound, "No commit found for SHA: "+ref)
	}
	path := strings.Trim(query.Get("path"), "/")

	var matched []*commit
	for cur := head; cur != nil; cur = repo.commits[cur.parent] {
		if path == "" || cur.changed == path {
			matched = append(matched, cur)
		}
		if cur.parent == "" {
			break
		}
	}

	page, perPage := pagination(query)
	items := []any{}
	for _, cm := range paginate(matched, page, perPage) {
		items = append(items, s.commitJSON(repo, cm))
	}
	resp := newResponse().json(http.StatusOK, items)
	setLinkHeader(resp, r, page, perPage, len(matched))
	return resp
}

func (s *Server) commitJSON(repo *repository, c *commit) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/%s", s.URL, repo.owner, repo.name)
	author := map[string]any{"name": "Octo Cat", "email": "octocat@users.noreply.github.com", "date": c.time.Format(time.RFC3339)}
	parents := []any{}
	if c.parent != "" {
		parents = append(parents, map[string]any{"sha": c.parent, "url": api + "/commits/" + c.parent})
	}
	treeSum := sha1.Sum([]byte("tree " + c.sha)) //nolint:gosec // a fake tree ID
	tree := hex.EncodeToString(treeSum[:])
	return map[string]any{
		"url":          api + "/commits/" + c.sha,
		"sha":          c.sha,
		"node_id":      "C_" + c.sha[:20],
		"html_url":     fmt.Sprintf("https://github.com/%s/%s/commit/%s", repo.owner, repo.name, c.sha),
		"comments_url": api + "/commits/" + c.sha + "/comments",
		"commit": map[string]any{
			"url":           api + "/git/commits/" + c.sha,
			"author":        author,
			"committer":     author,
			"message":       c.message,
			"comment_count": 0,
			"tree":          map[string]any{"sha": tree, "url": api + "/git/trees/" + tree},
		},
		// GitHub sends null when the commit's e-mail matches no account.
		"author":    nil,
		"committer": nil,
		"parents":   parents,
	}
}

// pagination reads page and per_page with GitHub's defaults (1 and 30) and
// its per_page maximum of 100.
func pagination(q url.Values) (page, perPage int) {
	page, perPage = 1, 30
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	return page, perPage
}

func paginate[T any](items []T, page, perPage int) []T {
	start := (page - 1) * perPage
	if start >= len(items) {
		return nil
	}
	return items[start:min(start+perPage, len(items))]
}

// setLinkHeader adds GitHub's Link header with a next page when there is one.
func setLinkHeader(resp *response, r *http.Request, page, perPage, total int) {
	if page*perPage >= total {
		return
	}
	q := r.URL.Query()
	q.Set("page", strconv.Itoa(page+1))
	q.Set("per_page", strconv.Itoa(perPage))
	root, _ := r.Context().Value(apiRootKey{}).(string)
	next := fmt.Sprintf("%s%s?%s", root, r.URL.Path, q.Encode())
	resp.header.Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next))
}
