package webhook

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Server defaults.
const (
	// DefaultBindAddress is where the webhook endpoint listens.
	DefaultBindAddress = ":9443"
	// Path is the URL path of the endpoint; the GitHub App's webhook URL
	// ends with it.
	Path = "/webhook"

	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 15 * time.Second
	idleTimeout       = 60 * time.Second
	shutdownTimeout   = 10 * time.Second
)

// ServerConfig is the controller's webhook configuration, set from flags.
type ServerConfig struct {
	// BindAddress is the TCP address the endpoint listens on. Empty
	// disables the endpoint.
	BindAddress string
	// SecretFile is the file holding the GitHub App's webhook secret.
	// Surrounding white space, such as a trailing newline, is ignored.
	SecretFile string
}

// BindFlags registers --webhook-bind-address and --webhook-secret-file.
func (c *ServerConfig) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.BindAddress, "webhook-bind-address", DefaultBindAddress,
		"TCP address of the GitHub webhook endpoint (path "+Path+"); empty disables it")
	fs.StringVar(&c.SecretFile, "webhook-secret-file", "",
		"file holding the GitHub App's webhook secret; required when the endpoint is enabled")
}

// ReadSecret reads the webhook secret from SecretFile. It returns an error
// when the file is unset, unreadable or empty.
func (c *ServerConfig) ReadSecret() ([]byte, error) {
	if c.SecretFile == "" {
		return nil, errors.New("--webhook-secret-file is not set: point it at the GitHub App's webhook secret, or disable the endpoint with --webhook-bind-address=\"\"")
	}
	data, err := os.ReadFile(c.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("read webhook secret: %w", err)
	}
	secret := bytes.TrimSpace(data)
	if len(secret) == 0 {
		return nil, fmt.Errorf("webhook secret file %s is empty: write the GitHub App's webhook secret into it", c.SecretFile)
	}
	return secret, nil
}

// Server serves a Handler on BindAddress under Path. It implements
// manager.Runnable, so the controller manager starts and stops it.
type Server struct {
	addr    string
	handler *Handler

	listening chan net.Addr
}

var (
	_ manager.Runnable               = (*Server)(nil)
	_ manager.LeaderElectionRunnable = (*Server)(nil)
)

// NewServer returns a Server for handler on addr.
func NewServer(addr string, handler *Handler) (*Server, error) {
	if addr == "" {
		return nil, errors.New("webhook bind address is empty")
	}
	if handler == nil {
		return nil, errors.New("webhook handler is nil")
	}
	return &Server{addr: addr, handler: handler, listening: make(chan net.Addr, 1)}, nil
}

// NeedLeaderElection returns true, so that only the leader listens: the
// Trigger's events reach the scale-set reconciler of the same process,
// which runs on the leader only.
func (s *Server) NeedLeaderElection() bool {
	return true
}

// Addr waits until the server listens and returns its address, or nil when
// ctx ends first.
func (s *Server) Addr(ctx context.Context) net.Addr {
	select {
	case addr := <-s.listening:
		s.listening <- addr
		return addr
	case <-ctx.Done():
		return nil
	}
}

// Start listens and serves until ctx ends, then shuts down gracefully and
// waits for the background pull-request checks.
func (s *Server) Start(ctx context.Context) error {
	log := logr.FromContextOrDiscard(ctx).WithName("webhook")
	ctx = logr.NewContext(ctx, log)

	listener, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen for GitHub webhooks on %s: %w", s.addr, err)
	}
	s.handler.setBase(ctx)

	mux := http.NewServeMux()
	mux.Handle(Path, s.handler)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}

	errs := make(chan error, 1)
	go func() { errs <- srv.Serve(listener) }()
	log.Info("Serving GitHub webhooks", "address", listener.Addr().String(), "path", Path)
	s.listening <- listener.Addr()

	select {
	case err := <-errs:
		return fmt.Errorf("serve GitHub webhooks on %s: %w", s.addr, err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	s.handler.WaitForChecks()
	log.Info("Stopped serving GitHub webhooks")
	if err != nil {
		return fmt.Errorf("shut down the webhook server: %w", err)
	}
	return nil
}
