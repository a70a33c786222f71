package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
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

// holdingHandler is a log handler that holds the "finished call" line of
// each CreateReport, which the server writes after the call's work and
// before its answer, until release is closed: the call is then in
// flight, its answer not yet sent.
type holdingHandler struct {
	slog.Handler
	held    chan struct{} // one value per call held
	release chan struct{}
	once    sync.Once
}

func (h *holdingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "finished call" {
		create := false
		r.Attrs(func(a slog.Attr) bool {
			create = create || a.Key == "grpc.method" && a.Value.String() == "CreateReport"
			return true
		})
		if create {
			h.held <- struct{}{}
			<-h.release
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h *holdingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &holdingHandler{Handler: h.Handler.WithAttrs(attrs), held: h.held, release: h.release}
}

func (h *holdingHandler) WithGroup(name string) slog.Handler {
	return &holdingHandler{Handler: h.Handler.WithGroup(name), held: h.held, release: h.release}
}

// A stop (SIGTERM, SIGINT) lets the calls in flight finish: a CreateReport
// over gRPC and one over REST, both still being served when the stop
// begins, get their answers while the service goes NOT_SERVING, the stop
// waits for them and then closes the database cleanly, and both reports
// are there after a restart (issue 2: "in-flight requests finish, the
// database closes cleanly").
func TestStopLetsCallsInFlightFinish(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.ShutdownTimeout = 30 * time.Second
	h := &holdingHandler{Handler: slog.NewTextHandler(io.Discard, nil), held: make(chan struct{}, 2), release: make(chan struct{})}
	ts := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow), Logger: slog.New(h)})
	defer h.once.Do(func() { close(h.release) })
	token := ts.tokens.get(operatorID)

	type answer struct {
		name string
		err  error
	}
	grpcDone, restDone := make(chan answer, 1), make(chan answer, 1)
	conn := dialGRPC(t, ts.GRPCAddr(), insecure.NewCredentials())
	go func() {
		r, err := pb.NewReportServiceClient(conn).CreateReport(withToken(context.Background(), token),
			&pb.CreateReportRequest{Report: validReport(), RequestId: "in-flight-grpc"})
		grpcDone <- answer{r.GetName(), err}
	}()
	go func() {
		req, _ := http.NewRequest("POST", "http://"+ts.HTTPAddr()+"/v1/reports?request_id=in-flight-rest", strings.NewReader(restReport))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			restDone <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		var r struct {
			Name    string `json:"name"`
			Message string `json:"message"`
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		if resp.StatusCode != http.StatusOK {
			err = &httpStatusError{resp.StatusCode, r.Message}
		}
		restDone <- answer{r.Name, err}
	}()
	for range 2 {
		select {
		case <-h.held:
		case <-time.After(20 * time.Second):
			t.Fatal("the two calls did not reach the end of their work")
		}
	}

	// The stop begins with both calls in flight.
	ts.conn.Close()
	ts.conn = nil
	stopped := make(chan error, 1)
	go func() { stopped <- ts.Stop() }()
	health := healthpb.NewHealthClient(dialGRPC(t, ts.GRPCAddr(), insecure.NewCredentials()))
	for deadline := time.Now().Add(10 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err != nil || resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the service did not go NOT_SERVING")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("the stop returned (%v) while two calls were in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	h.once.Do(func() { close(h.release) })

	var names []string
	for what, done := range map[string]chan answer{"gRPC": grpcDone, "REST": restDone} {
		select {
		case a := <-done:
			if a.err != nil || !strings.HasPrefix(a.name, "reports/") {
				t.Errorf("the %s call in flight at the stop answered %q, %v; want its report", what, a.name, a.err)
			}
			names = append(names, a.name)
		case <-time.After(20 * time.Second):
			t.Fatalf("the %s call in flight at the stop got no answer", what)
		}
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the stop did not finish once the calls were answered")
	}

	again := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow)})
	for _, name := range names {
		if r, err := again.reports().GetReport(again.as(t, operatorID), &pb.GetReportRequest{Name: name}); err != nil || r.GetName() != name {
			t.Errorf("after the restart, %s: %v, %v", name, r.GetName(), err)
		}
	}
}

type httpStatusError struct {
	code    int
	message string
}

func (e *httpStatusError) Error() string { return http.StatusText(e.code) + ": " + e.message }
