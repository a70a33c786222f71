package grpcapi

import (
	"context"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/childcase/childcase/internal/domain/identity"
)

// authTap refuses, on the public gRPC server, before its message is
// read, a unary call that needs a token and carries none (no
// authorization metadata, more than one, one that is no bearer token, or
// a bearer token not of a token's form). grpc-go reads a unary call's message
// before any interceptor runs: without the tap a client with no token
// made the server hold up to --max-concurrent-streams messages of
// --max-recv-msg-size per connection, each until the bound on its
// arrival, with no cap across connections
// (TestUnauthenticatedCallsHoldNoMessages). The refusal is the
// interceptors' own, through the same chain a refused call takes today
// (request id, the finished-call line, the RPC metrics, the sign-in
// throttle and its audit), so the client, the log and the trail see the
// same refusal. Its request id comes back otherwise: grpc-go answers a
// tap's refusal with the status alone (grpc-status, grpc-message and
// grpc-status-details-bin; no metadata of ours, so no x-request-id
// header), so the status carries it as a google.rpc.RequestInfo
// (TestTapRefusalCarriesItsRequestID). The tap reads no token from the
// store: a call with a token of the right form is left whole to the
// authenticator. A stream's request is read by its handler, after the
// authenticator, so streams are left to it too.
type authTap struct {
	auth *authenticator
	// refuse runs a refused call through the interceptors that come
	// before the authenticator (logging, metrics), with the
	// authenticator's refusal as the handler.
	refuse grpc.UnaryServerInterceptor
	// unary are the unary methods served; set once the services are
	// registered, before the server serves.
	unary map[string]bool
	next  tap.ServerInHandle // the tap after this one; nil: none
}

func (t *authTap) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	method := info.FullMethodName
	if !t.unary[method] || publicMethods[method] {
		return t.then(ctx, info)
	}
	if CarriesToken(info.Header.Get("authorization")) {
		return t.then(ctx, info) // for the authenticator to look up
	}
	// The same path as the interceptors: authenticate finds no token to
	// look up and refuses the call, counting it toward the throttle and
	// on the trail.
	ctx = withRequestLine(withRequestID(ctx))
	_, err := t.refuse(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, func(ctx context.Context, _ any) (any, error) {
		_, err := t.auth.authenticate(ctx, method, func() any { return nil })
		return nil, err
	})
	if err == nil {
		// Not reached: a call with no token is never authenticated.
		return t.then(ctx, info)
	}
	return nil, withRequestInfo(err, RequestID(ctx))
}

// withRequestInfo adds the request id to a refusal's status details, for
// a refusal that cannot carry the x-request-id header. An error that is
// no status, or a status that cannot take the detail, is returned as it
// is.
func withRequestInfo(err error, id string) error {
	st, ok := status.FromError(err)
	if !ok || id == "" {
		return err
	}
	withID, derr := st.WithDetails(&errdetails.RequestInfo{RequestId: id})
	if derr != nil {
		return err
	}
	return withID.Err()
}

func (t *authTap) then(ctx context.Context, info *tap.Info) (context.Context, error) {
	if t.next == nil {
		return ctx, nil
	}
	return t.next(ctx, info)
}

// chainUnary makes one interceptor of several, the first outermost.
func chainUnary(interceptors ...grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		h := next
		for i := len(interceptors) - 1; i >= 0; i-- {
			in, inner := interceptors[i], h
			h = func(ctx context.Context, req any) (any, error) { return in(ctx, req, info, inner) }
		}
		return h(ctx, req)
	}
}

// CarriesToken says whether the authorization values of a call (its
// metadata, or a REST request's headers) hold one bearer token of a
// token's form, which only the store can refuse; a call without one is
// refused whatever else it carries, before its message is read.
func CarriesToken(authorization []string) bool {
	token, why := bearerOf(authorization)
	if why != "" {
		return false
	}
	_, ok := identity.TokenID(token)
	return ok
}
