// Package github talks to the GitHub API through go-github: App
// authentication, reading .github/egress.yaml, check runs and workflow runs.
package github
