package grpcapi

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// ParseTrustedProxies reads comma-separated CIDRs (a bare address is one
// host) of reverse proxies whose X-Forwarded-For may name the client.
func ParseTrustedProxies(cidrs string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for c := range strings.SplitSeq(cidrs, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR (like 10.0.0.0/8) or an IP address", c)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// clientAddr names the client for the sign-in throttle and its audit: the
// IP address of the connection's peer or, when that peer is a trusted
// proxy, the address the proxy saw, read from x-forwarded-for right to
// left past every trusted proxy. Entries left of the first untrusted one
// are the client's own say and are ignored.
//
// Behind the in-process gateway the peer is the in-memory link; the
// gateway itself appends the HTTP connection's address to whatever
// X-Forwarded-For the request carried (and refuses Grpc-Metadata-X-
// Forwarded-For), so there the last entry is the peer.
func (a *authenticator) clientAddr(ctx context.Context) string {
	var hops []string
	md, _ := metadata.FromIncomingContext(ctx)
	if a.gateway || len(a.trusted) > 0 {
		for _, v := range md.Get("x-forwarded-for") {
			for h := range strings.SplitSeq(v, ",") {
				hops = append(hops, strings.TrimSpace(h))
			}
		}
	}
	switch {
	case !a.gateway:
		hops = append(hops, peerAddr(ctx))
	case len(hops) == 0:
		return "gateway"
	}
	i := len(hops) - 1
	for i > 0 && a.isTrusted(hops[i]) {
		if _, ok := parseHop(hops[i-1]); !ok {
			break // a trusted proxy passed on garbage: the proxy is the client
		}
		i--
	}
	if addr, ok := parseHop(hops[i]); ok {
		return addr.String()
	}
	return hops[i]
}

func (a *authenticator) isTrusted(hop string) bool {
	addr, ok := parseHop(hop)
	if !ok {
		return false
	}
	for _, p := range a.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseHop reads one x-forwarded-for entry: an IP address, with a port or
// not.
func parseHop(h string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
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
