// Package clientaddr names the client of a request that may have come
// through reverse proxies. The gRPC API and the console both audit and
// throttle by it, so they read it here, the one way: the connection's peer
// or, when that peer is a trusted proxy, the address the proxy saw, read
// from X-Forwarded-For right to left past every trusted proxy. Entries
// left of the first untrusted one are the client's own say and are
// ignored.
package clientaddr

import (
	"fmt"
	"net/netip"
	"strings"
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

// Hops splits X-Forwarded-For values (a header or metadata key may come
// more than once) into their entries, in order.
func Hops(values []string) []string {
	var hops []string
	for _, v := range values {
		for h := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	return hops
}

// Resolve names the client of a request whose hops are the X-Forwarded-For
// entries in order followed by the connection's peer: the last hop, or,
// while that hop is a trusted proxy, the one left of it. A trusted proxy
// that passed on garbage is itself the client. An address is answered
// in its canonical form; no hops is "".
func Resolve(hops []string, trusted []netip.Prefix) string {
	if len(hops) == 0 {
		return ""
	}
	i := len(hops) - 1
	for i > 0 && isTrusted(hops[i], trusted) {
		if _, ok := parseHop(hops[i-1]); !ok {
			break
		}
		i--
	}
	if addr, ok := parseHop(hops[i]); ok {
		return addr.String()
	}
	return hops[i]
}

func isTrusted(hop string, trusted []netip.Prefix) bool {
	addr, ok := parseHop(hop)
	if !ok {
		return false
	}
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseHop reads one X-Forwarded-For entry: an IP address, with a port or
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

// ThrottleKey is what the sign-in throttle counts a client's failures
// under: its address, or, for an IPv6 address, its /64. One IPv6
// connection holds a /64 (a home, an office, a server gets one; privacy
// addresses change within it every day), so a client could take a fresh
// address, and a fresh allowance, at will; 2^64 allowances are none. The
// audit still names the whole address. An IPv4 address mapped into IPv6
// (::ffff:203.0.113.7, as a dual-stack proxy may write it) is the IPv4
// address it maps, the same client either way. A client that is no
// address (a garbled hop of a trusted proxy) is its own key.
func ThrottleKey(client string) string {
	addr, err := netip.ParseAddr(client)
	switch {
	case err != nil:
		return client
	case addr.Is4In6():
		return addr.Unmap().String()
	case !addr.Is6():
		return client
	}
	p, err := addr.WithZone("").Prefix(64)
	if err != nil {
		return client // not reached: every IPv6 address has a /64
	}
	return p.String()
}
