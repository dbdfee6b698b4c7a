package webhook

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestServerConfigFlagsAndSecret(t *testing.T) {
	var cfg ServerConfig
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	cfg.BindFlags(fs)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := fs.Parse([]string{"--webhook-secret-file", secretFile}); err != nil {
		t.Fatal(err)
	}
	if cfg.BindAddress != DefaultBindAddress {
		t.Errorf("bind address = %q, want %q", cfg.BindAddress, DefaultBindAddress)
	}
	secret, err := cfg.ReadSecret()
	if err != nil {
		t.Fatal(err)
	}
	if string(secret) != testSecret {
		t.Errorf("secret = %q, want it without the trailing newline", secret)
	}

	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"", empty, filepath.Join(dir, "missing")} {
		cfg.SecretFile = file
		if _, err := cfg.ReadSecret(); err == nil {
			t.Errorf("ReadSecret with file %q returned no error", file)
		}
	}
}

func TestServerServesPathAndStops(t *testing.T) {
	h, err := NewHandler(Options{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()

	waitCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	addr := srv.Addr(waitCtx)
	if addr == nil {
		cancel()
		t.Fatal("server did not listen")
	}
	for path, want := range map[string]int{Path: http.StatusMethodNotAllowed, "/other": http.StatusNotFound} {
		resp, err := http.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: status = %d, want %d", path, resp.StatusCode, want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Start returned %v after the context ended", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop")
	}
	if !srv.NeedLeaderElection() {
		t.Error("the server must run on the leader only")
	}
}
