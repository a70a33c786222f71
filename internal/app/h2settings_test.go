package app_test

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/app"
)

// TestRESTOverHTTP2BoundsConcurrentStreams: over TLS the REST port speaks
// HTTP/2, and a connection there carries at most as many requests at once
// as a gRPC connection does (--max-concurrent-streams, 100 by default),
// which its SETTINGS tell the client; Go's own default, 250, was neither
// set nor written down.
func TestRESTOverHTTP2BoundsConcurrentStreams(t *testing.T) {
	p := newTestPKI(t)
	srv, _ := startConfigured(t, tlsConfig(testConfig(t, ""), p))
	c, err := tls.Dial("tcp", srv.HTTPAddr(), &tls.Config{RootCAs: p.roots, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if proto := c.ConnectionState().NegotiatedProtocol; proto != "h2" {
		t.Fatalf("the REST port negotiated %q, want h2", proto)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // a bound for a loaded machine
	if _, err := io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"); err != nil {
		t.Fatal(err)
	}
	// The server's first frame is its SETTINGS.
	var head [9]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, int(head[0])<<16|int(head[1])<<8|int(head[2]))
	if _, err := io.ReadFull(c, payload); err != nil || head[3] != 0x4 {
		t.Fatalf("the server's first frame is of type %d (%v), want SETTINGS", head[3], err)
	}
	got := uint32(0) // not sent: unlimited
	for s := payload; len(s) >= 6; s = s[6:] {
		if binary.BigEndian.Uint16(s) == 0x3 { // SETTINGS_MAX_CONCURRENT_STREAMS
			got = binary.BigEndian.Uint32(s[2:])
		}
	}
	if got != app.DefaultMaxConcurrentStreams {
		t.Errorf("the REST port's SETTINGS_MAX_CONCURRENT_STREAMS = %d, want %d, as gRPC's", got, app.DefaultMaxConcurrentStreams)
	}
}
