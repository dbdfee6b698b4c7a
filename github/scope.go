package github

// Scope is what a scale set's githubConfigUrl names: the GitHub host and an
// enterprise, an organization or a repository.
type Scope struct {
	// Host is the GitHub web host, for example "github.com".
	Host string
	// APIBaseURL is the REST API root with a trailing slash:
	// "https://api.github.com/", "https://api.<tenant>.ghe.com/" or
	// "https://<host>/api/v3/".
	APIBaseURL string
	// Enterprise is set for enterprise-level scale sets.
	Enterprise string
	// Owner is the organization or user; empty for an enterprise.
	Owner string
	// Repo is set for repository-level scale sets.
	Repo string
}
