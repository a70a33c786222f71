package app_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// TestStopTakesNoNewCallsAndFinishesThoseInFlight: on SIGTERM the service
// reports NOT_SERVING, takes no new requests on either port, and lets the
// requests in flight finish (the README's Configuration and the unit's
// comment). Here a REST request still sending its body is in flight while
// the stop waits for it. Before, the public gRPC port went on taking new
// connections and calls until that request ended (up to the 15 s of
// --shutdown-timeout), and the calls it took then were cut when the
// timeout ran out.
func TestStopTakesNoNewCallsAndFinishesThoseInFlight(t *testing.T) {
	ts := startServer(t, "")
	// A REST request in flight: its headers sent, its body not yet.
	raw, err := net.Dial("tcp", ts.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	body := `{"channel": "CHANNEL_HOTLINE_111"}`
	if _, err := raw.Write([]byte("POST /v1/reports HTTP/1.1\r\nHost: childcase\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body[:1])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the server has read the headers

	ts.conn.Close()
	ts.conn = nil
	stopped := make(chan error, 1)
	go func() { stopped <- ts.Stop() }()
	time.Sleep(500 * time.Millisecond) // the stop has begun, and waits for the request

	// A new gRPC call on a new connection is not taken.
	conn := dialGRPC(t, ts.GRPCAddr(), insecure.NewCredentials())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
		t.Error("a new gRPC call during the stop was taken, want it refused (UNAVAILABLE) as a new REST request is")
	} else if c := status.Code(err); c != codes.Unavailable {
		t.Errorf("a new gRPC call during the stop: %v, want UNAVAILABLE", err)
	}
	select {
	case err := <-stopped:
		t.Fatalf("the stop returned (%v) with a REST request in flight", err)
	default:
	}

	// The request in flight gets its answer.
	if _, err := raw.Write([]byte(body[1:])); err != nil {
		t.Fatal(err)
	}
	_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(raw), nil)
	if err != nil {
		t.Fatalf("the REST request in flight at the stop got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode >= 500 {
		t.Errorf("the REST request in flight at the stop: %s, want its own answer", resp.Status)
	}
	raw.Close()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stop did not finish once the request had its answer")
	}
}
