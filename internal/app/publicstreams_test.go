package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// The streams that need no token (the health check's Watch, reflection)
// count too: a client address may hold grpcapi.PublicStreamsPerAddress of
// them open at once. They were not counted at all: one client with no
// token held 6,000 health watches open over 60 connections, 100 MB of the
// server's memory, and nothing stopped it at 60,000. The cap is the
// address's, not the connection's, and closing one makes room again.
func TestPublicStreamsAreCappedPerAddress(t *testing.T) {
	ts := startServer(t, "")
	var conns []*grpc.ClientConn
	dial := func() healthpb.HealthClient {
		cc, err := grpc.NewClient(ts.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, cc)
		return healthpb.NewHealthClient(cc)
	}
	defer func() {
		for _, cc := range conns {
			cc.Close()
		}
	}()
	watch := func(h healthpb.HealthClient) (context.CancelFunc, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		st, err := h.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err == nil {
			_, err = st.Recv()
		}
		if err != nil {
			cancel()
		}
		return cancel, err
	}
	var cancels []context.CancelFunc
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	for i := 0; i < grpcapi.PublicStreamsPerAddress; i++ {
		// Spread over connections: the cap is not grpc-go's per connection.
		cancel, err := watch(dial())
		if err != nil {
			t.Fatalf("health watch %d of %d: %v", i+1, grpcapi.PublicStreamsPerAddress, err)
		}
		cancels = append(cancels, cancel)
	}
	_, err := watch(dial())
	st := wantCode(t, err, codes.ResourceExhausted)
	if errorReason(st) != grpcapi.ReasonTooManyStreams || !strings.Contains(st.Message(), "at once") {
		t.Errorf("the health watch over the cap: reason %q, message %q", errorReason(st), st.Message())
	}
	// The health check itself, a unary call, still answers.
	if _, err := dial().Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health check while the watches are full: %v", err)
	}
	// Closing one makes room again, once its handler has returned.
	cancels[0]()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cancel, err := watch(dial())
		if err == nil {
			cancels = append(cancels, cancel)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no room after closing a health watch: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
