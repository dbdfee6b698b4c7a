package github

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

func TestListPullRequestFilesFollowsPages(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	var want []string
	for i := range 120 {
		path := fmt.Sprintf("src/file%03d.go", i)
		s.SetFile("octo-org/app", "feature", path, []byte("package src\n"))
		want = append(want, path)
	}
	s.SetFile("octo-org/app", "feature", EgressConfigPath, []byte("version: 1\n"))
	want = append(want, EgressConfigPath)
	number := s.OpenPullRequest("octo-org/app", "", "feature")

	cs, _ := newTestClientSet(t, s, nil)
	client, err := cs.For(context.Background(), mustScope(t, "https://github.com/octo-org/app"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.ListPullRequestFiles(context.Background(), "octo-org", "app", number)
	if err != nil {
		t.Fatalf("ListPullRequestFiles: %v", err)
	}

	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("files = %d paths, want %d; first %v", len(got), len(want), got[:min(3, len(got))])
	}
	if n := len(s.RequestsTo("GET", `/pulls/\d+/files`)); n != 2 {
		t.Errorf("requests to the files endpoint = %d, want 2 pages of 100", n)
	}
}

func TestListPullRequestFilesNotFound(t *testing.T) {
	s := ghstandin.New(t)
	s.AddInstallation("octo-org")
	s.AddRepository("octo-org/app", "main")

	cs, _ := newTestClientSet(t, s, nil)
	client, err := cs.For(context.Background(), mustScope(t, "https://github.com/octo-org/app"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.ListPullRequestFiles(context.Background(), "octo-org", "app", 9); err == nil {
		t.Error("ListPullRequestFiles of a missing pull request returned no error")
	}
}
