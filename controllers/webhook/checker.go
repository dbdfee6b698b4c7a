package webhook

import (
	"context"
	"fmt"
	"slices"

	actionsv1alpha1 "github.com/actions/actions-runner-controller/apis/actions.github.com/v1alpha1"
	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/arc-lockdown/arc-lockdown/github"
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"
)

// CheckRunReport is the completed check run the checker publishes.
type CheckRunReport struct {
	// Name is CheckRunName.
	Name string
	// HeadSHA is the commit the check run is attached to.
	HeadSHA string
	// ExternalID identifies the pull request and its base commit,
	// "owner/repo#number@baseSHA", so that a check against a new base is a
	// new check run rather than an update that keeps the old annotations.
	ExternalID string
	// Conclusion is "success", "failure" or "neutral".
	Conclusion string
	// Title and Summary are the check run's output; Summary is Markdown.
	Title, Summary string
	// Annotations are line-level findings in ConfigPath.
	Annotations []CheckAnnotation
}

// CheckAnnotation is one line-level finding of a check run.
type CheckAnnotation struct {
	// Line is the 1-based line in ConfigPath.
	Line int
	// Level is "failure" or "warning".
	Level string
	// Title and Message describe the finding.
	Title, Message string
}

// CheckGitHub is the part of the GitHub API the pull-request check uses.
type CheckGitHub interface {
	// PullRequestFiles returns the paths a pull request changes.
	PullRequestFiles(ctx context.Context, repo Repository, number int) ([]string, error)
	// ConfigFile returns ConfigPath at ref, a branch or a commit SHA.
	// found is false when the ref has no such file.
	ConfigFile(ctx context.Context, repo Repository, ref string) (data []byte, found bool, err error)
	// PublishCheckRun creates the check run, or updates the one of the same
	// name on the same commit.
	PublishCheckRun(ctx context.Context, repo Repository, run CheckRunReport) error
}

// ConfigChecker runs the "egress / config" check of pull requests that
// change ConfigPath. It implements PullRequestChecker.
//
// It checks the file against the EgressPolicy of every scale set that
// would read it after the merge. Those are the scale sets of the
// repository, or of the organization for its ".github" repository, whose
// configuration ref is the pull request's base branch. Scale sets governed
// by the same policy share one section of the summary; problems and
// dropped entries that several policies share are annotated once, so the
// check fails when the file is invalid under any of the policies.
type ConfigChecker struct {
	// Reader lists AutoscalingRunnerSets, EgressPolicies and namespaces.
	Reader client.Reader
	// GitHub reads the pull request and publishes the check run.
	GitHub CheckGitHub
}

var _ PullRequestChecker = (*ConfigChecker)(nil)

// CheckPullRequest implements PullRequestChecker.
func (c *ConfigChecker) CheckPullRequest(ctx context.Context, pr PullRequest) error {
	log := logr.FromContextOrDiscard(ctx)
	repo := pr.Repository

	files, err := c.GitHub.PullRequestFiles(ctx, repo, pr.Number)
	if err != nil {
		return fmt.Errorf("list files of pull request %s#%d: %w", repo.FullName(), pr.Number, err)
	}
	if !slices.Contains(files, ConfigPath) {
		log.V(1).Info("Pull request does not change the egress file")
		return nil
	}

	groups, err := c.policyGroups(ctx, pr)
	if err != nil {
		return err
	}

	head, err := c.fileAt(ctx, repo, pr.HeadSHA)
	if err != nil {
		return err
	}
	base, err := c.fileAt(ctx, repo, pr.BaseSHA)
	if err != nil {
		return err
	}

	report := buildReport(head, base, groups, pr.BaseRef)
	run := CheckRunReport{
		Name:        CheckRunName,
		HeadSHA:     pr.HeadSHA,
		ExternalID:  fmt.Sprintf("%s#%d@%s", repo.FullName(), pr.Number, pr.BaseSHA),
		Conclusion:  report.conclusion,
		Title:       report.title,
		Summary:     report.summary,
		Annotations: make([]CheckAnnotation, len(report.annotations)),
	}
	for i, a := range report.annotations {
		run.Annotations[i] = CheckAnnotation{Line: a.line, Level: a.level, Title: a.title, Message: a.message}
	}
	if err := c.GitHub.PublishCheckRun(ctx, repo, run); err != nil {
		return fmt.Errorf("publish check run %q on %s@%s: %w", CheckRunName, repo.FullName(), pr.HeadSHA, err)
	}
	log.Info("Published the egress configuration check", "conclusion", run.Conclusion, "annotations", len(run.Annotations))
	return nil
}

// fileAt reads ConfigPath at ref. An empty ref has no file.
func (c *ConfigChecker) fileAt(ctx context.Context, repo Repository, ref string) (fileVersion, error) {
	if ref == "" {
		return fileVersion{}, nil
	}
	data, found, err := c.GitHub.ConfigFile(ctx, repo, ref)
	if err != nil {
		return fileVersion{}, fmt.Errorf("read %s of %s at %s: %w", ConfigPath, repo.FullName(), ref, err)
	}
	return fileVersion{data: data, found: found}, nil
}

// policyGroups finds the scale sets that would read the file after the
// merge and groups them by their governing EgressPolicy, in name order.
func (c *ConfigChecker) policyGroups(ctx context.Context, pr PullRequest) ([]policyGroup, error) {
	repo := pr.Repository
	baseRef := "refs/heads/" + pr.BaseRef
	var hosts = map[client.ObjectKey]string{}
	sets, err := servingScaleSets(ctx, c.Reader, func(scope github.Scope, ars *actionsv1alpha1.AutoscalingRunnerSet) bool {
		if !sameOwner(scope, repo.Host, repo.Owner) || !readsConfigFrom(scope, repo.Name) {
			return false
		}
		if !refMatches(baseRef, ars.Annotations[egressv1alpha1.AnnotationConfigRef], repo.DefaultBranch) {
			return false
		}
		hosts[client.ObjectKeyFromObject(ars)] = scope.Host
		return true
	})
	if err != nil {
		return nil, err
	}
	governing, err := governingPolicies(ctx, c.Reader, sets)
	if err != nil {
		return nil, err
	}

	byPolicy := map[string]*policyGroup{}
	var names []string
	for i := range sets {
		key := client.ObjectKeyFromObject(&sets[i])
		policy := governing[key]
		name := ""
		if policy != nil {
			name = policy.Name
		}
		g, ok := byPolicy[name]
		if !ok {
			g = &policyGroup{policy: policy, githubHost: hosts[key]}
			byPolicy[name] = g
			names = append(names, name)
		}
		g.scaleSets = append(g.scaleSets, key.String())
	}

	slices.Sort(names)
	groups := make([]policyGroup, 0, len(names))
	for _, name := range names {
		g := byPolicy[name]
		slices.Sort(g.scaleSets)
		groups = append(groups, *g)
	}
	return groups, nil
}
