package github

import (
	"sync"

	gogithub "github.com/google/go-github/v60/github"
)

// Client calls GitHub as one App installation. Get it from ClientSet.For;
// it is safe for concurrent use.
type Client struct {
	gh             *gogithub.Client
	host           string
	appID          int64
	installationID int64
	clock          Clock

	checkMu   sync.Mutex
	checkRuns map[string]*checkRunSlot // by owner/repo, name, head SHA, external ID

	runMu     sync.Mutex
	runs      map[string]WorkflowRun
	runsOrder []string
}

func newClient(gh *gogithub.Client, host string, appID, installationID int64, clock Clock) *Client {
	return &Client{
		gh:             gh,
		host:           host,
		appID:          appID,
		installationID: installationID,
		clock:          clock,
		checkRuns:      map[string]*checkRunSlot{},
		runs:           map[string]WorkflowRun{},
	}
}

// InstallationID returns the GitHub App installation the client acts as.
func (c *Client) InstallationID() int64 { return c.installationID }
