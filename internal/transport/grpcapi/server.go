// Package grpcapi is the gRPC transport: it registers the childcase services,
// health and reflection on a grpc.Server, validates requests against the
// schema's rules, converts between protobuf and domain records and maps
// domain errors to status codes in one place. Handlers stay thin: validate,
// call the domain, map the error. It must not hold process logic.
package grpcapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/search"
	"github.com/childcase/childcase/internal/domain/stats"
	"github.com/childcase/childcase/internal/domain/units"
)

// Deps are what the handlers need.
type Deps struct {
	Intake  *intake.Service
	Search  *search.Service // nil: SearchCases is unavailable
	Process *process.Engine
	// Statistics counts the records of a caller's scope and makes the
	// statistical reports.
	Statistics *stats.Service
	Identity   *identity.Service
	Audit      *auditlog.Log
	Keys       KeyRotator     // nil: RotateMasterKey is unavailable
	Backup     DatabaseBackup // nil: BackupDatabase is unavailable
	Units      *units.Registry
	Clock      clock.Clock
	Log        *slog.Logger
	// Gateway marks the server that only the in-process REST gateway
	// reaches (over an in-memory connection). It trusts the client address
	// the gateway forwards in x-forwarded-for; the public server does not.
	Gateway bool
	// UnaryTimeout is the server's own deadline for every unary call (the
	// client's, when earlier, still wins); zero: none. Streams are not
	// bounded by it, only their token's lookup: they end when the client
	// goes away.
	UnaryTimeout time.Duration
	// RequestArrival bounds the time from a call's start until its
	// request is in, a stream's too (requestArrival); zero: no bound.
	RequestArrival time.Duration
	// StreamSendTimeout bounds each message of a server stream: a message
	// the client's flow control holds back longer ends the stream with
	// DEADLINE_EXCEEDED (STREAM_STALLED; see sendBound). Zero: no bound,
	// for the gateway's server, whose REST answers are bound per HTTP
	// write instead (package httpapi): its only client is the gateway,
	// which reads on as long as the REST client does.
	StreamSendTimeout time.Duration
	// StreamRecheck is how often an open server stream checks that its
	// caller's token is still valid; zero: DefaultStreamRecheck.
	StreamRecheck time.Duration
	// PageTokenKey authenticates page tokens (see NewPageTokenKey); give
	// both servers the same key, so a token from a REST page works over
	// gRPC and back. Empty: a key of this server's own.
	PageTokenKey []byte
	// SignIns throttles and audits failed sign-ins; share one between the
	// public and the gateway server so that a client's failures count
	// once. Nil: one of this server's own, whose last refusals are
	// written only when a later one ends their window.
	SignIns *SignInGuard
	// TrustedProxies are the reverse proxies whose x-forwarded-for names
	// the client, for the sign-in throttle and its audit.
	TrustedProxies []netip.Prefix
	// Cases names the case of a record a refused call named, for its
	// audit; nil: refused calls are audited without their case.
	Cases CaseResolver
	// Streams caps the server streams each user holds open at once; share
	// one between the public and the gateway server so that a user's
	// streams count once whichever way they came. Nil: no cap.
	Streams *StreamLimiter
	// Metrics counts and times every call (the RPC metrics); they run
	// after logging, before authentication, so that refused calls count
	// too. Nil: none.
	UnaryMetrics  grpc.UnaryServerInterceptor
	StreamMetrics grpc.StreamServerInterceptor
}

// Server is the gRPC server with its health service.
type Server struct {
	*grpc.Server
	Health *health.Server
	// watches ends the open watches at shutdown (EndWatches).
	watches *shutdownSignal
}

// EndWatches ends every WatchEvents stream open on this server, and every
// one opened after, with UNAVAILABLE (SHUTTING_DOWN) naming the after_seq
// to resume with. A watch never finishes by itself: a graceful stop
// would otherwise wait for it until the shutdown timeout runs out.
func (s *Server) EndWatches() { s.watches.raise() }

// NewServer builds the gRPC server: interceptors (recovery first, then the
// end of the bound on the request's arrival (arrival.go), request id,
// logging, authentication and method rules, the limits, validation; the
// unary and stream chains match), the childcase services, health and
// reflection. Authentication comes before validation so that nobody learns
// anything about the schema's rules without a token. The limits come after
// authentication: the per-user stream cap needs the user, and the unary
// deadline bounds the handler's work (an expired context during sign-in
// would read as "authentication is unavailable"); the stream re-check
// (streamauth.go) needs the caller's token checked first, and the bound
// on a stream's sends (streamsend.go) comes inside the cap, which it
// frees by ending the stream. The audit of every call of a signed-in user
// (callaudit.go) comes right after authentication, so that it wraps
// everything that may refuse a call after it: the deadline, the stream
// cap, the answer to the REST gateway's call for a request whose input it
// refused (auth.go's inputRefusedUnary and inputRefusedStream), the
// schema's rules and the handler. Requests are
// decoded by the screening codec, which cuts lists over their max_items and
// notes strings that are not UTF-8 for the validator to refuse (see
// screen.go).
func NewServer(d Deps, opts ...grpc.ServerOption) (*Server, error) {
	v, err := newValidator(d.Log)
	if err != nil {
		return nil, fmt.Errorf("grpcapi: protovalidate: %w", err)
	}
	pages, err := newPageTokens(d.PageTokenKey)
	if err != nil {
		return nil, fmt.Errorf("grpcapi: %w", err)
	}
	reauth := streamReauth{identity: d.Identity, every: d.StreamRecheck, log: d.Log}
	if reauth.every <= 0 {
		reauth.every = DefaultStreamRecheck
	}
	logger := slogLogger(d.Log)
	if d.SignIns == nil {
		d.SignIns = NewSignInGuard(d.Audit, d.Clock, d.Log)
	}
	auth := &authenticator{identity: d.Identity, audit: d.Audit, guard: d.SignIns, cases: d.Cases, clock: d.Clock,
		gateway: d.Gateway, trusted: d.TrustedProxies, lookupTimeout: d.UnaryTimeout}
	calls := callAudit{audit: d.Audit, refused: d.SignIns.calls, cases: d.Cases, clock: d.Clock, log: d.Log}
	logUnary := logging.UnaryServerInterceptor(logger, loggingOptions(auth.clientAddr)...)
	taps := &authTap{auth: auth, refuse: chainUnary(logUnary, orNoUnary(d.UnaryMetrics))}
	if d.RequestArrival > 0 {
		taps.next = requestArrival(d.RequestArrival).tap
	}
	switch {
	case !d.Gateway:
		opts = append(opts, grpc.InTapHandle(taps.tap))
	case taps.next != nil:
		// The gateway's calls carry the REST request's body, which the
		// HTTP server read and bounded already; its answers must carry
		// the request id (X-Request-Id, and the gateway's one log line),
		// which a refusal in the tap cannot.
		opts = append(opts, grpc.InTapHandle(taps.next))
	}
	opts = append(opts,
		grpc.NumStreamWorkers(uint32(streamWorkers())),
		grpc.ForceServerCodecV2(newScreeningCodec()),
		// grpc-go's own answer to an unknown method has no ErrorInfo.
		grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error { return NoSuchMethod() }),
		grpc.ChainUnaryInterceptor(
			recovery.UnaryServerInterceptor(recoveryHandler(d.Log)),
			arrivedUnary,
			requestIDUnary,
			logUnary,
			orNoUnary(d.UnaryMetrics),
			// Before the authenticator: the token's lookup and the
			// call's audit read and write the store too, and a client
			// that sets no deadline (curl through the gateway) would
			// otherwise wait on them for as long as the store does not
			// answer (an etcd cluster gone).
			unaryDeadline(d.UnaryTimeout),
			auth.unary,
			noteActorUnary,
			calls.unary,
			auth.inputRefusedUnary,
			v.unary,
		),
		grpc.ChainStreamInterceptor(
			recovery.StreamServerInterceptor(recoveryHandler(d.Log)),
			arrivedStream,
			requestIDStream,
			logging.StreamServerInterceptor(logger, loggingOptions(auth.clientAddr)...),
			orNoStream(d.StreamMetrics),
			auth.stream,
			noteActorStream,
			calls.stream,
			auth.inputRefusedStream,
			d.Streams.stream,
			reauth.stream,
			sendBound{d: d.StreamSendTimeout, log: d.Log}.stream,
			v.stream,
		),
	)
	s := grpc.NewServer(opts...)
	watches := newShutdownSignal()
	pb.RegisterReportServiceServer(s, &reportServer{pages: pages, intake: d.Intake, log: d.Log})
	pb.RegisterCaseServiceServer(s, &caseServer{pages: pages, intake: d.Intake, process: d.Process, search: d.Search, identity: d.Identity, clock: d.Clock, log: d.Log})
	pb.RegisterUnitServiceServer(s, &unitServer{pages: pages, units: d.Units, clock: d.Clock, log: d.Log})
	pb.RegisterCaseProcessServiceServer(s, &processServer{pages: pages, engine: d.Process, identity: d.Identity, clock: d.Clock, log: d.Log, stopping: watches})
	pb.RegisterAdminServiceServer(s, &adminServer{pages: pages, identity: d.Identity, keys: d.Keys, backup: d.Backup, audit: d.Audit, clock: d.Clock, log: d.Log})
	pb.RegisterPoliceUnitServiceServer(s, &policeUnitServer{identity: d.Identity, pages: pages, log: d.Log})
	pb.RegisterStatisticsServiceServer(s, &statisticsServer{stats: d.Statistics, log: d.Log})
	pb.RegisterAuditServiceServer(s, &auditServer{pages: pages, log: d.Audit, identity: d.Identity, clock: d.Clock, logger: d.Log})

	taps.unary = unaryMethods(s)

	hs := health.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	for name := range s.GetServiceInfo() {
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	if err := registerReflection(s); err != nil {
		s.Stop() // its stream workers started with it
		return nil, err
	}
	return &Server{Server: s, Health: hs, watches: watches}, nil
}

// unaryMethods are the full names of the unary methods of s.
func unaryMethods(s *grpc.Server) map[string]bool {
	m := map[string]bool{}
	for service, info := range s.GetServiceInfo() {
		for _, method := range info.Methods {
			if !method.IsClientStream && !method.IsServerStream {
				m["/"+service+"/"+method.Name] = true
			}
		}
	}
	return m
}

// orNoUnary and orNoStream stand in for an interceptor not configured.
func orNoUnary(i grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	if i != nil {
		return i
	}
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		return next(ctx, req)
	}
}

func orNoStream(i grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	if i != nil {
		return i
	}
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		return next(srv, ss)
	}
}

// streamWorkers is how many goroutines the server keeps to serve calls
// (grpc.NumStreamWorkers), one per core: a call is handed to an idle one
// and only when all are busy to a goroutine started for it. A worker's
// stack has grown to what a call needs; a goroutine started per call
// grows its own by copying, at every call (see
// TestSequentialCallsAreServedByStandingWorkers). grpc-go ends and
// restarts each worker after 65,536 calls, so that a stack grown once by
// a deep call is not held for ever.
func streamWorkers() int { return runtime.GOMAXPROCS(0) }
