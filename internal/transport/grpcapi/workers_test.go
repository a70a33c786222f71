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
	served := map[uint64]bool{}
	note := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		mu.Lock()
		served[goroutineID(t)] = true
		mu.Unlock()
		return next(ctx, req)
	}
	s, err := NewServer(Deps{Log: slog.New(slog.DiscardHandler), Clock: clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))},
		grpc.ChainUnaryInterceptor(note))
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
	health := healthpb.NewHealthClient(conn)
	const calls = 40
	for range calls {
		if _, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
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
