package github

import (
	"context"
	"testing"

	"github.com/arc-lockdown/arc-lockdown/test/ghstandin"
)

func TestForgetInstallationLooksItUpAgain(t *testing.T) {
	s := ghstandin.New(t)
	id := s.AddInstallation("octo-org")
	s.AddRepository("octo-org/app", "main")
	cs, _ := newTestClientSet(t, s, nil)
	scope := mustScope(t, "https://github.com/octo-org/app")
	lookups := func() int { return len(s.RequestsTo("GET", `^/repos/octo-org/app/installation$`)) }

	first, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.For(context.Background(), scope); err != nil {
		t.Fatal(err)
	}
	if got := lookups(); got != 1 {
		t.Fatalf("installation lookups before forgetting = %d, want 1", got)
	}

	cs.ForgetInstallation(id + 1)
	if _, err := cs.For(context.Background(), scope); err != nil {
		t.Fatal(err)
	}
	if got := lookups(); got != 1 {
		t.Errorf("forgetting another installation caused a lookup: %d, want 1", got)
	}

	cs.ForgetInstallation(id)
	again, err := cs.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	if got := lookups(); got != 2 {
		t.Errorf("installation lookups after forgetting = %d, want 2", got)
	}
	if again == first {
		t.Error("For returned the forgotten client")
	}
}
