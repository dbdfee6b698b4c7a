package accesslog

import (
	"context"
	"testing"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// startPipeline runs a Reporter and a Server on 127.0.0.1:0 until the test
// ends and returns a client connected to the server.
func startPipeline(tb testing.TB, reporter *Reporter) accesslogClient {
	tb.Helper()
	return startPipelineServer(tb, reporter, &Server{BindAddress: "127.0.0.1:0", Reporter: reporter, Metrics: reporter.metrics})
}

type (
	accesslogClient = accesslogv3.AccessLogServiceClient
	streamMessage   = accesslogv3.StreamAccessLogsMessage
)

// startPipelineServer runs reporter and server until the test ends. Their
// errors go to the test log.
func startPipelineServer(tb testing.TB, reporter *Reporter, server *Server) accesslogClient {
	tb.Helper()
	ctx := context.Background()
	if t, ok := tb.(*testing.T); ok {
		ctx = logr.NewContext(ctx, testr.NewWithOptions(t, testr.Options{Verbosity: 0}))
	}
	ctx, cancel := context.WithCancel(ctx)

	done := make(chan struct{}, 2)
	go func() {
		if err := reporter.Start(ctx); err != nil {
			tb.Errorf("reporter stopped: %v", err)
		}
		done <- struct{}{}
	}()
	go func() {
		if err := server.Start(ctx); err != nil {
			tb.Errorf("access-log server stopped: %v", err)
		}
		done <- struct{}{}
	}()

	waitCtx, waitCancel := context.WithTimeout(ctx, 10*time.Second)
	defer waitCancel()
	addr, err := server.Addr(waitCtx)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	conn, err := grpc.NewClient(addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		cancel()
		tb.Fatalf("connect to %s: %v", addr, err)
	}
	tb.Cleanup(func() {
		_ = conn.Close()
		cancel()
		<-done
		<-done
	})
	return accesslogv3.NewAccessLogServiceClient(conn)
}

// sendStream opens one stream, sends the messages and closes it.
func sendStream(ctx context.Context, client accesslogv3.AccessLogServiceClient, messages ...*accesslogv3.StreamAccessLogsMessage) error {
	stream, err := client.StreamAccessLogs(ctx)
	if err != nil {
		return err
	}
	for _, m := range messages {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	_, err = stream.CloseAndRecv()
	return err
}

// waitFor polls cond every 10 ms until it holds or the timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
