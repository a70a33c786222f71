package httpapi

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// exhausted answers every call with RESOURCE_EXHAUSTED: with a RetryInfo
// of 2.5 s for units/slow, without one otherwise, and on a stream.
type exhausted struct {
	pb.UnimplementedUnitServiceServer
	pb.UnimplementedCaseProcessServiceServer
}

func (exhausted) GetUnit(_ context.Context, req *pb.GetUnitRequest) (*pb.Unit, error) {
	st := status.New(codes.ResourceExhausted, "exhausted")
	if req.GetName() == "units/slow" {
		st, _ = st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(2500 * time.Millisecond)})
	}
	return nil, st.Err()
}

func (exhausted) WatchEvents(*pb.WatchEventsRequest, grpc.ServerStreamingServer[pb.Notification]) error {
	return status.Error(codes.ResourceExhausted, "too many streams")
}

// Every 429 says when to retry: the RetryInfo's delay rounded up, or the
// default when the error gives none, on unary and streaming routes alike.
func TestEvery429HasRetryAfter(t *testing.T) {
	lis := bufconn.Listen(1 << 16)
	gs := grpc.NewServer()
	pb.RegisterUnitServiceServer(gs, exhausted{})
	pb.RegisterCaseProcessServiceServer(gs, exhausted{})
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h, err := NewHandler(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{"/v1/units/slow", "3"},
		{"/v1/units/full", "60"},
		{"/v1/notifications:watch", "60"},
	} {
		rec := serve(h, "GET", tt.path, nil)
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != tt.want {
			t.Errorf("GET %s: %d, Retry-After %q; want 429, %q", tt.path, rec.Code, rec.Header().Get("Retry-After"), tt.want)
		}
	}
}
