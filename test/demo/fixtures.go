package demo

import (
	egressv1alpha1 "github.com/arc-lockdown/arc-lockdown/lockdown/api/v1alpha1"

	"github.com/arc-lockdown/arc-lockdown/lockdown"
)

const (
	// controllerNamespace holds the controller's GitHub App Secret.
	controllerNamespace = "arc-lockdown-system"
	// runnerNamespace is where ARC's chart put the sample scale sets.
	runnerNamespace = "arc-runners"
	// owner is the GitHub organization of the sample repositories.
	owner = "acme"
	// jobName is the display name of the demo job.
	jobName = "build"
	// workflowPath is the demo job's workflow file.
	workflowPath = ".github/workflows/ci.yml"
)

// sample is one of ARC's sample scale sets and what its repository holds.
type sample struct {
	file       string // file in the samples directory
	scaleSet   string // AutoscalingRunnerSet name in that file
	repository string // owner/repo from its githubConfigUrl
	egressYAML string // "" when the repository has no .github/egress.yaml
	describe   string
}

var samples = []sample{
	{
		file: "default-repo.yaml", scaleSet: "web-ci", repository: owner + "/web-app",
		describe: "valid egress.yaml with one entry the deny list drops",
		egressYAML: `version: 1
mode: enforce
allow:
  - npm-mirror
  - host: artifacts.corp.example.com
    ports: [443]
  - host: registry.npmjs.org
`,
	},
	{
		file: "dind-repo.yaml", scaleSet: "build-dind", repository: owner + "/api-server",
		describe: "invalid egress.yaml (a misspelled catalog name, a bad port)",
		egressYAML: `version: 1
allow:
  - npm-mirorr
  - host: artifacts.corp.example.com
    ports: [70000]
`,
	},
	{
		file: "kube-mode-repo.yaml", scaleSet: "k8s-mode", repository: owner + "/data-pipeline",
		describe: "no egress.yaml",
	},
}

// demoPolicy is the administrator's ceiling: the default baseline and deny
// list, two mirrors in the catalog, and internal hosts repositories may add.
func demoPolicy() egressv1alpha1.EgressPolicySpec {
	spec := lockdown.DefaultPolicySpec()
	spec.Catalog = []egressv1alpha1.CatalogEntry{
		{
			Name:         "npm-mirror",
			Description:  "Internal npm mirror",
			Destinations: []egressv1alpha1.Destination{{Host: "npm.corp.example.com"}},
			Replaces:     []string{"registry.npmjs.org", "registry.yarnpkg.com"},
			Hint:         "npm config set registry https://npm.corp.example.com/",
		},
		{
			Name:         "pypi-mirror",
			Description:  "Internal PyPI mirror",
			Destinations: []egressv1alpha1.Destination{{Host: "pypi.corp.example.com"}},
			Replaces:     []string{"pypi.org", "files.pythonhosted.org"},
			Hint:         "pip config set global.index-url https://pypi.corp.example.com/simple",
		},
	}
	spec.AllowedHosts = []string{"*.corp.example.com"}
	return spec
}
