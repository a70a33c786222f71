package grpcapi

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/childcase/childcase/internal/domain/clock"
)

// Calls one after the other are served by the server's standing workers,
// not each by a goroutine started for it: a new goroutine begins with a
// small stack, and a read's handler, under a dozen interceptors with the
// case passed by value, grew it by copying at every call (a lone
// GetCase's profile put some 8% of its handler's CPU in runtime.newstack).
func TestSequentialCallsAreServedByStandingWorkers(t *testing.T) {
	var mu sync.Mutex
	served, noted := map[uint64]bool{}, 0
	note := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		mu.Lock()
		served[goroutineID(t)] = true
		noted++
		mu.Unlock()
		return next(ctx, req)
	}
	health := serveHealth(t, grpc.ChainUnaryInterceptor(note))
	const calls = 40
	for range calls {
		if _, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// A call the interceptor never saw would leave nothing to count, and
	// the check below would pass whoever served it.
	if noted != calls {
		t.Fatalf("the interceptor saw %d of %d calls", noted, calls)
	}
	if workers := streamWorkers(); len(served) > workers {
		t.Errorf("%d calls one after the other ran on %d goroutines; the server keeps %d workers", calls, len(served), workers)
	}
}

// goroutineID reads the id of the calling goroutine from the first line
// of its stack ("goroutine 42 [running]:").
func goroutineID(t *testing.T) uint64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	fields := bytes.Fields(buf)
	if len(fields) < 2 {
		t.Fatalf("a stack that names no goroutine: %q", buf)
	}
	id, err := strconv.ParseUint(string(fields[1]), 10, 64)
	if err != nil {
		t.Fatalf("a stack that names no goroutine: %q", buf)
	}
	return id
}

// A stream holds the worker that took it for as long as it runs: a
// client's watches can hold every worker, and a call that then finds none
// idle is served at once by a goroutine of its own, never queued behind
// the watches (grpc-go falls back when no worker takes the call). Here
// one more health watch than the server keeps workers is open, each seen
// running, and calls one after the other are still answered.
func TestCallsAreServedWhileWatchesHoldEveryWorker(t *testing.T) {
	health := serveHealth(t)
	watching, stop := context.WithCancel(t.Context())
	defer stop()
	for i := range streamWorkers() + 1 {
		w, err := health.Watch(watching, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		// Its first answer says its handler runs, on a worker or, once
		// all are held, on a goroutine of its own.
		if _, err := w.Recv(); err != nil {
			t.Fatalf("watch %d: %v", i+1, err)
		}
	}
	for i := range 10 {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		_, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err != nil {
			t.Fatalf("call %d, with %d watches open on %d workers: %v", i+1, streamWorkers()+1, streamWorkers(), err)
		}
	}
}

// serveHealth starts a server of this package with opts on a loopback
// port, stopped at the test's end, and returns a client of its health
// service.
func serveHealth(t *testing.T, opts ...grpc.ServerOption) healthpb.HealthClient {
	t.Helper()
	s, err := NewServer(Deps{Log: slog.New(slog.DiscardHandler), Clock: clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}
