package grpcapi

import (
	"context"
	"strconv"
	"testing"

	"google.golang.org/grpc/metadata"
)

// A call's id, token and forwarding hops are read from its metadata one
// header at a time: every call copied the whole metadata, keys lowered,
// once for each (a map and a slice per header, some 2% of a lone
// GetCase's CPU), so that a call that sends more headers cost more.
func TestACallsHeadersAreReadWithoutCopyingItsMetadata(t *testing.T) {
	a := &authenticator{gateway: true}
	allocs := func(headers int) float64 {
		md := metadata.Pairs("authorization", "Bearer cc_x.y", InputRefusedHeader, "no")
		for i := range headers {
			md.Append("x-other-"+strconv.Itoa(i), "value")
		}
		ctx := metadata.NewIncomingContext(context.Background(), md)
		return testing.AllocsPerRun(100, func() {
			withRequestID(ctx)
			bearerToken(ctx)
			a.inputRefused(ctx)
			a.clientAddr(ctx)
		})
	}
	few, many := allocs(0), allocs(30)
	if many > few {
		t.Errorf("reading a call's headers allocates %v times with 2 headers and %v with 32: it copies the metadata", few, many)
	}
}
