package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// TestUnauthenticatedCallsHoldNoMessages: clients with no token open as
// many calls as --max-concurrent-streams lets each connection hold, to a
// method that needs a token, and send each call's message near
// --max-recv-msg-size but its last byte, as fast as the server's flow
// control lets them. grpc-go reads a unary call's message before any
// interceptor runs, so without a refusal before the message (the
// authenticator's tap) the server held every such message until the
// bound on its arrival: connections × streams × the message size, with
// no cap across connections. It must hold next to nothing of them.
func TestUnauthenticatedCallsHoldNoMessages(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.MaxRecvMsgSize = 1 << 20
	cfg.MaxConcurrentStreams = 50
	ts := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow)})
	const conns = 2
	base := heapObjectBytes()
	var wg sync.WaitGroup
	for range conns {
		h := dialH2(t, ts.GRPCAddr())
		wg.Go(func() { stallMessages(t, h, uint32(cfg.MaxConcurrentStreams), cfg.MaxRecvMsgSize-100) })
	}
	wg.Wait()
	heap := heapObjectBytes()
	sent := conns * cfg.MaxConcurrentStreams * cfg.MaxRecvMsgSize
	if limit := base + 16<<20; heap > limit {
		t.Errorf("%d MiB of heap held with the messages in, %d MiB before (%d MiB sent with no token)", heap>>20, base>>20, sent>>20)
	}
}

// stallMessages opens calls of GetCase with no authorization on h, and
// sends each a message of size bytes but its last byte, within the
// windows the server gives; it returns when every call has sent all it
// will (or was ended by the server), or after 20 seconds.
func stallMessages(t *testing.T, h *h2Conn, calls uint32, size int) {
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	connCredit := 65535
	credit := map[uint32]int{}
	left := map[uint32]int{}
	for c := range calls {
		id := 2*c + 1
		credit[id], left[id] = 65535, 5+size-1
		if err := h.headers(id, "/childcase.v1.CaseService/GetCase", false); err != nil {
			t.Error(err)
			return
		}
	}
	// The reader gives the server's WINDOW_UPDATEs and stream ends to the writer.
	go func() {
		for {
			var head [9]byte
			if _, err := io.ReadFull(h.r, head[:]); err != nil {
				mu.Lock()
				clear(left)
				cond.Broadcast()
				mu.Unlock()
				return
			}
			length := int(head[0])<<16 | int(head[1])<<8 | int(head[2])
			payload := make([]byte, length)
			if _, err := io.ReadFull(h.r, payload); err != nil {
				continue
			}
			stream := binary.BigEndian.Uint32(head[5:]) & 0x7fffffff
			mu.Lock()
			switch {
			case head[3] == 0x8 && length == 4 && stream == 0:
				connCredit += int(binary.BigEndian.Uint32(payload) & 0x7fffffff)
			case head[3] == 0x8 && length == 4:
				credit[stream] += int(binary.BigEndian.Uint32(payload) & 0x7fffffff)
			case head[3] == h2FrameRSTStream, head[3] == h2FrameHeaders && head[4]&h2FlagEndStream != 0:
				delete(left, stream)
			case head[3] == h2FrameGoAway:
				clear(left)
			}
			cond.Broadcast()
			mu.Unlock()
		}
	}()
	chunk := make([]byte, 16<<10)
	deadline := time.Now().Add(20 * time.Second)
	time.AfterFunc(20*time.Second, func() { mu.Lock(); cond.Broadcast(); mu.Unlock() })
	mu.Lock()
	defer mu.Unlock()
	for len(left) > 0 && time.Now().Before(deadline) {
		progress := false
		for id, n := range left {
			k := min(n, len(chunk), credit[id], connCredit)
			if k <= 0 {
				continue
			}
			payload := chunk[:k]
			if left[id] == 5+size-1 { // the message's header first
				if k < 5 {
					continue
				}
				payload = make([]byte, k)
				binary.BigEndian.PutUint32(payload[1:], uint32(size))
			}
			h.frame(h2FrameData, 0, id, payload)
			credit[id] -= k
			connCredit -= k
			if left[id] -= k; left[id] == 0 {
				delete(left, id)
			}
			progress = true
		}
		mu.Unlock()
		err := h.w.Flush()
		mu.Lock()
		if err != nil {
			return
		}
		if !progress {
			cond.Wait()
		}
	}
}

// TestUnauthenticatedRefusalBeforeTheMessageIsTheSame: a call refused
// before its message is read (no authorization, one that is no bearer
// token, or a bearer token not of a token's form) is answered, logged, counted toward the throttle and audited as
// a call with a token that does not exist, which the authenticator
// refuses after the message: the same code, message and ErrorInfo (and
// a RequestInfo with its request id, which has no header to go in), one
// "finished call" line with its request id, and an auth.fail event that
// counts it; past the throttle's burst, 429's RESOURCE_EXHAUSTED with
// RetryInfo.
func TestUnauthenticatedRefusalBeforeTheMessageIsTheSame(t *testing.T) {
	ts, lines := launchLogged(t)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	lines.take(t)
	bare := pb.NewCaseServiceClient(dialGRPC(t, ts.GRPCAddr(), insecure.NewCredentials())) // sends no token of its own
	call := func(md ...string) error {
		ctx := metadata.AppendToOutgoingContext(context.Background(), md...)
		_, err := bare.GetCase(ctx, &pb.GetCaseRequest{Name: "cases/HN-2026-00001"})
		return err
	}
	want := status.Convert(call("authorization", "Bearer "+confBadToken, "x-request-id", "bad-token"))
	lines.take(t)
	for _, c := range []struct{ name, auth string }{{"no authorization", ""}, {"not a bearer token", "Basic YWRtaW46YWRtaW4="}, {"no token's form", "Bearer cc_guess"}} {
		md := []string{"x-request-id", "tap-refused"}
		if c.auth != "" {
			md = append(md, "authorization", c.auth)
		}
		got := status.Convert(call(md...))
		// The same refusal, and its request id, which the tap's refusal
		// carries in its status, having no header to carry it
		// (TestTapRefusalCarriesItsRequestID).
		wantHere, err := want.WithDetails(&errdetails.RequestInfo{RequestId: "tap-refused"})
		if err != nil {
			t.Fatal(err)
		}
		if got.Code() != want.Code() || got.Message() != want.Message() || !proto.Equal(got.Proto(), wantHere.Proto()) {
			t.Errorf("%s: answered %v, want %v as a bad token is, with its request id", c.name, got.Proto(), wantHere.Proto())
		}
		logged := lines.take(t)
		if len(logged) != 1 {
			t.Fatalf("%s: %d log lines, want 1: %v", c.name, len(logged), logged)
		}
		for k, v := range map[string]any{"msg": "finished call", "request_id": "tap-refused", "grpc.method": "GetCase",
			"grpc.code": "Unauthenticated", "level": "INFO", "client.address": "127.0.0.1",
			"grpc.error": "rpc error: code = Unauthenticated desc = a valid bearer token is required"} {
			if logged[0][k] != v {
				t.Errorf("%s: the log line's %s = %v, want %v (%v)", c.name, k, logged[0][k], v, logged[0])
			}
		}
	}
	// The throttle's burst is 10 failures; 4 are spent.
	var last error
	for range 7 {
		last = call()
	}
	st := status.Convert(last)
	retry := false
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			retry = true
		}
	}
	if st.Code() != codes.ResourceExhausted || !retry {
		t.Errorf("past the throttle's burst, no token is answered %v, want RESOURCE_EXHAUSTED with RetryInfo", st.Proto())
	}
	if _, _, refused := signInAudit(t, ts); refused != 11 {
		t.Errorf("the trail counts %d refused sign-ins, want 11", refused)
	}
}

// TestRESTWithoutATokenHoldsNoBody: REST clients with no token each send
// a request to a route that needs one with a body near the 1 MiB limit,
// all of it but its last byte. The server refuses them whatever their
// body, so it must read none of it: the gateway held each body until it
// came whole (or the bound on its arrival ran out).
func TestRESTWithoutATokenHoldsNoBody(t *testing.T) {
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow)})
	const conns, size = 40, 1<<20 - 100
	base := heapObjectBytes()
	body := append([]byte(`{"narrative": "`), bytes.Repeat([]byte("a"), size)...)
	var wg sync.WaitGroup
	answered := make(chan string, conns)
	for range conns {
		c, err := net.Dial("tcp", ts.HTTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(30 * time.Second)) // a bound for a loaded machine, not an assertion
		wg.Go(func() {
			fmt.Fprintf(c, "POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(body)+3)
			_, _ = c.Write(body) // all but its end: "}
			line, _ := bufio.NewReader(c).ReadString('\n')
			answered <- line
		})
	}
	var heap int
	for range conns {
		line := <-answered
		heap = max(heap, heapObjectBytes())
		if !strings.Contains(line, " 401 ") && !strings.Contains(line, " 429 ") { // past the throttle's burst
			t.Errorf("answered %q with the body unsent, want 401 (or 429) at once", line)
		}
	}
	wg.Wait()
	if limit := base + 16<<20; heap > limit {
		t.Errorf("%d MiB of heap held with the bodies in, %d MiB before (%d MiB sent with no token)", heap>>20, base>>20, conns*size>>20)
	}
}
