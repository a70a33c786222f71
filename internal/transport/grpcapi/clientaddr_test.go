package grpcapi

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/childcase/childcase/internal/transport/clientaddr"
)

// The client is the connection's peer unless that peer is a trusted
// proxy; then the x-forwarded-for entries are read right to left past
// every trusted proxy. Behind the gateway the last entry is the HTTP peer
// the gateway appended.
func TestClientAddr(t *testing.T) {
	trusted, err := clientaddr.ParseTrustedProxies("10.0.0.0/8, 192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 4242} }
	tests := []struct {
		name    string
		gateway bool
		trusted bool
		peer    net.Addr
		xff     []string
		want    string
	}{
		{"peer, no proxies", false, false, tcp("198.51.100.1"), nil, "198.51.100.1"},
		{"x-forwarded-for from a client, no proxies", false, false, tcp("198.51.100.1"), []string{"203.0.113.9"}, "198.51.100.1"},
		{"x-forwarded-for from an untrusted peer", false, true, tcp("198.51.100.1"), []string{"203.0.113.9"}, "198.51.100.1"},
		{"a trusted proxy", false, true, tcp("10.1.2.3"), []string{"203.0.113.9"}, "203.0.113.9"},
		{"two trusted proxies", false, true, tcp("10.1.2.3"), []string{"203.0.113.9, 192.0.2.1"}, "203.0.113.9"},
		{"a forged entry left of the client", false, true, tcp("10.1.2.3"), []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9"},
		{"entries in two values", false, true, tcp("10.1.2.3"), []string{"1.1.1.1", "203.0.113.9"}, "203.0.113.9"},
		{"a trusted proxy that passes garbage", false, true, tcp("10.1.2.3"), []string{"nonsense"}, "10.1.2.3"},
		{"a port on the entry", false, true, tcp("10.1.2.3"), []string{"203.0.113.9:5555"}, "203.0.113.9"},
		{"IPv6", false, true, tcp("10.1.2.3"), []string{"2001:db8::1"}, "2001:db8::1"},
		{"an IPv4-mapped peer", false, false, tcp("::ffff:198.51.100.1"), nil, "198.51.100.1"},
		{"gateway, no proxies: the HTTP peer", true, false, nil, []string{"203.0.113.9, 198.51.100.1"}, "198.51.100.1"},
		{"gateway behind a trusted proxy", true, true, nil, []string{"1.1.1.1, 203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
		{"gateway without x-forwarded-for", true, false, nil, nil, "gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &authenticator{gateway: tt.gateway}
			if tt.trusted {
				a.trusted = trusted
			}
			ctx := context.Background()
			if tt.peer != nil {
				ctx = peer.NewContext(ctx, &peer.Peer{Addr: tt.peer})
			}
			md := metadata.MD{}
			for _, v := range tt.xff {
				md.Append("x-forwarded-for", v)
			}
			ctx = metadata.NewIncomingContext(ctx, md)
			if got := a.clientAddr(ctx); got != tt.want {
				t.Errorf("clientAddr = %q, want %q", got, tt.want)
			}
		})
	}
}
