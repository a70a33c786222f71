package grpcapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/childcase/childcase/internal/domain/model"
)

// A full database is RESOURCE_EXHAUSTED with reason DATABASE_FULL, however
// it was reported (the store's sentinel, or the system's ENOSPC from a
// file the transport touched), and the operator is told in the log.
func TestToStatusDatabaseFull(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("create report: %w", model.ErrFull),
		fmt.Errorf("backup: %w", &fs.PathError{Op: "write", Path: "/var/lib/childcase/x", Err: syscall.ENOSPC}),
	} {
		var logs bytes.Buffer
		st, _ := status.FromError(toStatus(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), err))
		if st.Code() != codes.ResourceExhausted || reasonOf(st) != ReasonDatabaseFull {
			t.Errorf("%v: %v %q", err, st.Code(), reasonOf(st))
		}
		if !strings.Contains(st.Message(), "database is full") || strings.Contains(st.Message(), "/var/lib") {
			t.Errorf("message %q", st.Message())
		}
		if !strings.Contains(logs.String(), "database full") {
			t.Errorf("not logged: %q", logs.String())
		}
	}
}

func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(interface{ GetReason() string }); ok {
			return info.GetReason()
		}
	}
	return ""
}

type fakeStream struct {
	grpc.ServerStream
	ctx     context.Context
	headers int
}

func (f *fakeStream) Context() context.Context     { return f.ctx }
func (f *fakeStream) SendHeader(metadata.MD) error { f.headers++; return nil }

func TestStreamLimiter(t *testing.T) {
	l := NewStreamLimiter(2)
	ctxOf := asCaller
	release := make(chan struct{})
	started := make(chan struct{})
	hold := func(srv any, ss grpc.ServerStream) error { started <- struct{}{}; <-release; return nil }
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- l.stream(nil, &fakeStream{ctx: ctxOf("lan")}, nil, hold) }()
		<-started
	}
	if got := l.Open("lan"); got != 2 {
		t.Fatalf("open = %d", got)
	}
	err := l.stream(nil, &fakeStream{ctx: ctxOf("lan")}, nil, func(any, grpc.ServerStream) error { return nil })
	if st, _ := status.FromError(err); st.Code() != codes.ResourceExhausted || reasonOf(st) != ReasonTooManyStreams ||
		!strings.Contains(st.Message(), "2 at once") {
		t.Fatalf("third stream: %v", err)
	}
	// Another user, and public streams (no user), are not held back.
	for _, user := range []string{"mai", ""} {
		if err := l.stream(nil, &fakeStream{ctx: ctxOf(user)}, nil, func(any, grpc.ServerStream) error { return nil }); err != nil {
			t.Errorf("user %q: %v", user, err)
		}
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := l.Open("lan"); got != 0 {
		t.Fatalf("open after the streams ended = %d", got)
	}
	// A nil limiter is no cap.
	var none *StreamLimiter
	if err := none.stream(nil, &fakeStream{ctx: ctxOf("lan")}, nil, func(any, grpc.ServerStream) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestUnaryDeadline(t *testing.T) {
	var got time.Duration
	handler := func(ctx context.Context, _ any) (any, error) {
		d, ok := ctx.Deadline()
		if !ok {
			return nil, errors.New("no deadline")
		}
		got = time.Until(d)
		return nil, nil
	}
	if _, err := unaryDeadline(time.Minute)(context.Background(), nil, nil, handler); err != nil || got <= 50*time.Second {
		t.Errorf("deadline in %v, err %v", got, err)
	}
	// A client's earlier deadline wins.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := unaryDeadline(time.Minute)(ctx, nil, nil, handler); err != nil || got > time.Second {
		t.Errorf("deadline in %v, err %v", got, err)
	}
	// Zero: none of the server's own.
	if _, err := unaryDeadline(0)(context.Background(), nil, nil, handler); err == nil {
		t.Error("a deadline with UnaryTimeout 0")
	}
}

// The public streams (no token) are capped per client address, an IPv6
// one by its /64, and in all. A refusal for the server's total names that
// cap, not the address's: a client holding none of its own must not be
// told that its address holds too many.
func TestPublicStreamLimiter(t *testing.T) {
	l := NewStreamLimiter(2)
	from := func(addr string) context.Context {
		return peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(addr), Port: 40000}})
	}
	open := func(addr string) error {
		return l.stream(nil, &fakeStream{ctx: from(addr)}, nil, func(any, grpc.ServerStream) error { return nil })
	}
	// Two addresses of one /64 share its cap; another /64 has its own.
	for i := range PublicStreamsPerAddress {
		if err := l.acquirePublic(publicStreamKey(from(fmt.Sprintf("2001:db8:0:1::%x", i+1)))); err != nil {
			t.Fatalf("public stream %d of the /64: %v", i+1, err)
		}
	}
	err := open("2001:db8:0:1:ffff::1")
	if st, _ := status.FromError(err); st.Code() != codes.ResourceExhausted || reasonOf(st) != ReasonTooManyStreams ||
		!strings.Contains(st.Message(), "each client address") {
		t.Errorf("a stream from the full /64: %v", err)
	}
	if err := open("2001:db8:0:2::1"); err != nil {
		t.Errorf("a stream from another /64: %v", err)
	}
	// The server's total, reached from other addresses.
	for i := PublicStreamsPerAddress; i < PublicStreamsTotal; i++ {
		if err := l.acquirePublic(fmt.Sprintf("client-%d", i)); err != nil {
			t.Fatalf("public stream %d of %d: %v", i+1, PublicStreamsTotal, err)
		}
	}
	err = open("198.51.100.7")
	st, _ := status.FromError(err)
	if st.Code() != codes.ResourceExhausted || reasonOf(st) != ReasonTooManyStreams ||
		strings.Contains(st.Message(), "each client address") || !strings.Contains(st.Message(), strconv.Itoa(PublicStreamsTotal)) {
		t.Errorf("a first stream from a new address over the server's total: %v; want the total of %d named", err, PublicStreamsTotal)
	}
}
