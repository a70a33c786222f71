package app_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// A gRPC client that opens a watch and stops reading is cut off like a
// REST one: once a Send has waited the stream write bound (the same
// option as REST's, here 200 ms) for the client's flow-control window,
// the server ends the stream with DEADLINE_EXCEEDED and frees its slot
// of --max-streams-per-user (here 1), so the same user's next watch is
// admitted. The client reads nothing and gives the smallest windows
// grpc-go allows, so that the server's sends soon block; notifications
// are written until they do.
func TestStalledGRPCWatchIsCut(t *testing.T) {
	const watcher = "bd.watcher"
	var lines logLines
	cfg := testConfig(t, "")
	cfg.MaxStreamsPerUser = 1
	ts := launch(t, cfg, app.Options{
		Clock: clock.NewFake(testNow), NoSync: true, StreamWriteTimeout: 200 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&lines, nil)),
	})
	ts.addUser(t, watcher, pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)

	stalled, err := grpc.NewClient(ts.GRPCAddr(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(65535), grpc.WithInitialConnWindowSize(65535))
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	ctx, cancel := context.WithCancel(ts.as(t, watcher))
	defer cancel()
	openCase(t, ts, testNow.Add(-time.Hour), "00004")
	stream, err := pb.NewCaseProcessServiceClient(stalled).WatchEvents(ctx, &pb.WatchEventsRequest{AfterSeq: 1})
	if err == nil {
		_, err = stream.Header()
	}
	if err != nil {
		t.Fatalf("the watch that stalls: %v", err)
	}
	// The slot is taken: the same user's next watch is refused.
	wantCode(t, watchErr(t, ts, watcher), codes.ResourceExhausted)

	// Many notifications for the watcher, a batch at a time, until its
	// next watch is admitted; a server that never cuts the stalled one
	// fails after the last batch.
	admitted := false
	for batch := 0; batch < 30 && !admitted; batch++ {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 25 {
					openCase(t, ts, testNow.Add(-time.Hour), "00004")
				}
			})
		}
		wg.Wait()
		admitted = watchAdmitted(t, ts, watcher)
	}
	if !admitted {
		t.Fatal("the stalled watch still holds its user's stream slot after 3,000 notifications")
	}

	// Reading on, the client gets what was sent before the cut, then the
	// stream's end.
	for {
		if _, err = stream.Recv(); err != nil {
			break
		}
	}
	if st := wantCode(t, err, codes.DeadlineExceeded); errorReason(st) != "STREAM_STALLED" {
		t.Errorf("the stalled stream ended with reason %q, message %q", errorReason(st), st.Message())
	}
	if n := strings.Count(lines.text(), "stream ended: the client stopped reading"); n != 1 {
		t.Errorf("the cut is logged %d times, want once:\n%s", n, lines.text())
	}
}
