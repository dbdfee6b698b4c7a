package github

import (
	"errors"
	"fmt"
	"time"

	gogithub "github.com/google/go-github/v60/github"
)

// ErrEnterpriseScope reports a scope that names an enterprise. The App is
// installed per organization, and no repository holds an enterprise's
// configuration.
var ErrEnterpriseScope = errors.New("enterprise scopes are not supported")

// ErrNotInstalled reports that the GitHub App has no installation on the
// scope's organization or repository.
var ErrNotInstalled = errors.New("GitHub App is not installed")

// RateLimitError reports that GitHub's primary or secondary rate limit
// stops requests until Reset. Callers detect it with errors.As and retry
// after Reset.
type RateLimitError struct {
	// Host is the API host, e.g. "api.github.com".
	Host string
	// Reset is when GitHub accepts requests again.
	Reset time.Time
	// Secondary is set for secondary (abuse) limits and Retry-After.
	Secondary bool
	// Message is GitHub's message, when it sent one.
	Message string
}

func (e *RateLimitError) Error() string {
	kind := "primary"
	if e.Secondary {
		kind = "secondary"
	}
	msg := fmt.Sprintf("GitHub %s rate limit reached on %s; requests resume at %s", kind, e.Host, e.Reset.UTC().Format(time.RFC3339))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// asRateLimitError converts go-github's own rate-limit errors, which it
// returns when an earlier response showed the quota used up.
func asRateLimitError(host string, err error, now time.Time) error {
	var primary *gogithub.RateLimitError
	if errors.As(err, &primary) {
		return &RateLimitError{Host: host, Reset: primary.Rate.Reset.Time, Message: primary.Message}
	}
	var secondary *gogithub.AbuseRateLimitError
	if errors.As(err, &secondary) {
		reset := now.Add(time.Minute)
		if secondary.RetryAfter != nil {
			reset = now.Add(*secondary.RetryAfter)
		}
		return &RateLimitError{Host: host, Reset: reset, Secondary: true, Message: secondary.Message}
	}
	return err
}

// statusCode returns the HTTP status of a go-github error response, or 0.
func statusCode(resp *gogithub.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}
