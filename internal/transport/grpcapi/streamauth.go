package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/childcase/childcase/internal/domain/identity"
)

// DefaultStreamRecheck is how often an open server stream checks that its
// caller's token is still valid, unless Deps says otherwise.
const DefaultStreamRecheck = 5 * time.Second

// errTokenInvalidated is the cause a stream's context is cancelled with
// when its caller's token stopped being valid.
var errTokenInvalidated = errors.New("the caller's token is no longer valid")

// streamReauth ends a server stream (WatchEvents, BackupDatabase) once
// its caller's token stops being valid: revoked, expired on the
// service's clock, or its user disabled. A token is checked once when a
// call starts; a stream can outlive that check by hours, and must not go
// on delivering case numbers to someone who was just locked out. It
// checks the token again at each revocation through this instance and
// every few seconds and, once it fails, cancels
// the handler's context and ends the stream with UNAUTHENTICATED. It runs
// after authentication, which put the principal in the context.
type streamReauth struct {
	identity *identity.Service
	every    time.Duration
	log      *slog.Logger
}

func (r streamReauth) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	ctx := ss.Context()
	if principalFrom(ctx).UserID == "" {
		return next(srv, ss) // a public stream (health): no token to check
	}
	token, why := bearerToken(ctx)
	if why != "" {
		return next(srv, ss) // cannot happen after authentication
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Go(func() { r.recheck(ctx, principalFrom(ctx).UserID, token, cancel) })
	err := next(srv, &reauthStream{ServerStream: ss, ctx: ctx})
	cancel(nil)
	wg.Wait()
	if errors.Is(context.Cause(ctx), errTokenInvalidated) {
		r.log.InfoContext(ctx, "stream ended: the token is no longer valid")
		return tokenNoLongerValid()
	}
	return err
}

// tokenNoLongerValid is how a stream ends once its caller's token stopped
// being valid: found by the re-check, or by a watch itself in the
// transaction it read notifications in (process.Engine.Watch).
func tokenNoLongerValid() error {
	return withInfo(codes.Unauthenticated, "the token is no longer valid (revoked, expired or its user disabled); the stream has ended", ReasonUnauthenticated, nil)
}

// recheck checks token, of userID, at once whenever a change through
// this instance revokes tokens of theirs (identity's Revoked: an admin
// disabling the user, revoking the token), and every r.every for what no
// change announces (an expiry, a change through another instance of a
// shared store), until ctx ends; it cancels ctx with errTokenInvalidated
// once the token is refused. Any other failure (the database busy or full) keeps the
// stream: the token is checked again at the next tick or revocation.
func (r streamReauth) recheck(ctx context.Context, userID, token string, cancel context.CancelCauseFunc) {
	tick := time.NewTicker(r.every)
	defer tick.Stop()
	// Taken before the first check, so that a revocation committed since
	// the call's authentication is seen by it, and one after by the wait.
	revoked := r.identity.Revoked(userID)
	for {
		if _, _, err := r.identity.Authenticate(ctx, token); errors.Is(err, identity.ErrUnauthenticated) {
			cancel(errTokenInvalidated)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-revoked:
			revoked = r.identity.Revoked(userID)
		}
	}
}

// reauthStream gives the handler the context that recheck cancels, and
// refuses to send once it is cancelled: a handler that sends in a loop
// (the backup) stops at its next message even if it does not watch the
// context.
type reauthStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *reauthStream) Context() context.Context { return s.ctx }

func (s *reauthStream) SendMsg(m any) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	return s.ServerStream.SendMsg(m)
}
