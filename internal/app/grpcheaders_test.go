package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// A gRPC call's metadata on the public port is bounded as an HTTP
// request's headers are (64 KiB). It was grpc-go's default, 16 MiB a call:
// a client with no token kept 8 MiB of padding in the server's memory for
// as long as each health watch it held open, 1,024 of them in all. The
// server says its bound in its SETTINGS (grpc-go's client then refuses to
// send more) and enforces it on a client that sends more regardless: the
// stream is reset before any handler runs.
func TestGRPCMetadataIsBounded(t *testing.T) {
	ts := startServer(t, "")
	cc, err := grpc.NewClient(ts.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound for a loaded machine
	defer cancel()
	padded := metadata.AppendToOutgoingContext(ctx, "x-pad", strings.Repeat("a", 1<<20))
	st, err := healthpb.NewHealthClient(cc).Watch(padded, &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = st.Recv()
	}
	if err == nil {
		t.Error("a health watch with 1 MiB of metadata was served")
	} else {
		wantCode(t, err, codes.Internal) // grpc-go's client, told the server's bound
	}
	// Metadata well within the bound still passes.
	small := metadata.AppendToOutgoingContext(ctx, "x-pad", strings.Repeat("a", 16<<10))
	if _, err := healthpb.NewHealthClient(cc).Check(small, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("a health check with 16 KiB of metadata: %v", err)
	}

	// A client that ignores the bound is refused by the server itself:
	// 1 MiB of headers, 1 KiB each, and one of 1 MiB (the stream reset,
	// or the connection closed).
	for _, c := range []struct{ headers, size int }{{1 << 10, 1 << 10}, {1, 1 << 20}} {
		if rawH2Check(t, ts.GRPCAddr(), c.headers, c.size) {
			t.Errorf("%d headers of %d bytes sent regardless were served", c.headers, c.size)
		}
	}
	if !rawH2Check(t, ts.GRPCAddr(), 1, 1<<10) {
		t.Error("a health check with a header of 1 KiB over a bare connection was not served")
	}
}

// rawH2Check sends a health Check with n more headers of size bytes over a
// bare HTTP/2 connection, as a client that reads no SETTINGS would, and
// says whether the server served it: its first frame on the stream is the
// answer's HEADERS, rather than a RST_STREAM, a GOAWAY or the connection
// closed.
func rawH2Check(t *testing.T, addr string, n, size int) (served bool) {
	t.Helper()
	h := dialH2(t, addr)
	var fields [][2]string
	for i := range n {
		fields = append(fields, [2]string{fmt.Sprintf("x-pad-%d", i), strings.Repeat("a", size)})
	}
	if err := h.headers(1, "/grpc.health.v1.Health/Check", true, fields...); err != nil {
		return false // the server closed the connection while we wrote
	}
	typ, _, ok := h.next(t, 1)
	return ok && typ == h2FrameHeaders
}
