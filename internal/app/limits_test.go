package app_test

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/process"
)

// A request message over --max-recv-msg-size (4 MiB by default) is refused
// with RESOURCE_EXHAUSTED before it is decoded, and nothing is written.
func TestLimitOversizeRequest(t *testing.T) {
	ts := startServer(t, "")
	r := validReport()
	r.Narrative = strings.Repeat("x", app.DefaultMaxRecvMsgSize+1)
	_, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: r})
	st := wantCode(t, err, codes.ResourceExhausted)
	if !strings.Contains(st.Message(), "larger than max") {
		t.Errorf("message = %q", st.Message())
	}
	if n := countReports(t, ts); n != 0 {
		t.Errorf("%d reports after the oversize request", n)
	}
	// Just under the limit the message is read, and the schema's own
	// limit on the narrative answers instead.
	r.Narrative = strings.Repeat("x", app.DefaultMaxRecvMsgSize/2)
	_, err = ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: r})
	wantCode(t, err, codes.InvalidArgument)
}

// An answer over --max-send-msg-size is not sent: the caller gets
// RESOURCE_EXHAUSTED instead of a truncated answer. The limit is at its
// least (app.MinMaxSendMsgSize), and a page of reports with the longest
// narratives is over it.
func TestLimitOversizeResponse(t *testing.T) {
	ts := startServerWith(t, "", func(c *app.Config) { c.MaxSendMsgSize = app.MinMaxSendMsgSize })
	r := validReport()
	r.Narrative = strings.Repeat("ệ", 20000) // the schema's longest, 60,000 bytes
	for range app.MinMaxSendMsgSize/60000 + 2 {
		if _, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: r}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{PageSize: 1}); err != nil {
		t.Fatalf("an answer under the limit: %v", err)
	}
	_, err := ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{PageSize: 500})
	wantCode(t, err, codes.ResourceExhausted)
}

// TestMaxSendMsgSizeHasAFloor: under --max-send-msg-size the service
// cannot give its own answers: at 4 KiB gRPC reflection's descriptors
// (grpcurl list) were RESOURCE_EXHAUSTED, and under twice
// process.MaxCaseTextBytes a case filled to its bound of free text could
// no longer be read by anyone. A smaller value is refused at start,
// naming the flag and the least it takes, before anything is made; at the
// least, reflection answers every service's file.
func TestMaxSendMsgSizeHasAFloor(t *testing.T) {
	if app.MinMaxSendMsgSize < 2*process.MaxCaseTextBytes {
		t.Errorf("app.MinMaxSendMsgSize is %d, under twice process.MaxCaseTextBytes (%d)", app.MinMaxSendMsgSize, process.MaxCaseTextBytes)
	}
	for _, size := range []int{4 << 10, app.MinMaxSendMsgSize - 1} {
		cfg := testConfig(t, "")
		cfg.MaxSendMsgSize = size
		srv, err := app.Start(context.Background(), cfg, app.Options{Clock: clock.NewFake(testNow), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err == nil {
			srv.Stop()
		}
		if err == nil || !strings.Contains(err.Error(), "max-send-msg-size: ") || !strings.Contains(err.Error(), "8 MiB") {
			t.Errorf("--max-send-msg-size %d: %v, want a refusal naming the flag and its least, 8 MiB", size, err)
		}
		if _, statErr := os.Stat(cfg.DBPath); statErr == nil {
			t.Errorf("--max-send-msg-size %d: the refused start made %s", size, cfg.DBPath)
		}
	}

	ts := startServerWith(t, "", func(c *app.Config) { c.MaxSendMsgSize = app.MinMaxSendMsgSize })
	ask := reflectionAsker(t, ts)
	services := ask(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: ""}}).
		GetListServicesResponse().GetService()
	if len(services) == 0 {
		t.Fatal("reflection lists no service")
	}
	for _, svc := range services {
		resp := ask(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: svc.GetName()}})
		if len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
			t.Errorf("the file of %s: %v", svc.GetName(), resp.GetErrorResponse())
		}
	}
}

// Each user may hold --max-streams-per-user server streams open at once
// (4 by default), over gRPC and REST together; the next is refused with
// RESOURCE_EXHAUSTED, and closing one makes room again.
func TestLimitStreamsPerUser(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "operator2", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")

	cancels := make([]context.CancelFunc, app.DefaultMaxStreamsPerUser)
	for i := range cancels {
		cancels[i] = openWatch(t, ts, operatorID)
	}
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()

	// The next one is refused, with a message saying why.
	st := wantCode(t, watchErr(t, ts, operatorID), codes.ResourceExhausted)
	if errorReason(st) != "TOO_MANY_STREAMS" || !strings.Contains(st.Message(), "4 at once") {
		t.Errorf("refusal: reason %q, message %q", errorReason(st), st.Message())
	}
	// Over REST too: the cap is the user's, not the connection's.
	code, raw := restRaw(t, ts, "GET", "/v1/notifications:watch", "", map[string]string{
		"Authorization": "Bearer " + ts.tokens.get(operatorID),
	})
	if code != http.StatusTooManyRequests || !strings.Contains(string(raw), "too many open streams") {
		t.Errorf("REST watch over the cap: %d %s", code, raw)
	}
	// Another user is not affected.
	cancelOther := openWatch(t, ts, "operator2")
	defer cancelOther()

	// Closing one stream makes room for one more (the server notices the
	// client went away and releases the slot).
	cancels[0]()
	deadline := time.Now().Add(5 * time.Second)
	for !watchAdmitted(t, ts, operatorID) {
		if time.Now().After(deadline) {
			t.Fatal("no room after closing a stream")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// And the cap holds again.
	wantCode(t, watchErr(t, ts, operatorID), codes.ResourceExhausted)
}

// A connection carries at most --max-concurrent-streams calls at once; a
// further call waits for one to end (here: until its deadline), while other
// connections are not held back.
func TestLimitConcurrentStreamsPerConnection(t *testing.T) {
	ts := startServer(t, "")
	dbPath := ts.cfg.DBPath
	ts.stop()
	ts = startServerWith(t, dbPath, func(c *app.Config) { c.MaxConcurrentStreams = 1 })

	cancel := openWatch(t, ts, operatorID) // takes the connection's one slot
	ctx, cancelCall := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelCall()
	_, err := ts.reports().ListReports(ctx, &pb.ListReportsRequest{})
	wantCode(t, err, codes.DeadlineExceeded)

	other, err := grpc.NewClient(ts.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := pb.NewReportServiceClient(other).ListReports(ts.as(t, operatorID), &pb.ListReportsRequest{}); err != nil {
		t.Errorf("another connection: %v", err)
	}
	cancel()
	if _, err := ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{}); err != nil {
		t.Errorf("after the stream ended: %v", err)
	}
}

// Every unary call gets the server's deadline (--request-timeout); with a
// deadline of 1ns a normal call ends with DEADLINE_EXCEEDED. Streams are
// not bound by it.
func TestLimitUnaryDeadline(t *testing.T) {
	ts := startServer(t, "")
	rep, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	dbPath := ts.cfg.DBPath
	ts.stop()

	ts = startServerWith(t, dbPath, func(c *app.Config) { c.RequestTimeout = time.Nanosecond })
	_, err = ts.reports().GetReport(context.Background(), &pb.GetReportRequest{Name: rep.GetName()})
	if st := wantCode(t, err, codes.DeadlineExceeded); errorReason(st) != "DEADLINE_EXCEEDED" {
		t.Errorf("reason = %q", errorReason(st))
	}
	_, err = ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: validReport()})
	wantCode(t, err, codes.DeadlineExceeded)
	code, body := restCall(t, ts, "GET", "/v1/reports", "")
	if code != http.StatusGatewayTimeout {
		t.Errorf("REST list: %d %v", code, body)
	}
	// A stream is not cut by the unary deadline: only its token's lookup
	// is bounded by it (TestStreamsAuthenticateWithinTheRequestTimeoutWhenTheClusterIsGone),
	// which a deadline of 1ns ends. On a server whose deadline (50 ms)
	// ends within the moment openWatch holds a watch open (100 ms), the
	// watch stays open.
	ts.stop()
	ts = startServerWith(t, dbPath, func(c *app.Config) { c.RequestTimeout = 50 * time.Millisecond })
	cancel := openWatch(t, ts, operatorID)
	cancel()

	// With the default deadline the same calls work, and nothing was
	// written by the calls that ran out of time.
	ts.stop()
	ts = startServer(t, dbPath)
	if _, err := ts.reports().GetReport(context.Background(), &pb.GetReportRequest{Name: rep.GetName()}); err != nil {
		t.Fatal(err)
	}
	if n := countReports(t, ts); n != 1 {
		t.Errorf("%d reports, want 1", n)
	}
}

// openWatch opens a WatchEvents stream as user and waits until the server
// has accepted it (sent its headers) and it stays open; the returned
// function closes it.
func openWatch(t *testing.T, ts *testServer, user string) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(ts.as(t, user))
	stream, err := ts.process().WatchEvents(ctx, &pb.WatchEventsRequest{})
	if err == nil {
		_, err = stream.Header()
	}
	if err != nil || !streamStaysOpen(stream) {
		cancel()
		t.Fatalf("watch as %s: not accepted: %v", user, err)
	}
	return cancel
}

// streamStaysOpen reports whether a stream is still open a moment after it
// was accepted (a refused one ends at once with its status).
func streamStaysOpen(stream grpc.ServerStreamingClient[pb.Notification]) bool {
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		_, _ = stream.Recv() // returns when the stream ends or is cancelled
	}()
	select {
	case <-ended:
		return false
	case <-time.After(100 * time.Millisecond):
		return true
	}
}

// watchAdmitted opens a WatchEvents stream as user and reports whether
// the server admitted it (sent its headers and kept it open); an admitted
// stream stays open until the test ends.
func watchAdmitted(t *testing.T, ts *testServer, user string) bool {
	t.Helper()
	ctx, cancel := context.WithCancel(ts.as(t, user))
	stream, err := ts.process().WatchEvents(ctx, &pb.WatchEventsRequest{})
	if err == nil {
		_, err = stream.Header()
	}
	if err == nil && streamStaysOpen(stream) {
		t.Cleanup(cancel)
		return true
	}
	cancel()
	return false
}

// watchErr opens a WatchEvents stream as user and returns the error it
// ends with, which a refused stream does at once.
func watchErr(t *testing.T, ts *testServer, user string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(ts.as(t, user), 5*time.Second)
	defer cancel()
	stream, err := ts.process().WatchEvents(ctx, &pb.WatchEventsRequest{})
	if err != nil {
		return err
	}
	_, err = stream.Recv()
	return err
}

// countReports counts the reports the operator sees, through gRPC.
func countReports(t *testing.T, ts *testServer) int {
	t.Helper()
	n, token := 0, ""
	for {
		resp, err := ts.reports().ListReports(context.Background(), &pb.ListReportsRequest{PageSize: 500, PageToken: token})
		if err != nil {
			t.Fatalf("list reports: %v", err)
		}
		n += len(resp.GetReports())
		if token = resp.GetNextPageToken(); token == "" {
			return n
		}
	}
}

// An export is a server stream like a watch or a backup, so it counts
// toward --max-streams-per-user as the README's Configuration table says:
// with the user's streams all held by watches, their export is refused.
func TestLimitStreamsPerUserCountsExports(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	for range app.DefaultMaxStreamsPerUser {
		defer openWatch(t, ts, "bd.chair")()
	}
	_, _, err := exportCases(t, ts, "bd.chair", &pb.ExportCasesRequest{Format: pb.ExportFormat_EXPORT_FORMAT_CSV})
	if st := wantCode(t, err, codes.ResourceExhausted); errorReason(st) != "TOO_MANY_STREAMS" {
		t.Errorf("export over the cap: reason %q, message %q", errorReason(st), st.Message())
	}
}

// Keepalive enforcement (--keepalive-min-time, and
// --keepalive-permit-without-stream): a client that pings while it has no
// call open, or more often than the minimum, is sent GOAWAY
// ENHANCE_YOUR_CALM "too_many_pings" and disconnected; with pings permitted
// at its pace the same client is answered. grpc-go's own client will not
// ping more often than every 10 s, so the test speaks HTTP/2 frames itself.
func TestLimitKeepaliveEnforcement(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		ts := startServer(t, "")
		acks, goAway := pingRepeatedly(t, ts.GRPCAddr(), 6, 0)
		if goAway == nil || goAway.code != http2EnhanceYourCalm || goAway.debug != "too_many_pings" {
			t.Fatalf("6 pings without a call: %d answered, GOAWAY %+v; want GOAWAY ENHANCE_YOUR_CALM too_many_pings", acks, goAway)
		}
		if acks >= 6 {
			t.Errorf("%d of 6 pings answered before the GOAWAY", acks)
		}
	})
	t.Run("permitted", func(t *testing.T) {
		ts := startServerWith(t, "", func(c *app.Config) {
			c.KeepalivePermitWithoutStream = true
			c.KeepaliveMinTime = time.Millisecond
		})
		// 20 ms apart: well over the minimum of 1 ms.
		acks, goAway := pingRepeatedly(t, ts.GRPCAddr(), 6, 20*time.Millisecond)
		if goAway != nil || acks != 6 {
			t.Errorf("6 permitted pings: %d answered, GOAWAY %+v; want all 6 answered", acks, goAway)
		}
	})
}

const (
	http2FramePing       = 0x6
	http2FrameGoAway     = 0x7
	http2FlagAck         = 0x1
	http2EnhanceYourCalm = 0xb
)

type http2GoAway struct {
	code  uint32
	debug string
}

// pingRepeatedly opens an HTTP/2 connection to a gRPC server, opens no
// call, sends n PING frames gap apart and reads until each is answered or
// the server sends GOAWAY. It returns how many pings were answered, and
// the GOAWAY if one came.
func pingRepeatedly(t *testing.T, addr string, n int, gap time.Duration) (int, *http2GoAway) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	frame := func(typ, flags byte, payload []byte) []byte {
		h := []byte{byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload)), typ, flags, 0, 0, 0, 0}
		return append(h, payload...)
	}
	const settings = 0x4
	hello := append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), frame(settings, 0, nil)...)
	if _, err := conn.Write(hello); err != nil {
		t.Fatal(err)
	}
	frames := make(chan struct {
		typ, flags byte
		payload    []byte
	}, 64)
	go func() {
		defer close(frames)
		for {
			var h [9]byte
			if _, err := io.ReadFull(conn, h[:]); err != nil {
				return
			}
			p := make([]byte, int(h[0])<<16|int(h[1])<<8|int(h[2]))
			if _, err := io.ReadFull(conn, p); err != nil {
				return
			}
			frames <- struct {
				typ, flags byte
				payload    []byte
			}{h[3], h[4], p}
		}
	}()
	acks := 0
	for i := range n {
		if i > 0 {
			time.Sleep(gap)
		}
		data := make([]byte, 8)
		binary.BigEndian.PutUint64(data, uint64(i+1))
		if _, err := conn.Write(frame(http2FramePing, 0, data)); err != nil {
			break // the server closed the connection: its GOAWAY is read below
		}
		// Wait for this ping's answer, or the server's GOAWAY.
		for answered := false; !answered; {
			f, ok := <-frames
			if !ok {
				t.Fatalf("the connection closed after %d answered pings, without GOAWAY", acks)
			}
			switch {
			case f.typ == http2FrameGoAway && len(f.payload) >= 8:
				return acks, &http2GoAway{code: binary.BigEndian.Uint32(f.payload[4:8]), debug: string(f.payload[8:])}
			case f.typ == http2FramePing && f.flags&http2FlagAck != 0 && binary.BigEndian.Uint64(f.payload) == uint64(i+1):
				acks++
				answered = true
			}
		}
	}
	return acks, nil
}
