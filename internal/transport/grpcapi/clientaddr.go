package grpcapi

import (
	"context"
	"net"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/childcase/childcase/internal/transport/clientaddr"
)

// clientAddr names the client for the sign-in throttle and its audit, as
// clientaddr.Resolve reads it from the connection's peer and its
// x-forwarded-for.
//
// Behind the in-process gateway the peer is the in-memory link; the
// gateway itself appends the HTTP connection's address to whatever
// X-Forwarded-For the request carried (and refuses Grpc-Metadata-X-
// Forwarded-For), and the console sends the client it named the same way,
// so there the last entry is the peer.
//
// A call asks three times (its log line's fields when it starts and when
// it finishes, and its authentication): within a call served (one with a
// request line) the first answer is kept on the line and given again,
// since neither the peer nor the metadata changes during a call.
func (a *authenticator) clientAddr(ctx context.Context) string {
	l := requestLineFrom(ctx)
	if l == nil {
		return a.resolveClientAddr(ctx)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.clientKnown {
		l.client, l.clientKnown = a.resolveClientAddr(ctx), true
	}
	return l.client
}

// resolveClientAddr is clientAddr, read from the call every time.
func (a *authenticator) resolveClientAddr(ctx context.Context) string {
	var hops []string
	if a.gateway || len(a.trusted) > 0 {
		hops = clientaddr.Hops(metadata.ValueFromIncomingContext(ctx, "x-forwarded-for"))
	}
	switch {
	case !a.gateway:
		hops = append(hops, peerAddr(ctx))
	case len(hops) == 0:
		return "gateway"
	}
	return clientaddr.Resolve(hops, a.trusted)
}

func peerAddr(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "unknown"
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		return p.Addr.String()
	}
	return host
}
