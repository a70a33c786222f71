package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// errStreamStalled is the cause a stream's context is cancelled with when
// one of its messages waited too long for the client to take it.
var errStreamStalled = errors.New("the client stopped reading")

// sendBound ends a server stream whose client has stopped reading, as the
// REST gateway does with a streaming answer (httpapi.WithStreamWriteTimeout):
// without it, such a client keeps the handler's goroutine, its buffers
// and one of its user's streams (StreamLimiter) for as long as its
// connection lives. Keepalive does not see it: its transport still
// answers pings while the stream's flow-control window stays shut.
//
// A Send held back by flow control cannot be interrupted: grpc-go lets it
// go only when the stream ends, which happens once the handler has
// returned (or the connection closes). So each message is sent from a
// goroutine of its own while SendMsg waits at most d for it; past d,
// SendMsg gives up, cancels the handler's context with errStreamStalled
// and refuses every later message, the handler returns, the stream ends
// with DEADLINE_EXCEEDED (STREAM_STALLED), its slot is released, and the
// ended stream lets the waiting Send go. DEADLINE_EXCEEDED rather than
// RESOURCE_EXHAUSTED: the message had a time to be taken in and it
// passed; nothing of the server's ran short, and RESOURCE_EXHAUSTED
// already says "too many streams, back off" (TOO_MANY_STREAMS). The
// client sees the status once it reads on, after what was sent before.
type sendBound struct {
	d   time.Duration // zero: no bound
	log *slog.Logger
}

func (b sendBound) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	if b.d <= 0 {
		return next(srv, ss)
	}
	ctx, cancel := context.WithCancelCause(ss.Context())
	defer cancel(nil)
	err := next(srv, &boundedStream{ServerStream: ss, ctx: ctx, cancel: cancel, d: b.d})
	if errors.Is(context.Cause(ctx), errStreamStalled) {
		b.log.WarnContext(ctx, "stream ended: the client stopped reading", "send_timeout", b.d.String())
		return withInfo(codes.DeadlineExceeded,
			fmt.Sprintf("the stream has ended: a message waited more than %s for the client to read it", b.d),
			ReasonStreamStalled, nil)
	}
	return err
}

// boundedStream is the stream sendBound gives the handler; see there.
type boundedStream struct {
	grpc.ServerStream
	ctx    context.Context
	cancel context.CancelCauseFunc
	d      time.Duration
}

func (s *boundedStream) Context() context.Context { return s.ctx }

// SendMsg sends m within s.d, or gives up. A message given up on may
// still be sent (the goroutine holds it until the stream ends), but the
// handler sees an error and sends no other: the underlying SendMsg never
// runs twice at once.
func (s *boundedStream) SendMsg(m any) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	sent := make(chan error, 1)
	go func() { sent <- s.ServerStream.SendMsg(m) }()
	timer := time.NewTimer(s.d)
	defer timer.Stop()
	select {
	case err := <-sent:
		return err
	case <-timer.C:
		s.cancel(errStreamStalled)
	case <-s.ctx.Done(): // the client went away, or its token is no longer valid
	}
	// context.Canceled, which the handler's toStatus takes quietly; the
	// interceptor that cancelled says why.
	return s.ctx.Err()
}
