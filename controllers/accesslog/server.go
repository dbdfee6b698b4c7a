package accesslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"github.com/go-logr/logr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// DefaultBindAddress is the address the access-log server listens on when
// --access-log-bind-address is not set.
const DefaultBindAddress = ":9977"

// maxMessageBytes bounds one StreamAccessLogsMessage. Envoy flushes its
// buffer at 16 KiB by default (buffer_size_bytes), so 4 MiB leaves ample
// room while keeping a hostile client from making the server allocate more.
const maxMessageBytes = 4 << 20

// maxStreams bounds concurrent access-log streams: one per sidecar and
// gateway Envoy that reports to this controller.
const maxStreams = 10000

// shutdownGrace is how long Start waits for streams to end on shutdown
// before closing them.
const shutdownGrace = 5 * time.Second

// Server is the gRPC Access Log Service that Envoys stream to. It
// classifies each entry and hands it to a Reporter.
type Server struct {
	accesslogv3.UnimplementedAccessLogServiceServer

	// BindAddress is the TCP address to listen on, for example ":9977" or
	// "127.0.0.1:0".
	BindAddress string
	// Reporter receives the classified entries.
	Reporter *Reporter
	// Metrics counts streams that send no identifier.
	Metrics *Metrics
	// Clock returns the arrival time of entries; nil means time.Now.
	Clock func() time.Time

	mu       sync.Mutex
	listener net.Listener
	ready    chan struct{}
}

// Addr returns the address the server listens on once Start has bound it,
// waiting up to ctx's deadline. Tests that bind to port 0 use it.
func (s *Server) Addr(ctx context.Context) (net.Addr, error) {
	select {
	case <-s.readyChan():
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.listener.Addr(), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the access-log server to listen on %s: %w", s.BindAddress, ctx.Err())
	}
}

func (s *Server) readyChan() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready == nil {
		s.ready = make(chan struct{})
	}
	return s.ready
}

// Start listens on BindAddress and serves until ctx ends. It implements
// manager.Runnable.
func (s *Server) Start(ctx context.Context) error {
	log := logr.FromContextOrDiscard(ctx).WithName("accesslog")
	listener, err := net.Listen("tcp", s.BindAddress)
	if err != nil {
		return fmt.Errorf("listen for Envoy access logs on %s (flag --access-log-bind-address): %w", s.BindAddress, err)
	}
	ready := s.readyChan()
	s.mu.Lock()
	s.listener = listener
	s.mu.Unlock()
	close(ready)

	server := grpc.NewServer(
		grpc.MaxRecvMsgSize(maxMessageBytes),
		grpc.MaxConcurrentStreams(maxStreams),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	accesslogv3.RegisterAccessLogServiceServer(server, s)

	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		stopped := make(chan struct{})
		go func() {
			server.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-time.After(shutdownGrace):
			server.Stop()
		}
	}()

	log.Info("Serving Envoy access logs", "address", listener.Addr().String())
	err = server.Serve(listener)
	<-done
	if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serve Envoy access logs on %s: %w", s.BindAddress, err)
	}
	log.Info("Stopped serving Envoy access logs")
	return nil
}

// NeedLeaderElection reports true: only the replica whose Reporter writes
// check runs accepts access logs.
//
// NOTE: other replicas do not listen, so Envoy's connection attempts to
// them fail until the Service routes it to the leader; run one replica, or
// expect a short gap in feedback after a leader change.
func (s *Server) NeedLeaderElection() bool { return true }

// StreamAccessLogs implements the AccessLogService. The identifier in the
// first message names the Envoy; later messages omit it.
func (s *Server) StreamAccessLogs(stream grpc.ClientStreamingServer[accesslogv3.StreamAccessLogsMessage, accesslogv3.StreamAccessLogsResponse]) error {
	now := s.Clock
	if now == nil {
		now = time.Now
	}
	var source Stream
	first := true
	for {
		msg, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return stream.SendAndClose(&accesslogv3.StreamAccessLogsResponse{})
			}
			if errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled {
				return nil
			}
			return err
		}
		if first {
			id := msg.GetIdentifier()
			if id == nil {
				s.Metrics.drop(DropInvalidStream)
				return status.Error(codes.InvalidArgument, "the first StreamAccessLogsMessage of a stream must carry an identifier with the Envoy node")
			}
			source = ParseStream(id.GetNode(), id.GetLogName())
			first = false
		}

		arrived := now()
		for _, e := range msg.GetHttpLogs().GetLogEntry() {
			if entry, ok := ClassifyHTTP(source, e, arrived); ok {
				s.Reporter.Submit(entry)
			}
		}
		for _, e := range msg.GetTcpLogs().GetLogEntry() {
			if entry, ok := ClassifyTCP(source, e, arrived); ok {
				s.Reporter.Submit(entry)
			}
		}
	}
}
