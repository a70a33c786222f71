package app_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// An open notification stream ends soon after its caller's token stops
// being valid, whichever way that happens (the user disabled, the token
// revoked, the token expired on the service's clock), over gRPC and over
// REST: a stream checks its token again every StreamRecheck (here 20 ms,
// by default a few seconds) and ends with UNAUTHENTICATED.
func TestStreamEndsWhenTokenNoLongerValid(t *testing.T) {
	testStreamEnds(t, 20*time.Millisecond, append(adminInvalidations, tokenExpiry))
}

// A stream ends at once when an admin disables its user or revokes its
// token through the same instance, not at its next periodic check (here
// an hour away): a disabled person's live notifications stop with the
// admin's answer. Before, they went on for up to 5 seconds, delivering
// the case numbers of new cases to someone just locked out.
func TestStreamEndsAtOnceWhenAnAdminRevokesItsToken(t *testing.T) {
	testStreamEnds(t, time.Hour, adminInvalidations)
}

// streamWatcher is the user whose stream the tests above end.
const streamWatcher = "bd.watcher"

// streamInvalidation makes the watcher's token invalid; token is its name.
type streamInvalidation struct {
	name string
	do   func(t *testing.T, ts *testServer, token string)
}

// adminInvalidations are the changes an admin makes that end a stream.
var adminInvalidations = []streamInvalidation{
	{"user disabled", func(t *testing.T, ts *testServer, _ string) {
		if _, err := ts.admin().DisableUser(ts.as(t, "admin"), &pb.DisableUserRequest{Name: "users/" + streamWatcher}); err != nil {
			t.Fatal(err)
		}
	}},
	{"token revoked", func(t *testing.T, ts *testServer, token string) {
		if _, err := ts.admin().RevokeToken(ts.as(t, "admin"), &pb.RevokeTokenRequest{Name: token}); err != nil {
			t.Fatal(err)
		}
	}},
}

var tokenExpiry = streamInvalidation{"token expired", func(t *testing.T, ts *testServer, _ string) {
	ts.advance(t, 2*time.Hour) // the token lives one hour
}}

// testStreamEnds opens a watch of the watcher's over gRPC and over REST
// on a server whose streams check their token every recheck, makes the
// token invalid each way, and wants the stream ended with
// UNAUTHENTICATED within streamEndWait.
func testStreamEnds(t *testing.T, recheck time.Duration, invalidations []streamInvalidation) {
	transports := []struct {
		name string
		// watch opens a stream as the user after the outbox's first entry,
		// waits for one notification and returns a function that waits
		// for the stream's end and returns the gRPC code it ended with.
		watch func(t *testing.T, ts *testServer, secret string) (ended func() codes.Code)
	}{
		{"gRPC", watchGRPC},
		{"REST", watchREST},
	}
	for _, inv := range invalidations {
		for _, tr := range transports {
			t.Run(inv.name+" over "+tr.name, func(t *testing.T) {
				ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow), StreamRecheck: recheck})
				ts.addUser(t, streamWatcher, pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
				tok, err := ts.admin().CreateToken(ts.as(t, "admin"), &pb.CreateTokenRequest{
					Parent: "users/" + streamWatcher, Ttl: durationpb.New(time.Hour),
				})
				if err != nil {
					t.Fatal(err)
				}
				// Two cases forwarded to Ba Đình: the stream resumes after
				// the first and so has the second to deliver at once, which
				// shows it is open and serving.
				openCase(t, ts, testNow.Add(-time.Hour), "00004")
				openCase(t, ts, testNow.Add(-time.Hour), "00004")
				ended := tr.watch(t, ts, tok.GetSecret())

				inv.do(t, ts, tok.GetName())
				if code := ended(); code != codes.Unauthenticated {
					t.Errorf("the stream ended with %v, want Unauthenticated", code)
				}
			})
		}
	}
}

// streamEndWait bounds how long a test waits for a stream to end; a
// stream that the server does not end fails the test after it.
const streamEndWait = 10 * time.Second

func watchGRPC(t *testing.T, ts *testServer, secret string) func() codes.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(withToken(context.Background(), secret), streamEndWait)
	t.Cleanup(cancel)
	stream, err := ts.process().WatchEvents(ctx, &pb.WatchEventsRequest{AfterSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first notification: %v", err)
	}
	return func() codes.Code {
		for {
			if _, err := stream.Recv(); err != nil {
				st := wantCode(t, err, codes.Unauthenticated)
				return st.Code()
			}
		}
	}
}

func watchREST(t *testing.T, ts *testServer, secret string) func() codes.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), streamEndWait)
	t.Cleanup(cancel)
	resp := restStream(t, ctx, http.DefaultClient, ts, "/v1/notifications:watch?after_seq=1", secret)
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() || !strings.Contains(lines.Text(), `"result"`) {
		t.Fatalf("first notification: %q %v", lines.Text(), lines.Err())
	}
	return func() codes.Code {
		last := ""
		for lines.Scan() {
			last = lines.Text()
		}
		if err := lines.Err(); err != nil {
			t.Fatalf("the stream did not end: %v (last line %q)", err, last)
		}
		// The gateway ends a stream that fails with an error chunk.
		if !strings.Contains(last, `"error"`) || !strings.Contains(last, `"code":16`) {
			t.Fatalf("the stream ended with %q, want an UNAUTHENTICATED error chunk", last)
		}
		return codes.Unauthenticated
	}
}

// A backup being downloaded by an admin who is then disabled ends with
// UNAUTHENTICATED instead of running to the end. The client's flow-control
// window is fixed at 64 KiB, so the server cannot have sent the whole
// database ahead of the reader.
func TestBackupStreamEndsWhenUserDisabled(t *testing.T) {
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow), StreamRecheck: 20 * time.Millisecond})
	secret := ts.addUser(t, "admin2", pb.Role_ROLE_ADMIN, "orgs/system")
	fillDatabase(t, ts)

	conn, err := grpc.NewClient(ts.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(withToken(context.Background(), secret), streamEndWait)
	defer cancel()
	stream, err := pb.NewAdminServiceClient(conn).BackupDatabase(ctx, &pb.BackupDatabaseRequest{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatalf("first chunk: %v", err)
	}
	if _, err := ts.admin().DisableUser(ts.as(t, "admin"), &pb.DisableUserRequest{Name: "users/admin2"}); err != nil {
		t.Fatal(err)
	}
	// Give the re-check (every 20 ms) ample time before reading on.
	time.Sleep(time.Second)
	got := len(first.GetData())
	for {
		chunk, err := stream.Recv()
		if err != nil {
			wantCode(t, err, codes.Unauthenticated)
			break
		}
		got += len(chunk.GetData())
	}
	t.Logf("the backup ended after %d bytes", got)
}

// A watch sends nothing read after its caller's token stopped being valid,
// however long the stream's own re-check (StreamRecheck, here an hour)
// is yet to come: a notification of a case opened after the user was
// disabled, the token revoked or expired is not sent; the watch ends with
// UNAUTHENTICATED instead. Until this version the case's number and what
// happened to it reached a locked-out user for up to the 5 seconds
// between two re-checks.
func TestWatchSendsNothingAfterItsTokenStoppedBeingValid(t *testing.T) {
	const watcher = "bd.watcher"
	invalidations := []struct {
		name string
		do   func(t *testing.T, ts *testServer, token string)
	}{
		{"user disabled", func(t *testing.T, ts *testServer, _ string) {
			if _, err := ts.admin().DisableUser(ts.as(t, "admin"), &pb.DisableUserRequest{Name: "users/" + watcher}); err != nil {
				t.Fatal(err)
			}
		}},
		{"token revoked", func(t *testing.T, ts *testServer, token string) {
			if _, err := ts.admin().RevokeToken(ts.as(t, "admin"), &pb.RevokeTokenRequest{Name: token}); err != nil {
				t.Fatal(err)
			}
		}},
		{"token expired", func(t *testing.T, ts *testServer, _ string) {
			ts.advance(t, 2*time.Hour) // the token lives one hour
		}},
	}
	for _, inv := range invalidations {
		t.Run(inv.name, func(t *testing.T) {
			ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow), StreamRecheck: time.Hour})
			ts.addUser(t, watcher, pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
			tok, err := ts.admin().CreateToken(ts.as(t, "admin"), &pb.CreateTokenRequest{
				Parent: "users/" + watcher, Ttl: durationpb.New(time.Hour),
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(withToken(context.Background(), tok.GetSecret()), streamEndWait)
			defer cancel()
			stream, err := ts.process().WatchEvents(ctx, &pb.WatchEventsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Header(); err != nil { // live
				t.Fatal(err)
			}
			inv.do(t, ts, tok.GetName())
			openCase(t, ts, ts.clock.Now().Add(-time.Minute), "00004")
			n, err := stream.Recv()
			if err == nil {
				t.Fatalf("the watch sent %s of %s after its token stopped being valid", n.GetKind(), n.GetCase())
			}
			wantCode(t, err, codes.Unauthenticated)
		})
	}
}

// A console session's stream, the live page's, ends at once too when an
// admin resets the person's password (which ends their console sessions,
// not their API tokens) through the same instance, not at the next
// periodic check (here an hour away).
func TestConsoleStreamEndsAtOnceWhenThePasswordIsReset(t *testing.T) {
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow), StreamRecheck: time.Hour})
	const pw = "một mật khẩu dài"
	b := withPassword(t, ts, "lan.nguyen", pw)
	if r, _ := b.signInForm("lan.nguyen", pw, ""); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %s", r.Status)
	}
	events := b.openEvents()
	if _, err := ts.admin().ResetPassword(ts.as(t, "admin"), &pb.ResetPasswordRequest{Name: "users/lan.nguyen"}); err != nil {
		t.Fatal(err)
	}
	if ev, ok := events.next(); !ok || ev != (sseEvent{Type: "end", Data: "signed-out"}) {
		t.Fatalf("after the reset the stream said %+v (open %v), want the end event", ev, ok)
	}
}
