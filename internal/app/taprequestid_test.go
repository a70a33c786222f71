package app_test

import (
	"context"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// requestInfoOf returns the request id a refusal's RequestInfo names, or "".
func requestInfoOf(st *status.Status) string {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RequestInfo); ok {
			return ri.GetRequestId()
		}
	}
	return ""
}

// TestTapRefusalCarriesItsRequestID: a call refused by the tap (no token
// of a token's form, before its message is read) was logged and audited
// under a request id its client never saw: a refusal after the message
// echoes it in the x-request-id header, but grpc-go answers a tap's
// refusal with the status alone and no metadata of ours. The id now
// rides in the status, as a google.rpc.RequestInfo in the trailer
// grpc-status-details-bin: the caller's own when it gave one, else the
// one the "finished call" line names.
func TestTapRefusalCarriesItsRequestID(t *testing.T) {
	ts, lines := launchLogged(t)
	lines.take(t)
	bare := pb.NewCaseServiceClient(dialGRPC(t, ts.GRPCAddr(), insecure.NewCredentials()))
	call := func(md ...string) (*status.Status, metadata.MD) {
		ctx := metadata.AppendToOutgoingContext(context.Background(), md...)
		var header metadata.MD
		_, err := bare.GetCase(ctx, &pb.GetCaseRequest{Name: "cases/HN-2026-00001"}, grpc.Header(&header))
		return status.Convert(err), header
	}

	st, _ := call("x-request-id", "tap-refused-1")
	if got := requestInfoOf(st); got != "tap-refused-1" {
		t.Errorf("a tap refusal of a call with x-request-id tap-refused-1 carries request id %q (%v), want tap-refused-1", got, st.Proto())
	}
	lines.take(t)

	st, _ = call()
	logged := lines.take(t)
	if len(logged) != 1 {
		t.Fatalf("%d log lines, want 1: %v", len(logged), logged)
	}
	id, _ := logged[0]["request_id"].(string)
	if id == "" {
		t.Fatalf("the finished call's line names no request id: %v", logged[0])
	}
	if got := requestInfoOf(st); got != id {
		t.Errorf("a tap refusal without x-request-id carries request id %q, want %q, the one it was logged under", got, id)
	}
}
