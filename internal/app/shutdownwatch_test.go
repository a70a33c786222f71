package app_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// watchedServer starts a server that stops within 10 s, with two cases of
// Ba Đình and the token of its worker bd.watcher.
func watchedServer(t *testing.T) (*testServer, string) {
	t.Helper()
	cfg := testConfig(t, "")
	cfg.ShutdownTimeout = 10 * time.Second
	ts := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow)})
	ts.addUser(t, "bd.watcher", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	openCase(t, ts, testNow.Add(-time.Hour), "00004")
	openCase(t, ts, testNow.Add(-time.Hour), "00004")
	return ts, ts.tokens.get("bd.watcher")
}

// A watch never finishes by itself, so the README's "in-flight calls
// finish (--shutdown-timeout, 15s)" of a SIGTERM (systemctl restart after a
// certificate renewal) must not wait for one: stopping ends every open
// watch at once, over REST and gRPC, with UNAVAILABLE (SHUTTING_DOWN) and
// the after_seq to resume with, and the stop returns without an error well
// before its timeout. Before, the stop sat out the whole timeout and ended
// in "context deadline exceeded" (the process exited 1).
func TestStopEndsOpenWatches(t *testing.T) {
	ts, token := watchedServer(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp := restStream(t, ctx, http.DefaultClient, ts, "/v1/notifications:watch?after_seq=1", token)
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() || !strings.Contains(lines.Text(), `"result"`) {
		t.Fatalf("first notification over REST: %q %v", lines.Text(), lines.Err())
	}
	conn := dialGRPC(t, ts.GRPCAddr(), insecure.NewCredentials())
	watch, err := pb.NewCaseProcessServiceClient(conn).WatchEvents(withToken(ctx, token), &pb.WatchEventsRequest{AfterSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	first, err := watch.Recv()
	if err != nil {
		t.Fatalf("first notification over gRPC: %v", err)
	}
	ts.conn.Close()
	ts.conn = nil
	start := time.Now()
	if err := ts.Stop(); err != nil {
		t.Errorf("stop with watches open: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stop with watches open took %v, want the watches ended at once, not the %v of the timeout", took, ts.cfg.ShutdownTimeout)
	}

	var rest string
	for lines.Scan() {
		rest += lines.Text() + "\n"
	}
	if !strings.Contains(rest, "SHUTTING_DOWN") || !strings.Contains(rest, "after_seq") {
		t.Errorf("the REST watch ended with %q, want UNAVAILABLE (SHUTTING_DOWN) naming after_seq", rest)
	}
	last := first.GetSeq()
	for {
		n, err := watch.Recv()
		if err == nil {
			last = n.GetSeq()
			continue
		}
		st := status.Convert(err)
		var info *errdetails.ErrorInfo
		for _, d := range st.Details() {
			if i, ok := d.(*errdetails.ErrorInfo); ok {
				info = i
			}
		}
		if st.Code() != codes.Unavailable || info.GetReason() != "SHUTTING_DOWN" || info.GetMetadata()["after_seq"] != strconv.FormatUint(last, 10) {
			t.Errorf("the gRPC watch ended with %v (%v), want UNAVAILABLE, SHUTTING_DOWN and after_seq %d, the last seq it sent", err, info, last)
		}
		return
	}
}

// A watch opened without after_seq starts after the last notification
// then written. Ended by a stop before it sent anything, it still names
// that seq to resume with: without it the client starts again "from now"
// once the server is back (or on another instance), and misses what the
// calls still in flight at the stop, or the other instances meanwhile,
// wrote after its watch began.
func TestStopEndsAWatchFromNowNamingWhereItBegan(t *testing.T) {
	ts, token := watchedServer(t)
	conn := dialGRPC(t, ts.GRPCAddr(), insecure.NewCredentials())
	client := pb.NewCaseProcessServiceClient(conn)

	// The last seq written so far, as the watcher sees it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	seen, err := client.WatchEvents(withToken(ctx, token), &pb.WatchEventsRequest{AfterSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	var head uint64
	for {
		n, err := seen.Recv()
		if err != nil {
			break
		}
		head = n.GetSeq()
	}
	if head == 0 {
		t.Fatal("the watcher saw no notification of the case opened")
	}

	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	watch, err := client.WatchEvents(withToken(ctx, token), &pb.WatchEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Header(); err != nil { // live: its starting point fixed
		t.Fatal(err)
	}
	ts.conn.Close()
	ts.conn = nil
	if err := ts.Stop(); err != nil {
		t.Errorf("stop with a watch open: %v", err)
	}
	_, err = watch.Recv()
	st := status.Convert(err)
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	got, _ := strconv.ParseUint(info.GetMetadata()["after_seq"], 10, 64)
	if st.Code() != codes.Unavailable || info.GetReason() != "SHUTTING_DOWN" || got < head {
		t.Errorf("the watch from now ended with %v (%v), want UNAVAILABLE, SHUTTING_DOWN and after_seq %d or later, where it began", err, info, head)
	}
}

// A REST watch that is live (its 200 and headers sent) and ends before its
// first line, here by a stop, ends with its error line and nothing else:
// the gateway, which did not send those headers, writes the error's status
// as if no header had gone, and before the fix every such end logged
// net/http's "superfluous response.WriteHeader call" warning, a WARN in
// the journal at every restart with a quiet watch open.
func TestQuietRESTWatchEndsWithoutASecondStatus(t *testing.T) {
	var logs logLines
	cfg := testConfig(t, "")
	cfg.ShutdownTimeout = 10 * time.Second
	ts := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	ts.addUser(t, "bd.watcher", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp := restStream(t, ctx, http.DefaultClient, ts, "/v1/notifications:watch", ts.tokens.get("bd.watcher"))
	ts.conn.Close()
	ts.conn = nil
	if err := ts.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "SHUTTING_DOWN") {
		t.Errorf("the quiet watch ended with %q, want its SHUTTING_DOWN line", body)
	}
	if strings.Contains(logs.text(), "superfluous") {
		t.Errorf("the quiet watch's end logged a second status:\n%s", logs.text())
	}
}
