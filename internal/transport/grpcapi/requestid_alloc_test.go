package grpcapi

import (
	"context"
	"net"
	"strconv"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
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

// A call's client address is resolved once and kept on its request line:
// its log line asked for it when the call started and when it finished,
// and its authentication in between, each reading the peer and the
// forwarding hops again (some 4% of a lone GetCase's handler CPU, with
// the logging middleware's merging of its fields around it).
func TestACallsClientAddressIsResolvedOnce(t *testing.T) {
	a := &authenticator{}
	base := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 4711}})
	var got [3]string
	once := testing.AllocsPerRun(100, func() {
		got[0] = a.clientAddr(withRequestLine(base))
	})
	thrice := testing.AllocsPerRun(100, func() {
		ctx := withRequestLine(base)
		for i := range got {
			got[i] = a.clientAddr(ctx)
		}
	})
	if thrice != once {
		t.Errorf("asking a call for its client address three times allocates %v times, once %v: it is resolved at every ask", thrice, once)
	}
	for _, g := range got {
		if g != "192.0.2.7" {
			t.Errorf("client address %q, want 192.0.2.7", g)
		}
	}
}
