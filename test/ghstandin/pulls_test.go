package ghstandin

import (
	"context"
	"testing"

	gogithub "github.com/google/go-github/v60/github"
)

func TestStandinListsPullRequestFiles(t *testing.T) {
	s := New(t)
	id := s.AddInstallation("octo-org")
	s.SetFile("octo-org/app", "", "README.md", []byte("hello\n"))
	s.SetFile("octo-org/app", "", "docs/old.md", []byte("old\n"))
	s.SetFile("octo-org/app", "feature", ".github/egress.yaml", []byte("version: 1\nallow: []\n"))
	s.SetFile("octo-org/app", "feature", "README.md", []byte("hello\nworld\n"))
	s.DeleteFile("octo-org/app", "feature", "docs/old.md")
	number := s.OpenPullRequest("octo-org/app", "", "feature")
	// A commit on the base branch after opening is not part of the diff.
	s.SetFile("octo-org/app", "main", "LICENSE", []byte("MIT\n"))

	client := installationClient(t, s, id)
	files, _, err := client.PullRequests.ListFiles(context.Background(), "octo-org", "app", number, &gogithub.ListOptions{PerPage: 2})
	if err != nil {
		t.Fatalf("list files: %v", err)
	}
	if len(files) != 2 {
		t.Fatalf("first page has %d files, want 2", len(files))
	}
	next, _, err := client.PullRequests.ListFiles(context.Background(), "octo-org", "app", number, &gogithub.ListOptions{PerPage: 2, Page: 2})
	if err != nil {
		t.Fatalf("list files, page 2: %v", err)
	}
	files = append(files, next...)

	want := map[string]string{".github/egress.yaml": "added", "README.md": "modified", "docs/old.md": "removed"}
	if len(files) != len(want) {
		t.Fatalf("files = %d, want %d", len(files), len(want))
	}
	for _, f := range files {
		if want[f.GetFilename()] != f.GetStatus() {
			t.Errorf("file %s has status %q, want %q", f.GetFilename(), f.GetStatus(), want[f.GetFilename()])
		}
	}
	if got := len(s.RequestsTo("GET", `/pulls/\d+/files`)); got != 2 {
		t.Errorf("recorded %d requests to the files endpoint, want 2", got)
	}
}

func TestStandinPullRequestFilesNotFound(t *testing.T) {
	s := New(t)
	id := s.AddInstallation("octo-org")
	s.AddRepository("octo-org/app", "main")

	client := installationClient(t, s, id)
	_, resp, err := client.PullRequests.ListFiles(context.Background(), "octo-org", "app", 7, nil)
	if err == nil || resp == nil || resp.StatusCode != 404 {
		t.Errorf("listing files of a missing pull request: err = %v, want a 404", err)
	}
}
