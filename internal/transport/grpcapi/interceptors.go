package grpcapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/childcase/childcase/internal/domain/panics"
)

// RequestIDHeader carries a request's id in and out, over gRPC metadata and
// HTTP headers alike.
const RequestIDHeader = "x-request-id"

type requestIDKey struct{}

// RequestID returns the id of the request being served, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

var wellFormedRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// WellFormedRequestID reports whether a caller's request id is taken as
// it is: up to 64 letters, digits, dots, dashes and underscores, which
// gRPC metadata and a log line carry unchanged.
func WellFormedRequestID(id string) bool { return wellFormedRequestID.MatchString(id) }

// NewRequestID returns the id a request is logged under: the caller's
// own, given, when it is well formed, or a new random one.
func NewRequestID(given string) string {
	if WellFormedRequestID(given) {
		return given
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// withRequestID takes the caller's request id when it is well formed, or
// makes one, and echoes it in the response header so logs can be matched.
func withRequestID(ctx context.Context) context.Context {
	// One header, not the whole metadata copied (FromIncomingContext):
	// this runs for every call.
	var given string
	if v := metadata.ValueFromIncomingContext(ctx, RequestIDHeader); len(v) > 0 {
		given = v[0]
	}
	id := NewRequestID(given)
	_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDHeader, id))
	return context.WithValue(ctx, requestIDKey{}, id)
}

// requestIDUnary and requestIDStream give the request its id and the
// line it is logged on (see requestlog.go); they run before logging.
func requestIDUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	return next(withRequestLine(withRequestID(ctx)), req)
}

func requestIDStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	return next(srv, &wrappedStream{ServerStream: ss, ctx: withRequestLine(withRequestID(ss.Context()))})
}

type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (w *wrappedStream) Context() context.Context { return w.ctx }

// slogLogger adapts slog to the middleware's logging interface. The
// middleware logs only when a call finishes (see loggingOptions); that
// line takes in what was logged while serving the call, at the highest
// level among them.
func slogLogger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		level := slog.Level(lvl)
		if line := requestLineFrom(ctx); line != nil && line.leftToGateway() {
			return
		}
		if line := requestLineFrom(ctx); line != nil {
			folded, foldedLevel, ok := line.close()
			fields = append(fields, folded...)
			if ok {
				level = max(level, foldedLevel)
			}
		}
		l.Log(ctx, level, msg, withRefusalError(fields)...)
	})
}

// refusalKey carries a refused request's field paths and rules
// (refusalFields) from the middleware to slogLogger, which puts them in
// place of the error's text.
const refusalKey = "childcase.refusal"

// refusalFields are the log fields of a call refused as INVALID_ARGUMENT:
// each violation's field path and rule (screened as the audit trail's
// are), or its ErrorInfo reason, without the descriptions. A description
// is written for the caller and may, by a slip, quote the value sent (a
// search's commune_code did, a name or a phone typed into it): the log,
// kept and shipped elsewhere, does not depend on every description being
// right.
func refusalFields(err error) logging.Fields {
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		return nil
	}
	var said []string
	reason := ""
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				if r := screenedRefusal(v.GetField() + " " + v.GetReason()); r != "" {
					said = append(said, r)
				}
			}
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		}
	}
	if len(said) == 0 && reason != "" {
		said = append(said, reason)
	}
	return logging.Fields{refusalKey, "rpc error: code = InvalidArgument desc = invalid request: " + strings.Join(said, "; ")}
}

// withRefusalError returns fields with a refused call's grpc.error
// replaced by its refusalFields, when it has them.
func withRefusalError(fields []any) []any {
	refusal, at := "", -1
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] == refusalKey {
			refusal, at = fmt.Sprint(fields[i+1]), i
		}
	}
	if at < 0 {
		return fields
	}
	out := make([]any, 0, len(fields)-2)
	for i := 0; i+1 < len(fields); i += 2 {
		switch fields[i] {
		case refusalKey:
		case "grpc.error":
			out = append(out, fields[i], refusal)
		default:
			out = append(out, fields[i], fields[i+1])
		}
	}
	return out
}

// loggingOptions makes each call's one line. Besides the request id it
// names the client as the sign-in throttle does (clientAddress): a REST
// call reaches this server through the in-process gateway, whose link the
// middleware's own peer.address names ("bufconn"), so without it an
// operator could not tell which client a REST call came from.
func loggingOptions(clientAddress func(context.Context) string) []logging.Option {
	return []logging.Option{
		// Payloads are never logged: they hold children's data.
		logging.WithLogOnEvents(logging.FinishCall),
		// Nor are a refusal's descriptions (refusalFields).
		logging.WithErrorFields(refusalFields),
		logging.WithFieldsFromContext(func(ctx context.Context) logging.Fields {
			fields := logging.Fields{"client.address", clientAddress(ctx)}
			if id := RequestID(ctx); id != "" {
				fields = append(logging.Fields{"request_id", id}, fields...)
			}
			return fields
		}),
	}
}

// recoveryHandler turns a panic into Internal and logs its stack; the server
// keeps running.
func recoveryHandler(log *slog.Logger) recovery.Option {
	return recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in handler", panics.Attrs(p)...)
		return Internal()
	})
}

// Internal is the answer to a call the server failed for a fault of its
// own: INTERNAL, reason INTERNAL, and nothing of the fault.
func Internal() error {
	return withInfo(codes.Internal, "internal error", ReasonInternal, nil)
}

func (v *validator) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if err := v.check(ctx, req); err != nil {
		return nil, err
	}
	return next(ctx, req)
}

func (v *validator) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	return next(srv, &validatingStream{ServerStream: ss, v: v})
}

type validatingStream struct {
	grpc.ServerStream
	v *validator
}

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.v.check(s.Context(), m)
}

// unaryDeadline gives every unary call the server's own deadline, d after
// it starts (a client's earlier deadline still wins). A handler that runs
// out of time returns DeadlineExceeded through toStatus. Zero: no deadline.
func unaryDeadline(d time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if d <= 0 {
			return next(ctx, req)
		}
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return next(ctx, req)
	}
}

// StreamLimiter caps the server streams (WatchEvents, BackupDatabase,
// ExportCases) one authenticated user holds open at once, so that one
// client cannot pin an unbounded number of goroutines and database readers. A stream counts
// from the moment it is accepted until its handler returns, which happens
// when it ends or the client goes away.
//
// The streams that need no token (the health check's Watch, reflection)
// have no user: they are counted by client address instead,
// PublicStreamsPerAddress an address (an IPv6 one by its /64) and
// PublicStreamsTotal in all. Uncounted, one client with no token held
// thousands open (17 KB of the server's memory each), as many as it
// opened connections.
type StreamLimiter struct {
	perUser int

	mu          sync.Mutex
	open        map[string]int // user id -> open streams; absent when none
	public      map[string]int // client address -> open public streams
	publicTotal int
}

// The caps on the streams that need no token. A client checking health
// with Watch holds one per connection; the console and the REST gateway
// ask with Check, a unary call, which is not capped.
const (
	PublicStreamsPerAddress = 8
	PublicStreamsTotal      = 1024
)

// NewStreamLimiter returns a limiter allowing perUser open streams per
// user; perUser <= 0 means no cap. The public streams' caps are fixed.
func NewStreamLimiter(perUser int) *StreamLimiter {
	return &StreamLimiter{perUser: perUser, open: map[string]int{}, public: map[string]int{}}
}

// acquirePublic counts a public stream from addr, or returns the
// refusal naming the cap it would pass: the address's, or the server's
// total, which a client holding none of its own may meet.
func (l *StreamLimiter) acquirePublic(addr string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.public[addr] >= PublicStreamsPerAddress:
		return withInfo(codes.ResourceExhausted,
			fmt.Sprintf("too many open streams without a token: each client address may hold %d at once; close one and retry", PublicStreamsPerAddress),
			ReasonTooManyStreams, map[string]string{"limit": strconv.Itoa(PublicStreamsPerAddress)})
	case l.publicTotal >= PublicStreamsTotal:
		return withInfo(codes.ResourceExhausted,
			fmt.Sprintf("too many open streams without a token: the server holds %d at once from all clients; retry later", PublicStreamsTotal),
			ReasonTooManyStreams, map[string]string{"limit": strconv.Itoa(PublicStreamsTotal)})
	}
	l.public[addr]++
	l.publicTotal++
	return nil
}

func (l *StreamLimiter) releasePublic(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.publicTotal--
	if l.public[addr]--; l.public[addr] <= 0 {
		delete(l.public, addr)
	}
}

// publicStreamKey is the client address a public stream counts under:
// the connection's peer, an IPv6 address by its /64, which one client
// commonly holds whole.
func publicStreamKey(ctx context.Context) string {
	host := peerAddr(ctx)
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if a = a.Unmap(); a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// Open returns how many streams user holds open now.
func (l *StreamLimiter) Open(user string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[user]
}

func (l *StreamLimiter) acquire(user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perUser > 0 && l.open[user] >= l.perUser {
		return false
	}
	l.open[user]++
	return true
}

func (l *StreamLimiter) release(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[user]--; l.open[user] <= 0 {
		delete(l.open, user)
	}
}

// stream is the interceptor; it runs after authentication, so the
// principal is in the context. Public streams (health, reflection) have
// no user and are counted by client address.
func (l *StreamLimiter) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	if l == nil {
		return next(srv, ss)
	}
	user := principalFrom(ss.Context()).UserID
	if user == "" {
		addr := publicStreamKey(ss.Context())
		if err := l.acquirePublic(addr); err != nil {
			return err
		}
		defer l.releasePublic(addr)
		return next(srv, ss)
	}
	if !l.acquire(user) {
		return withInfo(codes.ResourceExhausted,
			fmt.Sprintf("too many open streams: each user may hold %d at once; close one and retry", l.perUser),
			ReasonTooManyStreams, map[string]string{"limit": strconv.Itoa(l.perUser)})
	}
	defer l.release(user)
	// The headers are the handler's to send: a watch sends them once it
	// is live, so that a client waiting for them (stream.Header) knows
	// its stream was accepted, counts, and misses nothing written next.
	return next(srv, ss)
}
