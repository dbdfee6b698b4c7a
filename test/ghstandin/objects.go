package ghstandin

import (
	"fmt"
	"time"
)

// The builders below produce the objects GitHub embeds in its responses,
// with every field the OpenAPI description marks as required.

func (s *Server) simpleUser(login string, id int64, kind string) map[string]any {
	api := s.URL + "/users/" + login
	return map[string]any{
		"login":               login,
		"id":                  id,
		"node_id":             fmt.Sprintf("MDQ6VXNlcj%d", id),
		"avatar_url":          fmt.Sprintf("https://avatars.githubusercontent.com/u/%d", id),
		"gravatar_id":         "",
		"url":                 api,
		"html_url":            "https://github.com/" + login,
		"followers_url":       api + "/followers",
		"following_url":       api + "/following{/other_user}",
		"gists_url":           api + "/gists{/gist_id}",
		"starred_url":         api + "/starred{/owner}{/repo}",
		"subscriptions_url":   api + "/subscriptions",
		"organizations_url":   api + "/orgs",
		"repos_url":           api + "/repos",
		"events_url":          api + "/events{/privacy}",
		"received_events_url": api + "/received_events",
		"type":                kind,
		"site_admin":          false,
	}
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Server) installationJSON(inst *installation) map[string]any {
	return map[string]any{
		"id":                   inst.id,
		"app_id":               s.appID,
		"app_slug":             "arc-lockdown",
		"target_id":            inst.id + 1,
		"target_type":          "Organization",
		"single_file_name":     nil,
		"repository_selection": "all",
		"access_tokens_url":    fmt.Sprintf("%s/app/installations/%d/access_tokens", s.URL, inst.id),
		"html_url":             fmt.Sprintf("https://github.com/organizations/%s/settings/installations/%d", inst.account, inst.id),
		"repositories_url":     s.URL + "/installation/repositories",
		"events":               []string{"check_run", "push", "pull_request"},
		"account":              s.simpleUser(inst.account, inst.id+1, "Organization"),
		"permissions":          appPermissions(),
		"created_at":           timestamp(inst.created),
		"updated_at":           timestamp(inst.created),
		"suspended_by":         nil,
		"suspended_at":         nil,
	}
}

// appJSON is the GitHub App (integration) object in check runs.
func (s *Server) appJSON() map[string]any {
	created := timestamp(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return map[string]any{
		"id":           s.appID,
		"slug":         "arc-lockdown",
		"node_id":      fmt.Sprintf("MDM6QXBw%d", s.appID),
		"owner":        s.simpleUser("arc-lockdown", 1, "Organization"),
		"name":         "arc-lockdown",
		"description":  nil,
		"external_url": "https://github.com/arc-lockdown",
		"html_url":     "https://github.com/apps/arc-lockdown",
		"created_at":   created,
		"updated_at":   created,
		"permissions":  appPermissions(),
		"events":       []string{"check_run", "push", "pull_request"},
	}
}

// minimalRepositoryJSON is the minimal-repository object in workflow runs.
func (s *Server) minimalRepositoryJSON(repo *repository) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/%s", s.URL, repo.owner, repo.name)
	obj := map[string]any{
		"id":          repo.id,
		"node_id":     fmt.Sprintf("MDEwOlJlcG9zaXRvcnk%d", repo.id),
		"name":        repo.name,
		"full_name":   repo.owner + "/" + repo.name,
		"owner":       s.simpleUser(repo.owner, repo.id+1, "Organization"),
		"private":     true,
		"html_url":    fmt.Sprintf("https://github.com/%s/%s", repo.owner, repo.name),
		"description": nil,
		"fork":        false,
		"url":         api,
	}
	for name, suffix := range map[string]string{
		"archive_url":       "/{archive_format}{/ref}",
		"assignees_url":     "/assignees{/user}",
		"blobs_url":         "/git/blobs{/sha}",
		"branches_url":      "/branches{/branch}",
		"collaborators_url": "/collaborators{/collaborator}",
		"comments_url":      "/comments{/number}",
		"commits_url":       "/commits{/sha}",
		"compare_url":       "/compare/{base}...{head}",
		"contents_url":      "/contents/{+path}",
		"contributors_url":  "/contributors",
		"deployments_url":   "/deployments",
		"downloads_url":     "/downloads",
		"events_url":        "/events",
		"forks_url":         "/forks",
		"git_commits_url":   "/git/commits{/sha}",
		"git_refs_url":      "/git/refs{/sha}",
		"git_tags_url":      "/git/tags{/sha}",
		"hooks_url":         "/hooks",
		"issue_comment_url": "/issues/comments{/number}",
		"issue_events_url":  "/issues/events{/number}",
		"issues_url":        "/issues{/number}",
		"keys_url":          "/keys{/key_id}",
		"labels_url":        "/labels{/name}",
		"languages_url":     "/languages",
		"merges_url":        "/merges",
		"milestones_url":    "/milestones{/number}",
		"notifications_url": "/notifications{?since,all,participating}",
		"pulls_url":         "/pulls{/number}",
		"releases_url":      "/releases{/id}",
		"stargazers_url":    "/stargazers",
		"statuses_url":      "/statuses/{sha}",
		"subscribers_url":   "/subscribers",
		"subscription_url":  "/subscription",
		"tags_url":          "/tags",
		"teams_url":         "/teams",
		"trees_url":         "/git/trees{/sha}",
	} {
		obj[name] = api + suffix
	}
	return obj
}
