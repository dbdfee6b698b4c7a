package github

import (
	"strconv"
	"strings"
)

// ForgetInstallation drops the cached installation ID of every scope that
// installation id covers, and the installation's client with its token, so
// that the next For finds the installation again through the Apps API. The
// webhook endpoint calls it when GitHub reports that an installation was
// deleted, suspended or changed.
func (cs *ClientSet) ForgetInstallation(id int64) {
	cs.mu.Lock()
	defer cs.mu.Unlock()

	for key, entry := range cs.installations {
		if entry.id == id {
			delete(cs.installations, key)
		}
	}
	suffix := "#" + strconv.FormatInt(id, 10)
	for key := range cs.clients {
		if strings.HasSuffix(key, suffix) {
			delete(cs.clients, key)
		}
	}
}
