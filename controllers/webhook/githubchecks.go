package webhook

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/cache"

	"github.com/arc-lockdown/arc-lockdown/github"
)

// publishedRunsCacheSize bounds the check runs whose sent annotations
// GitHubChecks remembers; publishedRunsTTL is how long it remembers them.
const (
	publishedRunsCacheSize = 4096
	publishedRunsTTL       = 24 * time.Hour
)

// GitHubChecks calls GitHub through a github.ClientSet for the
// pull-request check, and drops cached installations for the Handler. It
// implements CheckGitHub and InstallationForgetter.
type GitHubChecks struct {
	clients *github.ClientSet

	// published maps a check run's key to the set of annotation keys sent
	// to it. GitHub appends the annotations of every update and cannot
	// remove them, so a check repeated on the same commits sends only the
	// annotations the run lacks.
	mu        sync.Mutex
	published *cache.LRUExpireCache
}

var (
	_ CheckGitHub           = (*GitHubChecks)(nil)
	_ InstallationForgetter = (*GitHubChecks)(nil)
)

// NewGitHubChecks returns a GitHubChecks that uses clients.
func NewGitHubChecks(clients *github.ClientSet) *GitHubChecks {
	return &GitHubChecks{clients: clients, published: cache.NewLRUExpireCache(publishedRunsCacheSize)}
}

// client returns the installation client and scope of a repository.
func (g *GitHubChecks) client(ctx context.Context, repo Repository) (*github.Client, github.Scope, error) {
	scope, err := github.ParseConfigURL("https://" + repo.Host + "/" + repo.Owner + "/" + repo.Name)
	if err != nil {
		return nil, github.Scope{}, err
	}
	c, err := g.clients.For(ctx, scope)
	if err != nil {
		return nil, github.Scope{}, err
	}
	return c, scope, nil
}

// PullRequestFiles implements CheckGitHub.
func (g *GitHubChecks) PullRequestFiles(ctx context.Context, repo Repository, number int) ([]string, error) {
	c, _, err := g.client(ctx, repo)
	if err != nil {
		return nil, err
	}
	return c.ListPullRequestFiles(ctx, repo.Owner, repo.Name, number)
}

// ConfigFile implements CheckGitHub.
func (g *GitHubChecks) ConfigFile(ctx context.Context, repo Repository, ref string) ([]byte, bool, error) {
	c, scope, err := g.client(ctx, repo)
	if err != nil {
		return nil, false, err
	}
	file, err := c.FetchEgressConfig(ctx, scope, ref, "")
	if err != nil {
		return nil, false, err
	}
	switch file.State {
	case github.FileFound:
		return file.Content, true, nil
	case github.FileNotFound:
		return nil, false, nil
	default:
		return nil, false, fmt.Errorf("read %s of %s at %s: unexpected state %s", ConfigPath, repo.FullName(), ref, file.State)
	}
}

// PublishCheckRun implements CheckGitHub. The run is created completed,
// with its annotations on ConfigPath.
func (g *GitHubChecks) PublishCheckRun(ctx context.Context, repo Repository, run CheckRunReport) error {
	c, _, err := g.client(ctx, repo)
	if err != nil {
		return err
	}
	runKey := strings.Join([]string{repo.Host, repo.FullName(), run.Name, run.HeadSHA, run.ExternalID}, "\x00")
	sent := g.sentAnnotations(runKey)

	out := github.CheckRun{
		Name:       run.Name,
		HeadSHA:    run.HeadSHA,
		ExternalID: run.ExternalID,
		Status:     "completed",
		Conclusion: run.Conclusion,
		Title:      run.Title,
		Summary:    run.Summary,
	}
	var keys []string
	for _, a := range run.Annotations {
		key := strconv.Itoa(a.Line) + "\x00" + a.Level + "\x00" + a.Message
		if sent[key] {
			continue
		}
		keys = append(keys, key)
		out.Annotations = append(out.Annotations, github.Annotation{
			Path:      ConfigPath,
			StartLine: a.Line,
			EndLine:   a.Line,
			Level:     a.Level,
			Title:     a.Title,
			Message:   a.Message,
		})
	}

	if _, err := c.UpsertCheckRun(ctx, repo.Owner, repo.Name, out); err != nil {
		return err
	}
	g.recordAnnotations(runKey, keys)
	return nil
}

// sentAnnotations returns a copy of the annotation keys sent to a run.
func (g *GitHubChecks) sentAnnotations(runKey string) map[string]bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	sent := map[string]bool{}
	if v, ok := g.published.Get(runKey); ok {
		for key := range v.(map[string]bool) {
			sent[key] = true
		}
	}
	return sent
}

// recordAnnotations adds annotation keys to those sent to a run.
func (g *GitHubChecks) recordAnnotations(runKey string, keys []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	sent := map[string]bool{}
	if v, ok := g.published.Get(runKey); ok {
		sent = v.(map[string]bool)
	}
	for _, key := range keys {
		sent[key] = true
	}
	g.published.Add(runKey, sent, publishedRunsTTL)
}

// ForgetInstallation implements InstallationForgetter.
func (g *GitHubChecks) ForgetInstallation(_, _ string, id int64) {
	g.clients.ForgetInstallation(id)
}
