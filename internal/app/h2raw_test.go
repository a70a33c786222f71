package app_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// A bare HTTP/2 client, for the tests of what the gRPC port does with a
// client that does not behave as grpc-go's does: one that ignores the
// server's SETTINGS, or stops in the middle of a request.

const (
	h2FrameData         = 0x0
	h2FrameHeaders      = 0x1
	h2FrameRSTStream    = 0x3
	h2FrameGoAway       = 0x7
	h2FrameContinuation = 0x9

	h2FlagEndStream  = 0x1
	h2FlagEndHeaders = 0x4
)

// h2Conn is a bare HTTP/2 connection to a gRPC server.
type h2Conn struct {
	net.Conn
	w *bufio.Writer
	r *bufio.Reader
}

// dialH2 opens a connection to addr and sends the client preface and empty
// SETTINGS (the defaults). Every read and write on it is bounded by 30
// seconds: a bound for a loaded machine, not an assertion.
func dialH2(t *testing.T, addr string) *h2Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	h := &h2Conn{Conn: c, w: bufio.NewWriter(c), r: bufio.NewReader(c)}
	h.w.WriteString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	h.frame(0x4, 0, 0, nil)
	return h
}

// headers sends the headers of a gRPC call of path on stream, with the
// fields after the call's own, as literals (not indexed, no Huffman
// coding), in frames of 16 KiB (the default SETTINGS_MAX_FRAME_SIZE).
// endStream ends the request with them: an empty request. It returns the
// error of the flush, the server having closed the connection.
func (h *h2Conn) headers(stream uint32, path string, endStream bool, fields ...[2]string) error {
	all := append([][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", path},
		{":authority", h.RemoteAddr().String()}, {"content-type", "application/grpc"}, {"te", "trailers"},
	}, fields...)
	var block []byte
	for _, f := range all {
		block = append(block, 0x00)
		block = hpackString(block, f[0])
		block = hpackString(block, f[1])
	}
	const maxFrame = 16 << 10
	typ, flags := byte(h2FrameHeaders), byte(0)
	if endStream {
		flags = h2FlagEndStream
	}
	for len(block) > 0 {
		n := min(len(block), maxFrame)
		if n == len(block) {
			flags |= h2FlagEndHeaders
		}
		h.frame(typ, flags, stream, block[:n])
		block = block[n:]
		typ, flags = h2FrameContinuation, 0
	}
	return h.w.Flush()
}

// data sends payload as one DATA frame on stream, without ending it.
func (h *h2Conn) data(stream uint32, payload []byte) error {
	h.frame(h2FrameData, 0, stream, payload)
	return h.w.Flush()
}

func (h *h2Conn) frame(typ, flags byte, stream uint32, payload []byte) {
	var head [9]byte
	head[0], head[1], head[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	head[3], head[4] = typ, flags
	binary.BigEndian.PutUint32(head[5:], stream)
	h.w.Write(head[:])
	h.w.Write(payload)
}

// next returns the type and flags of the server's next frame on stream,
// or a GOAWAY; ok is false when the connection closed or was reset first.
// The bound of dialH2 running out fails the test.
func (h *h2Conn) next(t *testing.T, stream uint32) (typ, flags byte, ok bool) {
	t.Helper()
	for {
		var head [9]byte
		if _, err := io.ReadFull(h.r, head[:]); err != nil {
			if ne, isNet := err.(net.Error); isNet && ne.Timeout() {
				t.Fatalf("the server sent nothing on stream %d: %v", stream, err)
			}
			return 0, 0, false
		}
		length := int(head[0])<<16 | int(head[1])<<8 | int(head[2])
		if _, err := h.r.Discard(length); err != nil {
			return 0, 0, false
		}
		if head[3] == h2FrameGoAway || binary.BigEndian.Uint32(head[5:])&0x7fffffff == stream {
			return head[3], head[4], true
		}
	}
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
