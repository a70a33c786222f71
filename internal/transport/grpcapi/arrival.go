package grpcapi

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/tap"
)

// errRequestLate is the cause a call's context is cancelled with when its
// request did not arrive whole within requestArrival's bound.
var errRequestLate = errors.New("the request did not arrive in time")

// requestArrival bounds the time a call's request takes to arrive: from
// the call's headers to its first message, read whole. grpc-go reads a
// unary call's message before any interceptor runs, so the unary deadline
// (unaryDeadline) and authentication begin only once it is in: a client
// with no token that declared a message of 4 MiB and sent all of it but
// a byte held those megabytes of the server's memory for as long as it
// kept its connection, 100 such calls a connection. A server stream's
// request is read by its handler, after the caps on streams; it is bound
// the same way, so that a public stream (the health check's Watch) does
// not hold a request that never ends either. Past the bound, the call's
// context is cancelled and grpc-go ends the call (CANCELLED) and drops
// what it holds of the request.
type requestArrival time.Duration

// arrivalKey holds, in a call's context, the timer of its request's arrival.
type arrivalKey struct{}

// tap starts the bound as the call begins (grpc.InTapHandle, run for each
// new stream before anything is read of its messages).
func (d requestArrival) tap(ctx context.Context, _ *tap.Info) (context.Context, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(time.Duration(d), func() { cancel(errRequestLate) })
	// A call that ends first (its client went away) stops it too.
	context.AfterFunc(ctx, func() { timer.Stop() })
	return context.WithValue(ctx, arrivalKey{}, timer), nil
}

// arrived stops the bound of the call of ctx, whose request is in.
func arrived(ctx context.Context) {
	if timer, ok := ctx.Value(arrivalKey{}).(*time.Timer); ok {
		timer.Stop()
	}
}

// arrivedUnary comes first, after recovery: a unary call's message is in
// before any interceptor runs.
func arrivedUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	arrived(ctx)
	return next(ctx, req)
}

// arrivedStream comes first, after recovery: a stream's request is in once
// its first RecvMsg returns, whoever reads it (the handler, or the authenticator
// naming the record of a refused call).
func arrivedStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	return next(srv, &arrivingStream{ServerStream: ss})
}

type arrivingStream struct {
	grpc.ServerStream
	in bool
}

func (s *arrivingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if !s.in {
		s.in = true
		arrived(s.Context())
	}
	return err
}
