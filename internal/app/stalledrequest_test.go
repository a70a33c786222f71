package app_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// A gRPC call whose request message does not arrive whole within 30
// seconds of its start is ended, as an HTTP request that takes longer is,
// and with it the part of the message the server holds. Nothing bound it:
// grpc-go reads a unary call's message before any interceptor runs, the
// one of the server's deadline too, and a client with no token that
// declared a 4 MiB request and sent all of it but a byte held those 4 MiB
// of the server's memory for as long as it kept the connection, 100 such
// calls a connection, without ever being authenticated. A stream's
// request (the health check's Watch, which needs no token either) is
// bound the same way.
func TestStalledRequestIsEnded(t *testing.T) {
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow), RequestReadTimeout: 500 * time.Millisecond})
	for _, path := range []string{
		"/childcase.v1.CaseService/GetCase", // needs a token, which this call does not carry
		"/grpc.health.v1.Health/Check",      // needs none
		"/grpc.health.v1.Health/Watch",      // a stream that needs none
	} {
		h := dialH2(t, ts.GRPCAddr())
		if err := h.headers(1, path, false); err != nil {
			t.Fatal(err)
		}
		// A message of 64 KiB declared (the stream's first window), a
		// frame's worth of it sent.
		frame := make([]byte, 16<<10) // the default SETTINGS_MAX_FRAME_SIZE
		binary.BigEndian.PutUint32(frame[1:], 64<<10)
		if err := h.data(1, frame); err != nil {
			t.Fatal(err)
		}
		for {
			typ, flags, ok := h.next(t, 1)
			if !ok || typ == h2FrameGoAway || typ == h2FrameRSTStream || flags&h2FlagEndStream != 0 {
				break // ended: the call's status, a reset, or the connection closed
			}
		}
	}
}

// A call whose request is in is not bound by the time its request took:
// a stream goes on past it, and the server's deadline bounds a unary
// call from when its request is in, however short
// (TestLimitUnaryDeadline).
func TestRequestReadTimeoutEndsNoStreamWhoseRequestIsIn(t *testing.T) {
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow), RequestReadTimeout: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(ts.as(t, operatorID))
	defer cancel()
	stream, err := ts.process().WatchEvents(ctx, &pb.WatchEventsRequest{})
	if err == nil {
		_, err = stream.Header()
	}
	if err != nil {
		t.Fatal(err)
	}
	// Past the bound, many times over, the watch still sends what happens.
	time.Sleep(500 * time.Millisecond)
	if _, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: validReport()}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("the watch, its request in, ended: %v", err)
	}
}

// A connection to the gRPC port that says nothing (no TLS handshake, no
// HTTP/2 preface) is closed once the same bound has passed, as the HTTP
// port closes one that sends no request; grpc-go's own bound was two
// minutes a connection.
func TestSilentGRPCConnectionIsClosed(t *testing.T) {
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow), RequestReadTimeout: 500 * time.Millisecond})
	c, err := net.Dial("tcp", ts.GRPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound for a loaded machine, not an assertion
	_, err = io.Copy(io.Discard, c)                     // the server's SETTINGS, then the end
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("a silent connection was still open after 30 seconds: %v", err)
	}
}

// TestSlowHTTPClientsAreCut: on the HTTP port and the metrics address, a
// connection that sends nothing, one that sends its headers a byte at a
// time (slowloris) and one that stops short in its body are each closed
// once the request's bound has passed (here shortened to half a second):
// the headers' own bound, 10 seconds, is never longer than the
// request's. The goroutines they held are given back, and the server
// still answers its health check and a request. The headers' bound was 10
// seconds whatever the request's, so no test could see it cut a client
// without waiting that long.
func TestSlowHTTPClientsAreCut(t *testing.T) {
	// The README's words: headers within 10 seconds, an idle kept-alive
	// connection closed after 2 minutes.
	if app.HTTPHeaderTimeout != 10*time.Second || app.HTTPIdleTimeout != 2*time.Minute {
		t.Errorf("the HTTP servers' bounds are %v on headers and %v idle; the README says 10 s and 2 min", app.HTTPHeaderTimeout, app.HTTPIdleTimeout)
	}
	cfg := testConfig(t, "")
	cfg.MetricsAddr = "127.0.0.1:0"
	ts := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow), RequestReadTimeout: 500 * time.Millisecond})
	before := goroutines()
	const each = 30
	kinds := map[string]func(net.Conn){
		"silent": func(net.Conn) {},
		"headers a byte at a time": func(c net.Conn) {
			for _, b := range []byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 1000)) {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		},
		"a body stopped short": func(c net.Conn) {
			_, _ = io.WriteString(c, "POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"report\":")
		},
	}
	var wg sync.WaitGroup
	for _, addr := range []string{ts.HTTPAddr(), ts.MetricsAddr()} {
		for kind, send := range kinds {
			for range each {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				wg.Go(func() {
					defer c.Close()
					go send(c)
					// A bound for a loaded machine, half the headers' own
					// bound: not an assertion on time.
					_ = c.SetReadDeadline(time.Now().Add(httpHeaderBound / 2))
					_, err := io.Copy(io.Discard, c)
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						t.Errorf("%s, %s: the connection was still open after %v", addr, kind, httpHeaderBound/2)
					}
				})
			}
		}
	}
	wg.Wait()
	// The server's goroutines of those connections end as they close.
	for deadline := time.Now().Add(10 * time.Second); goroutines() > before+10; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after %d cut connections, %d before", goroutines(), 2*each*len(kinds), before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get("http://" + ts.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz after the slow clients: %s", resp.Status)
	}
	if _, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: validReport()}); err != nil {
		t.Errorf("a report after the slow clients: %v", err)
	}
}

// httpHeaderBound is the HTTP servers' bound on a request's headers.
const httpHeaderBound = app.HTTPHeaderTimeout

// goroutines counts the process's goroutines (the server's among them).
func goroutines() int {
	s := []metrics.Sample{{Name: "/sched/goroutines:goroutines"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
