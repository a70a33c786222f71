package app_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
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
	// 1 MiB of headers, 1 KiB each, and one of 1 MiB.
	for _, c := range []struct{ headers, size int }{{1 << 10, 1 << 10}, {1, 1 << 20}} {
		if rawH2Check(t, ts.GRPCAddr(), c.headers, c.size) {
			t.Errorf("%d headers of %d bytes sent regardless were served", c.headers, c.size)
		}
	}
	if !rawH2Check(t, ts.GRPCAddr(), 1, 1<<10) {
		t.Error("a health check with a header of 1 KiB over a bare connection was not served")
	}
}

const (
	h2FrameHeaders      = 0x1
	h2FrameContinuation = 0x9
)

// rawH2Check sends a health Check with n more headers of size bytes over a
// bare HTTP/2 connection, as a client that reads no SETTINGS would, and
// says whether the server served it: its first frame on the stream is the
// answer's HEADERS, rather than a RST_STREAM, a GOAWAY or the connection
// closed.
func rawH2Check(t *testing.T, addr string, n, size int) (served bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a bound, not an assertion
	w := bufio.NewWriter(c)
	w.WriteString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	writeH2Frame(w, 0x4, 0, 0, nil) // our SETTINGS: the defaults
	fields := [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", "/grpc.health.v1.Health/Check"},
		{":authority", addr}, {"content-type", "application/grpc"}, {"te", "trailers"},
	}
	for i := range n {
		fields = append(fields, [2]string{fmt.Sprintf("x-pad-%d", i), strings.Repeat("a", size)})
	}
	var block []byte
	for _, f := range fields {
		block = append(block, 0x00) // a literal, not indexed, no Huffman
		block = hpackString(block, f[0])
		block = hpackString(block, f[1])
	}
	const maxFrame = 16 << 10                     // the default SETTINGS_MAX_FRAME_SIZE
	typ, flags := byte(h2FrameHeaders), byte(0x1) // END_STREAM: an empty request
	for len(block) > 0 {
		n := min(len(block), maxFrame)
		if n == len(block) {
			flags |= 0x4 // END_HEADERS
		}
		writeH2Frame(w, typ, flags, 1, block[:n])
		block = block[n:]
		typ, flags = h2FrameContinuation, 0
	}
	if err := w.Flush(); err != nil {
		return false // the server closed the connection while we wrote
	}
	r := bufio.NewReader(c)
	for {
		var head [9]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the server answered nothing: %v", err)
			}
			return false // closed or reset
		}
		length := int(head[0])<<16 | int(head[1])<<8 | int(head[2])
		if _, err := r.Discard(length); err != nil {
			return false
		}
		if head[3] == 0x7 { // GOAWAY
			return false
		}
		if binary.BigEndian.Uint32(head[5:])&0x7fffffff == 1 {
			return head[3] == h2FrameHeaders
		}
	}
}

func writeH2Frame(w *bufio.Writer, typ, flags byte, stream uint32, payload []byte) {
	var head [9]byte
	head[0], head[1], head[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	head[3], head[4] = typ, flags
	binary.BigEndian.PutUint32(head[5:], stream)
	w.Write(head[:])
	w.Write(payload)
}

// hpackString appends s as an HPACK string literal without Huffman coding.
func hpackString(b []byte, s string) []byte {
	n := len(s)
	if n < 127 {
		b = append(b, byte(n))
	} else {
		b = append(b, 127)
		for n -= 127; n >= 128; n >>= 7 {
			b = append(b, byte(n%128+128))
		}
		b = append(b, byte(n))
	}
	return append(b, s...)
}
