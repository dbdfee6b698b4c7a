package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gogithub "github.com/google/go-github/v60/github"
)

// EgressConfigPath is the path of the egress configuration in a repository.
const EgressConfigPath = ".github/egress.yaml"

// MaxConfigSize is the largest .github/egress.yaml FetchEgressConfig
// accepts, in bytes.
const MaxConfigSize = 64 << 10

// FileState is the outcome of FetchEgressConfig.
type FileState int

const (
	// FileFound means the file was read; ConfigFile carries its content.
	FileFound FileState = iota + 1
	// FileNotFound means the repository, the ref or the file does not exist
	// or the installation cannot see it (GitHub returns 404 for all four).
	FileNotFound
	// FileNotModified means the file still matches the ETag the caller sent.
	FileNotModified
)

func (s FileState) String() string {
	switch s {
	case FileFound:
		return "found"
	case FileNotFound:
		return "not found"
	case FileNotModified:
		return "not modified"
	}
	return fmt.Sprintf("FileState(%d)", int(s))
}

// ConfigFile is the result of reading .github/egress.yaml.
type ConfigFile struct {
	State FileState
	// Repository is "owner/repo" of the repository read.
	Repository string
	// Path is the file's path in the repository.
	Path string
	// Ref is the branch, tag or SHA read. When the caller passed "" it is
	// the default branch's name as GitHub reported it.
	Ref string
	// Content is the file's bytes; set only for FileFound.
	Content []byte
	// BlobSHA is the Git blob ID of the content; set only for FileFound.
	BlobSHA string
	// CommitSHA is the newest commit on Ref that changed the file; set only
	// for FileFound.
	CommitSHA string
	// ETag identifies this version for the next conditional request. For
	// FileNotModified it is the ETag the caller sent.
	ETag string
}

// FetchEgressConfig reads .github/egress.yaml for a scope: from the
// repository of a repository scope, or from the organization's .github
// repository. ref "" reads the default branch. With a non-empty etag it
// sends If-None-Match, and GitHub returns 304 (FileNotModified) without
// charging the rate limit when the file is unchanged.
//
// The commit SHA comes from the commits API (the newest commit on ref that
// touched the path), fetched only when the file changed. So it names the
// commit that last changed the file, not the branch head. A push between
// the two requests can make it name a newer commit than the content read;
// that push changes the ETag, so the next fetch corrects it.
//
// A 404 is FileNotFound; every other failure, including 5xx and rate
// limits (*RateLimitError), is an error.
func (c *Client) FetchEgressConfig(ctx context.Context, scope Scope, ref, etag string) (*ConfigFile, error) {
	owner, repo, err := ConfigRepository(scope)
	if err != nil {
		return nil, err
	}
	result := &ConfigFile{Repository: owner + "/" + repo, Path: EgressConfigPath, Ref: ref}

	u := fmt.Sprintf("repos/%s/%s/contents/%s", url.PathEscape(owner), url.PathEscape(repo), EgressConfigPath)
	if ref != "" {
		u += "?ref=" + url.QueryEscape(ref)
	}
	req, err := c.gh.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", EgressConfigPath, result.Repository, err)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}

	var content gogithub.RepositoryContent
	resp, err := c.gh.Do(ctx, req, &content)
	switch statusCode(resp) {
	case http.StatusNotModified:
		result.State, result.ETag = FileNotModified, etag
		return result, nil
	case http.StatusNotFound:
		result.State = FileNotFound
		return result, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s from %s: %w", EgressConfigPath, result.Repository, asRateLimitError(c.host, err, c.clock.Now()))
	}

	data, err := decodeConfig(&content, result.Repository)
	if err != nil {
		return nil, err
	}
	if result.Ref == "" {
		result.Ref = refFromContentURL(content.GetURL())
	}
	result.State = FileFound
	result.Content = data
	result.BlobSHA = content.GetSHA()
	result.ETag = resp.Header.Get("ETag")

	result.CommitSHA, err = c.lastCommit(ctx, owner, repo, result.Ref)
	if err != nil {
		return nil, err
	}
	return result, nil
}

func decodeConfig(content *gogithub.RepositoryContent, repository string) ([]byte, error) {
	if content.GetType() != "file" {
		return nil, fmt.Errorf("%s in %s is a %s, not a file: make it a regular file", EgressConfigPath, repository, content.GetType())
	}
	if content.GetSize() > MaxConfigSize {
		return nil, fmt.Errorf("%s in %s is %d bytes, more than the %d-byte limit: shorten it", EgressConfigPath, repository, content.GetSize(), MaxConfigSize)
	}
	data, err := content.GetContent()
	if err != nil {
		return nil, fmt.Errorf("decode %s from %s: %w", EgressConfigPath, repository, err)
	}
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("%s in %s is %d bytes, more than the %d-byte limit: shorten it", EgressConfigPath, repository, len(data), MaxConfigSize)
	}
	return []byte(data), nil
}

// refFromContentURL reads the ref GitHub resolved from the url field of a
// contents response, ".../contents/<path>?ref=<branch>".
func refFromContentURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Query().Get("ref")
}

// lastCommit returns the newest commit on ref that changed the config file.
func (c *Client) lastCommit(ctx context.Context, owner, repo, ref string) (string, error) {
	commits, _, err := c.gh.Repositories.ListCommits(ctx, owner, repo, &gogithub.CommitsListOptions{
		SHA:         ref,
		Path:        EgressConfigPath,
		ListOptions: gogithub.ListOptions{PerPage: 1},
	})
	if err != nil {
		return "", fmt.Errorf("find the last commit of %s in %s/%s at %q: %w", EgressConfigPath, owner, repo, ref, asRateLimitError(c.host, err, c.clock.Now()))
	}
	if len(commits) == 0 || strings.TrimSpace(commits[0].GetSHA()) == "" {
		return "", fmt.Errorf("find the last commit of %s in %s/%s at %q: GitHub listed no commit that changed the file", EgressConfigPath, owner, repo, ref)
	}
	return commits[0].GetSHA(), nil
}
