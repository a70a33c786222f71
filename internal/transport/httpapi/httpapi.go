// Package httpapi is the HTTP transport: the REST gateway (grpc-gateway v2),
// the OpenAPI document, /healthz and /readyz. The gateway talks to our own gRPC server
// over a client connection (in memory, see package app), so every gRPC
// interceptor (validation, logging, and later authentication and audit) also
// runs for REST. It must not call the domain directly.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/api/openapi"
	"github.com/childcase/childcase/internal/transport/grpcapi"
	"github.com/childcase/childcase/internal/transport/reportfile"
)

// MaxBodyBytes bounds a request body; the largest valid report is far below.
const MaxBodyBytes = 1 << 20

// HSTS is the Strict-Transport-Security value sent when serving over TLS:
// two years, subdomains included.
const HSTS = "max-age=63072000; includeSubDomains"

// Option configures NewHandler.
type Option func(*options)

type options struct {
	console        http.Handler
	consoleStreams []string
	hsts           bool
	streamTimeout  time.Duration
	logger         *slog.Logger
	trusted        []netip.Prefix
	readiness      func() Readiness
	routeAudit     *grpcapi.RouteAudit
}

// WithRouteAudit puts the requests that no route takes (404, or 405 for
// a method their path does not take) on the audit trail through a: no
// call of the server sees them.
func WithRouteAudit(a *grpcapi.RouteAudit) Option {
	return func(o *options) { o.routeAudit = a }
}

// Readiness is what /readyz says of the server besides its gRPC health.
type Readiness int

const (
	// Ready: started, and not stopping.
	Ready Readiness = iota
	// Starting: what the server must do before it serves (open the
	// store, migrate it, ...) is not done.
	Starting
	// Draining: the server has begun to stop; it still answers while a
	// load balancer takes it out of rotation.
	Draining
)

// WithReadiness makes /readyz answer by ready as well as by the gRPC
// server's health: 200 only when ready says Ready and the gRPC server
// serves. Without it, /readyz follows the gRPC health alone.
func WithReadiness(ready func() Readiness) Option {
	return func(o *options) { o.readiness = ready }
}

// DefaultStreamWriteTimeout bounds each write of a streaming answer unless
// WithStreamWriteTimeout says otherwise. It is long because a client that
// limits its own rate reads in bursts: curl --limit-rate takes in what the
// connection holds (megabytes) at once, then reads nothing until its
// average rate has caught up, which at 60 KB/s is about 100 s. A backup is
// streamed from a snapshot file, so a slow reader holds back no writer;
// what a stalled client holds for this long is one of its user's streams.
const DefaultStreamWriteTimeout = 10 * time.Minute

// WithStreamWriteTimeout sets how long one write of a streaming answer
// (a watch, a backup download) may take before the answer is ended. Such
// answers are not bound by the server's WriteTimeout, which would cut a
// slow download or a long watch in the middle; as long as the client
// keeps reading they run on, and a client that stops reading is dropped.
func WithStreamWriteTimeout(d time.Duration) Option {
	return func(o *options) { o.streamTimeout = d }
}

// WithHSTS makes every response carry Strict-Transport-Security. Give it
// only when the handler is served over TLS: browsers ignore the header over
// plain HTTP, and it must not promise HTTPS that is not there.
func WithHSTS() Option { return func(o *options) { o.hsts = true } }

// WithConsole serves the web console at every path the API does not
// claim ("/" and below, but not "/v1/", "/openapi.json", "/healthz" or
// "/readyz").
// The console sets its own Content-Security-Policy over the API's. Its
// streams (server-sent events) are the routes that answer one: like the
// API's streaming routes, they get the streaming write bound instead of
// the server's WriteTimeout.
func WithConsole(h http.Handler, streams ...string) Option {
	return func(o *options) { o.console, o.consoleStreams = h, streams }
}

// NewHandler returns the HTTP handler for REST over conn, a client connection
// to our own gRPC server.
func NewHandler(ctx context.Context, conn *grpc.ClientConn, opts ...Option) (http.Handler, error) {
	o := options{streamTimeout: DefaultStreamWriteTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	jsonpb := newJSONMarshaler()
	routes, err := routesOf(openapi.JSON)
	if err != nil {
		return nil, err
	}
	gw := runtime.NewServeMux(
		// A route answers the method of its google.api.http rule and no
		// other: the gateway's POST-to-GET fallback (a form-encoded POST
		// served as the GET, the form read as its query, past the query's
		// UTF-8 check) and X-HTTP-Method-Override are ways round that the
		// README does not offer.
		runtime.WithDisablePathLengthFallback(),
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithRoutingErrorHandler(func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
			// The gateway's own answers carry no ErrorInfo, which every
			// error of this service does.
			switch httpStatus {
			case http.StatusNotFound:
				runtime.HTTPError(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: grpcapi.NoSuchRoute()})
				return
			case http.StatusMethodNotAllowed:
			default:
				runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
				return
			}
			allow := allowedMethods(routes, r.URL.EscapedPath())
			if allow == "" {
				// The gateway's pattern takes an empty segment
				// (/v1/cases/ as a case named "cases/") that no route
				// of the document does: a 405 would name no method.
				runtime.HTTPError(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: http.StatusNotFound, Err: grpcapi.NoSuchRoute()})
				return
			}
			// The gateway's default says 501, a fault of the server, for
			// what is the caller's mistake: 405, with the methods the
			// path takes (RFC 9110 15.5.6).
			w.Header().Set("Allow", allow)
			runtime.HTTPError(ctx, mux, m, w, r, &runtime.HTTPStatusError{
				HTTPStatus: http.StatusMethodNotAllowed,
				Err:        grpcapi.MethodNotAllowed(),
			})
		}),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, jsonpb),
		// Its decoder is the strict one too: the gateway picks a body's
		// decoder by the request's Content-Type.
		runtime.WithMarshalerOption(rawStreamAccept, rawStream{&runtime.HTTPBodyMarshaler{Marshaler: jsonpb}}),
		// The request id alone, of the caller's headers, goes on as
		// metadata (api passes on only one the API takes): the gRPC server
		// reads no other (the gateway adds authorization and
		// x-forwarded-for itself), and the gateway writes an ERROR line
		// of its own, outside the service's log, for each header value
		// gRPC metadata cannot carry.
		runtime.WithIncomingHeaderMatcher(func(h string) (string, bool) {
			if strings.EqualFold(h, grpcapi.RequestIDHeader) {
				return grpcapi.RequestIDHeader, true
			}
			return "", false
		}),
		runtime.WithErrorHandler(func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
			if bodyOverLimit(r) {
				// The gateway says 400 with the reader's bare message.
				err = &runtime.HTTPStatusError{HTTPStatus: http.StatusRequestEntityTooLarge, Err: grpcapi.BodyTooLarge(MaxBodyBytes)}
			}
			if !reachedServer(ctx) && refusedInput(err) {
				// A call refused here never met the server's
				// authentication, which comes before every rule: without
				// valid credentials it is 401 (or 429), whatever is wrong
				// with its input, and only a caller who may make the call
				// is told what is wrong with it. The request's id is
				// fixed first, so that the server's call (and the audit
				// of an admin's refused call) and the gateway's answer
				// and log line (logRefused) name the same one. A request
				// no route takes is refused for that, as with clean input.
				if method := routedMethod(ctx, routes, r); method == "" {
					err = routeRefusal(w, routes, r)
				} else {
					r.Header.Set(grpcapi.RequestIDHeader, grpcapi.NewRequestID(r.Header.Get(grpcapi.RequestIDHeader)))
					ctx, err = authenticationRefusal(ctx, mux, conn, r, method, err)
				}
			}
			if status, refused := routeRefused(err); refused && o.routeAudit != nil && !reachedServer(ctx) {
				// Before the answer, as a refused call's event is: the
				// request's id, fixed here, is the event's, the answer's
				// and its log line's (logRefused).
				id := grpcapi.NewRequestID(r.Header.Get(grpcapi.RequestIDHeader))
				r.Header.Set(grpcapi.RequestIDHeader, id)
				o.routeAudit.Record(ctx, grpcapi.RouteRefusal{
					Authorization: r.Header.Values("Authorization"), Client: clientHost(r, o.trusted), RequestID: id,
					Method: r.Method, Path: r.URL.EscapedPath(), Status: status,
				})
			}
			if wait, ok := retryDelay(err); ok {
				w.Header().Set("Retry-After", retryAfterSeconds(wait))
			}
			write := func(w http.ResponseWriter) {
				runtime.DefaultHTTPErrorHandler(ctx, mux, m, bearerChallenge{w}, r, validUTF8(pathParameterNamed(ctx, bodyFieldNamed(ctx, queryParameterNamed(ctx, err)))))
			}
			if o.logger == nil || reachedServer(ctx) {
				write(w) // logged by the gRPC server, once
				return
			}
			logRefused(o.logger, write, w, r, err, o.trusted)
		}),
		runtime.WithForwardResponseOption(watchHeadersOnceLive(jsonpb)),
		runtime.WithOutgoingHeaderMatcher(func(h string) (string, bool) {
			if h == "x-request-id" {
				return "X-Request-Id", true
			}
			return "", false
		}),
	)
	for _, register := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		pb.RegisterReportServiceHandler,
		pb.RegisterCaseServiceHandler,
		pb.RegisterUnitServiceHandler,
		pb.RegisterCaseProcessServiceHandler,
		pb.RegisterAdminServiceHandler,
		pb.RegisterPoliceUnitServiceHandler,
		pb.RegisterAuditServiceHandler,
		pb.RegisterStatisticsServiceHandler,
	} {
		if err := register(ctx, gw, conn); err != nil {
			return nil, fmt.Errorf("httpapi: register gateway: %w", err)
		}
	}
	health := healthpb.NewHealthClient(conn)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !routed(routes, r) {
			// The route is judged first, as no token and no input
			// changes it: 404, or 405 with Allow.
			runtime.HTTPError(r.Context(), gw, jsonpb, w, r, routeRefusal(w, routes, r))
			return
		}
		if !grpcapi.CarriesToken(r.Header.Values("Authorization")) {
			// Refused by the server whatever its input (401, or 429
			// when throttled), so its body is never read: a client
			// with no token made the gateway hold up to 1 MiB of each
			// request until it came whole (TestRESTWithoutATokenHoldsNoBody).
			r = withoutBody(r)
		}
		if coding, ok := encodedBody(r); ok {
			// RFC 7694 3: a 415 for a content coding names the codings
			// the server accepts.
			w.Header().Set("Accept-Encoding", "identity")
			runtime.HTTPError(r.Context(), gw, jsonpb, w, r, &runtime.HTTPStatusError{
				HTTPStatus: http.StatusUnsupportedMediaType,
				Err:        grpcapi.UnsupportedContentEncoding(coding),
			})
			return
		}
		if bad := unreadableQueryParams(r); len(bad) > 0 {
			runtime.HTTPError(r.Context(), gw, jsonpb, w, r, grpcapi.UnreadableQuery(bad...))
			return
		}
		if namelessQueryParam(r) {
			// Named by the query itself: a parameter of no name named
			// "request" (the field of a whole request) would say
			// something else.
			runtime.HTTPError(r.Context(), gw, jsonpb, w, r, grpcapi.BadQueryParameter("query",
				`holds a parameter without a name ("=value"), which no method reads: give every parameter its name`))
			return
		}
		if bad := notUTF8Params(routes, r); len(bad) > 0 {
			runtime.HTTPError(r.Context(), gw, jsonpb, w, r, grpcapi.NotUTF8(parameterNames(bad)...))
			return
		}
		if bad := escapedSlashParams(routes, r); len(bad) > 0 {
			runtime.HTTPError(r.Context(), gw, jsonpb, w, r, grpcapi.EscapedSlashInPath(bad...))
			return
		}
		if unread, read := unreadQuery(routes, r); len(unread) > 0 {
			runtime.HTTPError(r.Context(), gw, jsonpb, w, r, grpcapi.QueryNotRead(r.Method == http.MethodPost, read, parameterNames(unread)...))
			return
		}
		if bodyOnGet(r) {
			runtime.HTTPError(r.Context(), gw, jsonpb, w, r, grpcapi.BodyNotRead())
			return
		}
		if id := r.Header.Get(grpcapi.RequestIDHeader); id != "" && !grpcapi.WellFormedRequestID(id) {
			// The API would make an id of its own for it anyway, as the
			// console leaves it out (grpcapi.WellFormedRequestID).
			r = r.Clone(r.Context())
			r.Header.Del(grpcapi.RequestIDHeader)
		}
		gw.ServeHTTP(w, r)
	})

	mux := http.NewServeMux()
	mux.Handle("/v1/", timed(limitBody(api)))
	mux.Handle(watchRoute, timed(streaming(o.streamTimeout, limitBody(refusedBeforeStream(api)))))
	mux.Handle(backupRoute, timed(streaming(o.streamTimeout, rawAnswer(api))))
	// The statistical reports are files too (google.api.HttpBody): their
	// bytes, with their content type, through the same gateway and
	// interceptors as every other call.
	for _, route := range reportRoutes {
		mux.Handle(route, timed(limitBody(rawAnswer(printablePolicy(api)))))
	}
	mux.Handle(exportRoute, timed(streaming(o.streamTimeout, rawAnswer(api))))
	// The paths beside the API take GET (and so HEAD) only. Without a
	// pattern of every method for them, the console's "/" would take
	// their other methods and answer its HTML 404 page.
	for _, path := range []string{"/openapi.json", "/healthz", "/readyz"} {
		mux.Handle(path, getOnly(gw, jsonpb))
	}
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.JSON)
	})
	if o.console != nil {
		mux.Handle("/", limitBody(o.console))
		for _, route := range o.consoleStreams {
			mux.Handle(route, streaming(o.streamTimeout, limitBody(o.console)))
		}
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// Ask the gRPC server, so /healthz fails when it has stopped serving.
		resp, err := health.Check(r.Context(), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			http.Error(w, "not serving", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		state := Ready
		if o.readiness != nil {
			state = o.readiness()
		}
		if state == Ready {
			resp, err := health.Check(r.Context(), &healthpb.HealthCheckRequest{})
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				state = Starting
			}
		}
		writeReadiness(w, jsonpb, state)
	})
	return securityHeaders(retryAfter(innerTypeOff(cleanAPIPaths(mux, gw, jsonpb))), o.hsts), nil
}

// writeReadiness answers /readyz: 200 {"status":"ready"}, or 503 with the
// API's error (grpcapi.NotReady), JSON either way, and nothing about the
// data. A load balancer or Kubernetes probes it often: the answer is not
// logged, as /healthz's is not.
func writeReadiness(w http.ResponseWriter, m runtime.Marshaler, state Readiness) {
	w.Header().Set("Content-Type", "application/json")
	if state == Ready {
		_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
		return
	}
	st, _ := status.FromError(grpcapi.NotReady(state == Draining))
	body, err := m.Marshal(st.Proto())
	if err != nil {
		body = []byte(`{"code":14,"message":"not ready"}`) // not reached: a status always marshals
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(append(body, '\n'))
}

// cleanAPIPaths answers a request whose path names the API (/v1,
// /healthz, /readyz, /openapi.json), or would once cleaned, and is not in its
// clean form (a doubled slash, a "." or ".." segment; /v1 without its
// slash) with 404 NOT_FOUND, as any path no route takes. Go's mux
// redirects such a path to its cleaned form (307): a client following
// redirects, its token with it, would reach another resource than the
// one it named (/v1/cases/A/../B is case B), and a console path
// (/static/../v1/cases) would send a browser into the API. Other paths
// (the console's) keep the mux's redirect, which stays outside the API.
func cleanAPIPaths(next http.Handler, gw *runtime.ServeMux, m runtime.Marshaler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		escaped := r.URL.EscapedPath()
		unclean := escaped == "/v1" || cleanPath(escaped) != escaped ||
			// /healthz/ is no console page: the console's HTML 404
			// would tell a probe with a stray slash nothing it reads.
			strings.HasSuffix(escaped, "/") && apiPath(strings.TrimSuffix(escaped, "/"))
		if r.Method != http.MethodConnect && unclean && (apiPath(escaped) || apiPath(cleanPath(escaped)) || apiPath(strings.TrimSuffix(escaped, "/"))) {
			runtime.HTTPError(r.Context(), gw, m, w, r, &runtime.HTTPStatusError{HTTPStatus: http.StatusNotFound, Err: grpcapi.NoSuchRoute()})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// apiPath says whether an escaped path is one of the API's or beside it.
func apiPath(p string) bool {
	return p == "/v1" || strings.HasPrefix(p, "/v1/") || p == "/healthz" || p == "/readyz" || p == "/openapi.json"
}

// cleanPath is the path net/http's ServeMux routes p by (its cleanPath):
// p without "." and ".." segments and doubled slashes, keeping a
// trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		if len(p) == len(np)+1 && strings.HasPrefix(p, np) {
			return p
		}
		np += "/"
	}
	return np
}

// getOnly answers a request to a path that takes GET and HEAD only
// (/healthz, /readyz, /openapi.json), made with another method, as a /v1/ route
// answers one: 405, the Allow header, the JSON error, and a log line
// through the gateway's error handler.
func getOnly(gw *runtime.ServeMux, m runtime.Marshaler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		runtime.HTTPError(r.Context(), gw, m, w, r, &runtime.HTTPStatusError{
			HTTPStatus: http.StatusMethodNotAllowed,
			Err:        grpcapi.MethodNotAllowed(),
		})
	})
}

// encodedBody returns the request's Content-Encoding when it names a
// coding other than identity (RFC 9110 8.4): the gateway would read the
// coded bytes as they are and refuse them as broken JSON. A request is
// refused for the header whatever its method, with a body or without:
// the client said its body is coded, and no route decodes one.
func encodedBody(r *http.Request) (string, bool) {
	values := r.Header.Values("Content-Encoding")
	for _, v := range values {
		for _, coding := range strings.Split(v, ",") {
			if c := strings.TrimSpace(coding); c != "" && !strings.EqualFold(c, "identity") {
				return quotable(strings.Join(values, ", ")), true
			}
		}
	}
	return "", false
}

// bodyOnGet says whether r is a GET whose body says something, sent with
// a Content-Length or chunked: the gateway reads none for a GET, so a
// filter written in it would be dropped unseen. A body that says nothing
// (empty, spaces, or an empty JSON object {}, which some clients send
// with every request) drops nothing and passes. Nothing else reads a
// GET's body; it is capped as every body is (limitBody).
func bodyOnGet(r *http.Request) bool {
	if r.Method != http.MethodGet || r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return false
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return true // over the cap: it says something
	}
	raw = bytes.TrimSpace(raw)
	var members map[string]json.RawMessage
	return len(raw) > 0 && (json.Unmarshal(raw, &members) != nil || len(members) > 0)
}

// quotableLen bounds what a refusal quotes of a header's value: enough
// to recognise it, never a header's 1 MiB back in the answer and the log.
const quotableLen = 64

// quotable returns v as a refusal may quote it: valid UTF-8, and cut to
// quotableLen bytes, with "…" where it was cut.
func quotable(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	if len(v) <= quotableLen {
		return v
	}
	cut := quotableLen
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + "…"
}

// authenticationRefusal returns the server's verdict on r, a call the
// gateway refused for its input (inputErr), and the context that carries
// the server's answer (its request id; the server logs the call, once).
// The server authenticates the caller for the call's method, with or
// without a bearer token, as it does every call, but runs no handler
// (grpcapi.InputRefusedHeader): a refusal made up here would be out of
// the sight of the sign-in throttle and its audit, so that a client could
// send any number of calls with no token, or a revoked, expired or
// guessed one, unseen, told about its input, and a throttled one would
// not be answered 429. A caller who may make the call gets inputErr.
func authenticationRefusal(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn, r *http.Request, method string, inputErr error) (context.Context, error) {
	// Without the client's grpc-timeout, which the gateway may have
	// refused (a value it cannot read): the server answers this call at
	// once.
	r = r.Clone(r.Context())
	r.Header.Del("Grpc-Timeout")
	callCtx, err := runtime.AnnotateContext(r.Context(), mux, r, method)
	if err != nil {
		return ctx, grpcapi.Unauthenticated() // not reached: no annotator of the mux's refuses
	}
	callCtx = metadata.AppendToOutgoingContext(callCtx, grpcapi.InputRefusedHeader, inputRefusal(ctx, inputErr))
	var md runtime.ServerMetadata
	err = conn.Invoke(callCtx, method, pathRequest(method, r), &emptypb.Empty{}, grpc.Header(&md.HeaderMD), grpc.Trailer(&md.TrailerMD))
	if err == nil || grpcapi.IsInputRefused(err) {
		// Authenticated, and the role may call the method: the server's
		// grpcapi.InputRefused (nil is not reached: the server runs no
		// handler). The input's refusal stands, and is logged here, with
		// its HTTP status: the server left the request's line to the
		// gateway.
		return ctx, inputErr
	}
	return runtime.NewServerMetadataContext(ctx, md), err
}

// routedMethod is the gRPC method of the route r takes, "" for none.
func routedMethod(ctx context.Context, routes []paramRoute, r *http.Request) string {
	if method, ok := runtime.RPCMethod(ctx); ok {
		return method
	}
	// Refused before the gateway routed it (a query that is not UTF-8, a
	// parameter the method does not read, a Content-Encoding).
	return rpcOf(routes, r)
}

// routeRefusal is the answer to a request refused for its input whose
// path no route takes with its method: what the same request with clean
// input is answered, 405 with the Allow header when the path takes other
// methods, else 404, whoever sends it. The route is judged before the
// input; a made-up refusal of the input would describe it to a caller
// the server never authenticated, out of sight of the throttle.
func routeRefusal(w http.ResponseWriter, routes []paramRoute, r *http.Request) error {
	if allow := allowedMethods(routes, r.URL.EscapedPath()); allow != "" {
		w.Header().Set("Allow", allow)
		return &runtime.HTTPStatusError{HTTPStatus: http.StatusMethodNotAllowed, Err: grpcapi.MethodNotAllowed()}
	}
	return &runtime.HTTPStatusError{HTTPStatus: http.StatusNotFound, Err: grpcapi.NoSuchRoute()}
}

// inputRefusal is inputErr as the server's audit of an admin's refused
// call names it (grpcapi.InputRefusal): by the field and rule the answer
// will name, or the refusal's code.
func inputRefusal(ctx context.Context, inputErr error) string {
	err := inputErr
	var se *runtime.HTTPStatusError
	if errors.As(err, &se) {
		err = se.Err
	}
	if refusal := grpcapi.InputRefusal(pathParameterNamed(ctx, bodyFieldNamed(ctx, queryParameterNamed(ctx, err)))); refusal != "" {
		return refusal
	}
	return grpcapi.ReasonInvalidField
}

// routeRefused returns the status of err when it refuses a request for
// its path or method (404, 405), which no call of the server saw.
func routeRefused(err error) (int, bool) {
	var se *runtime.HTTPStatusError
	if !errors.As(err, &se) || (se.HTTPStatus != http.StatusNotFound && se.HTTPStatus != http.StatusMethodNotAllowed) {
		return 0, false
	}
	return se.HTTPStatus, true
}

// refusedInput says whether err refuses the request's input (its body,
// query or path values: INVALID_ARGUMENT, with a 400 or a 413), not its
// route or method, which no token changes.
func refusedInput(err error) bool {
	var se *runtime.HTTPStatusError
	if errors.As(err, &se) {
		err = se.Err
	}
	return status.Code(err) == codes.InvalidArgument
}

// innerTypeOff drops an Accept or Content-Type of the client's that names
// rawStreamAccept, the type by which rawAnswer picks the file answers'
// marshaler. The gateway picks its marshaler by either header (the
// Content-Type's when no Accept matches), so a client naming that type
// made a watch's notifications run together with no newline between
// them; rawAnswer sets it afterwards on the routes it belongs to.
func innerTypeOff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if namesInnerType(r.Header.Values("Accept")) || namesInnerType(r.Header.Values("Content-Type")) {
			r = r.Clone(r.Context())
			for _, h := range []string{"Accept", "Content-Type"} {
				if namesInnerType(r.Header.Values(h)) {
					r.Header.Del(h)
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// namesInnerType says whether a header's values name rawStreamAccept,
// in any case, with or without parameters.
func namesInnerType(values []string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t, _, _ = strings.Cut(t, ";")
			if strings.EqualFold(strings.TrimSpace(t), rawStreamAccept) {
				return true
			}
		}
	}
	return false
}

// The routes of the server-streaming methods (their google.api.http
// rules): they get streaming's write bound instead of the server's.
const (
	watchRoute  = "GET /v1/notifications:watch"
	backupRoute = "GET /v1/database:backup"
	exportRoute = "GET /v1/cases:export"
)

// reportRoutes are the routes of the methods that answer a file in one
// google.api.HttpBody (the statistical reports).
var reportRoutes = []string{"GET /v1/statistics:actionMonthReport", "GET /v1/statistics:periodicReport"}

// streaming lifts the server's WriteTimeout for a streaming answer, which
// may rightly run for hours, and bounds each write by d instead: before a
// write or flush the write deadline moves to d from now, and after a flush
// it is lifted again, so that a watch with nothing to say for a while is
// not cut either. A client that stops reading makes a write wait; after d
// it fails, and the gateway ends the answer (and cancels the gRPC stream).
func streaming(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// Set before the server's own deadline has passed: once passed, an
		// HTTP/2 stream cannot be given more time.
		_ = rc.SetWriteDeadline(time.Time{})
		next.ServeHTTP(&progressWriter{ResponseWriter: w, rc: rc, d: d}, r)
	})
}

// progressWriter is the ResponseWriter of a streaming answer; see
// streaming. It keeps the writer's other interfaces through Unwrap.
type progressWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *progressWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	return w.ResponseWriter.Write(p)
}

// FlushError is what http.ResponseController.Flush (used by the gateway)
// calls.
func (w *progressWriter) FlushError() error {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	if err := w.rc.Flush(); err != nil {
		return err
	}
	return w.rc.SetWriteDeadline(time.Time{})
}

// Flush implements http.Flusher for code that asks for one.
func (w *progressWriter) Flush() { _ = w.FlushError() }

// Unwrap lets http.ResponseController reach the server's writer.
func (w *progressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// queryParameterRefusal matches the gateway's refusals of a query
// parameter it cannot read into its field, which name the field only in
// their message.
var queryParameterRefusal = regexp.MustCompile(`^(?:parsing field|parsing list) "([a-z0-9_]+)": `)

// queryParameterRepeated matches the gateway's refusal of a singular
// field given more than once (?page_size=1&page_size=2), which names the
// field and then gives only the values ("1, 2"), saying nothing of what
// is wrong with them.
var queryParameterRepeated = regexp.MustCompile(`^too many values for field "([a-z0-9_]+)": (.*)$`)

// queryParameterTwice matches the gateway's refusal of a field given in
// the query under its name and its JSON name (?page_size=1&pageSize=2),
// which names the field and says nothing else.
var queryParameterTwice = regexp.MustCompile(`^duplicate field "([a-z0-9_]+)"$`)

// queryParameterNamed returns a gateway's refusal of a query parameter as
// INVALID_ARGUMENT naming the field and the rule (grpcapi.BadQueryParameter),
// any other error as it is. An enum's refusal begins with the names the
// field takes, as a body's does (bodyFieldNamed): the gateway's "is not a
// valid value" left a newcomer who typed the status the export shows
// (AWAITING_ACKNOWLEDGEMENT, without CASE_STATUS_) to guess.
func queryParameterNamed(ctx context.Context, err error) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument || len(st.Details()) > 0 {
		return err
	}
	if m := queryParameterTwice.FindStringSubmatch(st.Message()); m != nil {
		return grpcapi.BadQueryParameter(m[1], "is given twice, under its name and its JSON name: send it once")
	}
	if m := queryParameterRepeated.FindStringSubmatch(st.Message()); m != nil {
		// Not the values it came as: a search's are a child's name and
		// phone (see queryValueWords).
		return grpcapi.BadQueryParameter(m[1], "is given more than once: send it once")
	}
	m := queryParameterRefusal.FindStringSubmatch(st.Message())
	if m == nil {
		return err
	}
	words := queryValueWords(strings.TrimPrefix(st.Message(), m[0]))
	if takes := valueTaken(ctx, m[1]); strings.HasPrefix(takes, enumWords) {
		words = "takes " + takes + "; " + words
	}
	return grpcapi.BadQueryParameter(m[1], words)
}

// goQuoted is a value as Go's errors quote it (%q).
const goQuoted = `"(?:[^"\\]|\\.)*"`

var (
	numberRefusal  = regexp.MustCompile(`^strconv\.Parse(Int|Uint|Float|Bool): parsing ` + goQuoted + `: (invalid syntax|value out of range)$`)
	timeRefusal    = regexp.MustCompile(`^parsing time ` + goQuoted + `|before 0001-01-01$`)
	quotedValue    = regexp.MustCompile(goQuoted)
	leadingValue   = regexp.MustCompile(`^` + goQuoted + ` `)
	valueFreeWords = "cannot be read as the value of this field"
)

// queryValueWords says why the gateway could not read a query value in
// the product's words, what the field takes ("is not a whole number"),
// rather than in Go's ("strconv.ParseInt: parsing \"lots\": invalid
// syntax"), and never quotes the value: a search's query parameters are
// a child's name, birth date and phone, and an answer ends up in the
// client's logs and in proxies' (a name typed into birth_year or sent
// twice would be there). A refusal in other words (an enum's "is not a
// valid value") is kept without the value it quotes.
func queryValueWords(refusal string) string {
	if m := numberRefusal.FindStringSubmatch(refusal); m != nil {
		switch kind := m[1]; {
		case m[2] == "value out of range":
			return "is too large or too small a number"
		case kind == "Int":
			return "is not a whole number"
		case kind == "Uint":
			return "is not a whole number of 0 or more"
		case kind == "Float":
			return "is not a number"
		}
		return "is not true or false"
	}
	if timeRefusal.MatchString(refusal) {
		return "is not a time such as 2026-11-28T09:00:00+07:00 (RFC 3339)"
	}
	if leadingValue.MatchString(refusal) {
		return leadingValue.ReplaceAllString(refusal, "")
	}
	if quotedValue.MatchString(refusal) {
		return valueFreeWords
	}
	return refusal
}

// pathVariable matches a variable of a route's path pattern and what it
// matches: "{name=cases/*}".
var pathVariable = regexp.MustCompile(`\{([a-z_]+)=([^}]+)\}`)

// pathParameterNamed returns a refusal that names a field the route's
// path sets (name, parent) naming the path parameter instead, as the
// OpenAPI document does: the generator calls the parameter after the
// collection before the pattern's last "*" ("cases/*" is {case},
// "users/*/tokens/*" {token}), and so does a refusal of a path value that
// is not UTF-8 or holds an escaped slash. Any other error is returned as
// it is.
func pathParameterNamed(ctx context.Context, err error) error {
	pattern, ok := runtime.HTTPPathPattern(ctx)
	if !ok {
		return err
	}
	params := map[string]string{}
	for _, m := range pathVariable.FindAllStringSubmatch(pattern, -1) {
		segments := strings.Split(m[2], "/")
		for i := len(segments) - 1; i > 0; i-- {
			if segments[i] == "*" {
				params[m[1]] = strings.TrimSuffix(segments[i-1], "s")
				break
			}
		}
	}
	if len(params) == 0 {
		return err
	}
	return grpcapi.RenameFields(err, func(field string) (string, bool) {
		name, ok := params[field]
		return name, ok
	})
}

// bodyRefusalPrefix begins the decoder's refusal of a REST body, which
// the gateway passes on as a bare INVALID_ARGUMENT message.
const bodyRefusalPrefix = "the body is not a valid JSON value of the request: "

// protojson names a field whose value it cannot read by its JSON name
// (callType), and one it does not know, or finds twice, or finds beside
// another member of its oneof (a reporter both anonymous and
// identified), as the body wrote it.
var (
	bodyValueRefusal = regexp.MustCompile(`invalid value for [A-Za-z0-9_.]+ field ([A-Za-z0-9_]+): `)
	bodyFieldRefusal = regexp.MustCompile(`(unknown|duplicate) field "([A-Za-z0-9_]+)"|error parsing "([A-Za-z0-9_]+)", oneof [A-Za-z0-9_.]+ is already set`)
	// The decoder puts the path of the place a refusal names (bodyPath)
	// before protojson's own words (which it spaces with a no-break space
	// as often as with a space); the two above name a leaf only, for a
	// refusal that names no place.
	bodyPlaceRefusal = regexp.MustCompile(`^([A-Za-z0-9_.\[\]]+): (proto:.*|` + regexp.QuoteMeta(loneSurrogateWords) + `)$`)
)

// loneSurrogateWords says why a string holding half a surrogate pair
// (loneSurrogateAt) cannot be read, in place of protojson's bare
// "unexpected EOF".
const loneSurrogateWords = `holds an escaped half of a UTF-16 surrogate pair (\ud800 to \udfff) without its other half, which is no character: was the text cut in the middle of an emoji?`

// methodDescriptor is the schema's descriptor of the method the gateway
// routed the call to; false before routing.
func methodDescriptor(ctx context.Context) (protoreflect.MethodDescriptor, bool) {
	method, ok := runtime.RPCMethod(ctx)
	if !ok {
		return nil, false
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(method, "/"), "/", ".")))
	md, ok := d.(protoreflect.MethodDescriptor)
	return md, err == nil && ok
}

// bodyFieldPrefix is "report." when the route of the call takes the
// request's report field as its body ("body": "report"), "" when it takes
// the whole request ("body": "*"), so that a path in the body is a path in
// the request.
func bodyFieldPrefix(ctx context.Context) string {
	md, ok := methodDescriptor(ctx)
	if !ok {
		return ""
	}
	rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	if body := rule.GetBody(); body != "" && body != "*" {
		return body + "."
	}
	return ""
}

// bodyPath is the path in the body of the place a decoder's refusal
// names (bodyPathAt), with the member a refusal of an unknown or repeated
// field, or of a second member of a oneof, names; "" when it names none.
func bodyPath(body []byte, refusal string) string {
	path, atKey, ok := bodyPathAt(body, refusal)
	switch {
	case !ok:
		return ""
	case !atKey:
		return path
	}
	m := bodyFieldRefusal.FindStringSubmatch(refusal)
	if m == nil {
		return ""
	}
	if path == "" {
		return refusedField(m)
	}
	return path + "." + refusedField(m)
}

// refusedField names the member a bodyFieldRefusal match refuses: an
// unknown one as the body wrote it, since it is no field of the schema,
// and one found twice (once as receive_time, once as receiveTime) or a
// second member of a oneof as the schema names it, as every other
// refusal of a field of the schema does.
func refusedField(m []string) string {
	switch {
	case m[3] != "":
		return protoName(m[3])
	case m[1] == "duplicate":
		return protoName(m[2])
	}
	return m[2]
}

// bodyFieldNamed returns the decoder's refusal of a REST body as
// INVALID_ARGUMENT naming the field by its path in the request, as the
// schema names it and as the service's own checks do
// ("report.children[0].estimated_age_years", the route's body being the
// request's report), and the rule (grpcapi.BadBody); "body" when the
// refusal names no field (broken JSON). Any other error is returned as it
// is.
func bodyFieldNamed(ctx context.Context, err error) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument || len(st.Details()) > 0 {
		return err
	}
	description, ok := strings.CutPrefix(st.Message(), bodyRefusalPrefix)
	if !ok {
		return err
	}
	field := "body"
	if m := bodyPlaceRefusal.FindStringSubmatch(description); m != nil {
		field, description = bodyFieldPrefix(ctx)+m[1], m[2]
		if takes := valueTaken(ctx, field); takes != "" && m[2] != loneSurrogateWords {
			description = "takes " + takes + "; " + description
		}
	} else if m := bodyValueRefusal.FindStringSubmatch(description); m != nil {
		field = protoName(m[1])
	} else if m := bodyFieldRefusal.FindStringSubmatch(description); m != nil {
		field = refusedField(m)
	} else if bodyNotJSON.MatchString(description) {
		if takes := bodyTaken(ctx); takes != "" {
			description = "takes " + takes + ", whatever its Content-Type; " + description
		}
	}
	// The decoder may quote the body's bytes, which need not be UTF-8; a
	// detail that is not cannot be marshalled.
	return grpcapi.BadBody(field, strings.ToValidUTF8(withoutValue(description), "\uFFFD"))
}

// bodyNotJSON matches the decoder's refusal of a body whose first
// character begins no JSON value: a form (curl -d 'channel=...'), XML.
// The decoder's words say neither that the body is JSON nor what it
// holds; the refusal begins with what it takes (bodyTaken). protojson
// follows "proto:" with a space or a no-break space, as a hash of the
// binary draws (bodyPlaceRefusal): \s alone takes no U+00A0.
var bodyNotJSON = regexp.MustCompile(`^proto:[\s\x{00a0}]+syntax error \(line 1:1\): `)

// bodyTaken says what JSON value the body of the call's route is, as
// valueWords says a field's: the field the route takes as its body
// (CreateReport's report), or for a route that takes the whole request
// ("body": "*", a step) an object of the request's fields but those its
// path sets (the case's name). "" before routing.
func bodyTaken(ctx context.Context) string {
	md, ok := methodDescriptor(ctx)
	if !ok {
		return ""
	}
	rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	if body := rule.GetBody(); body != "" && body != "*" {
		if fd := md.Input().Fields().ByName(protoreflect.Name(body)); fd != nil {
			return valueWords(fd)
		}
		return ""
	}
	inPath := map[string]bool{}
	if pattern, ok := runtime.HTTPPathPattern(ctx); ok {
		for _, m := range pathVariable.FindAllStringSubmatch(pattern, -1) {
			inPath[m[1]] = true
		}
	}
	return objectWords(md.Input(), func(f protoreflect.FieldDescriptor) bool { return !inPath[string(f.Name())] })
}

// decoderQuotes match protojson's refusals that quote the value they
// could not read, each with what is kept of it: the field, the place and
// what was wrong. The value may be a child's or a reporter's name sent
// in the wrong field (a name where the reporter's object belongs, a
// word where an age does), and an answer ends up in the client's logs
// and in proxies': a refusal names the field, what it takes and the
// place in the body, never the value. The first that matches applies.
var decoderQuotes = []struct {
	quote *regexp.Regexp
	kept  string
}{
	{regexp.MustCompile(`(?s)(invalid value for [A-Za-z0-9_.]+ (?:field [A-Za-z0-9_]+|key)): .*$`), "$1"},
	{regexp.MustCompile(`(?s)(google\.protobuf\.[A-Za-z]+ value out of range): .*$`), "$1"},
	{regexp.MustCompile(`(?s)(invalid google\.protobuf\.[A-Za-z]+ value|@type field value is not a string|invalid google\.protobuf\.Value|contains invalid path|unable to resolve)[: ].*$`), "$1"},
	{regexp.MustCompile(`(?s)(unexpected token|invalid value) .*$`), "$1"},
	{regexp.MustCompile(`(?s)unexpected character .*, (missing ":" after field name)$`), "$1"},
	{regexp.MustCompile(`(?s)invalid (escape code|character) .* (in string|at start of string)$`), "invalid $1 $2"},
	// A member's name is quoted as the field it names, unless no field
	// could be called so (a name sent as a key).
	{regexp.MustCompile(`(?s)(unknown field|duplicate field) "[^"]*[^A-Za-z0-9_"][^"]*"`), "$1"},
}

// fieldShaped matches what a field of the schema, or a parameter named
// after one, may be called.
var fieldShaped = regexp.MustCompile(`^[A-Za-z0-9_.\[\]]+$`)

// parameterNames returns the names of query parameters as a refusal names
// them: one that no field could be called ("Nguyễn Văn An", a query
// written ?Nguyễn%20Văn%20An without its child_name=) is "*". The
// refusal's field goes into the answer, and its field and rule onto the
// audit trail, which is in the clear.
func parameterNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n
		if !fieldShaped.MatchString(n) {
			out[i] = "*"
		}
	}
	return out
}

// withoutValue returns a decoder's refusal without the value it quotes
// (decoderQuotes).
func withoutValue(refusal string) string {
	for _, q := range decoderQuotes {
		if q.quote.MatchString(refusal) {
			return q.quote.ReplaceAllString(refusal, q.kept)
		}
	}
	return refusal
}

// listIndex matches the index of a list's item at the end of a path
// segment: "children[1]".
var listIndex = regexp.MustCompile(`\[[0-9]+\]$`)

// valueTaken says what JSON value the field at path (as bodyFieldNamed
// names it: "report.children[1].sex") of the call's request takes, in
// the client's terms: protojson's refusal of a value of the wrong kind
// ("unexpected token \"Ông A\"") says what it found, not what the field
// wants (an object with full_name and role). "" when path names no field
// of the request.
func valueTaken(ctx context.Context, path string) string {
	md, ok := methodDescriptor(ctx)
	if !ok {
		return ""
	}
	msg := md.Input()
	segments := strings.Split(path, ".")
	for i, segment := range segments {
		name := listIndex.ReplaceAllString(segment, "")
		fd := msg.Fields().ByName(protoreflect.Name(name))
		if fd == nil || fd.IsMap() {
			return ""
		}
		item := name != segment
		if i == len(segments)-1 {
			if fd.IsList() && !item {
				return "a JSON list, each item " + valueWords(fd)
			}
			return valueWords(fd)
		}
		if fd.Message() == nil || fd.IsList() != item {
			return ""
		}
		msg = fd.Message()
	}
	return ""
}

// enumWords begin what valueWords says an enum's value is.
const enumWords = "one of the names "

// maxNamesTaken bounds the fields or enum names valueWords lists.
const maxNamesTaken = 8

// valueWords says what JSON value one value of fd is, as protojson reads it.
func valueWords(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp":
			return `a time such as "2026-11-28T09:00:00+07:00" (RFC 3339)`
		case "google.protobuf.Duration":
			return `a duration such as "3600s"`
		case "google.type.Date":
			return `a JSON object {"year", "month", "day"}`
		}
		return objectWords(fd.Message(), func(protoreflect.FieldDescriptor) bool { return true })
	case protoreflect.StringKind:
		return "a JSON string"
	case protoreflect.BoolKind:
		return "true or false"
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		var names []string
		for i := range values.Len() {
			if v := values.Get(i); v.Number() != 0 {
				names = append(names, string(v.Name()))
			}
		}
		if len(names) > maxNamesTaken {
			names = append(names[:maxNamesTaken], "...")
		}
		return enumWords + strings.Join(names, ", ")
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "a number"
	case protoreflect.BytesKind:
		return "base64 text"
	}
	return "a whole number" // the integer kinds
}

// objectWords says what JSON object a message is: the fields a request
// may set in it (not the output-only ones) that keep says the body holds.
func objectWords(md protoreflect.MessageDescriptor, keep func(protoreflect.FieldDescriptor) bool) string {
	var names []string
	fields := md.Fields()
	for i := range fields.Len() {
		if f := fields.Get(i); !grpcapi.OutputOnly(f) && keep(f) {
			names = append(names, `"`+string(f.Name())+`"`)
		}
	}
	if len(names) > maxNamesTaken {
		names = append(names[:maxNamesTaken], "...")
	}
	return "a JSON object {" + strings.Join(names, ", ") + "}"
}

// protoName is the schema's name of a field from its JSON name: protoc
// makes callType of call_type.
func protoName(jsonName string) string {
	var b strings.Builder
	for _, r := range jsonName {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// validUTF8 returns err with its message made valid UTF-8: an error can
// quote the bytes of a bad request (a decoder's message does), and a
// status whose message is not UTF-8 cannot be marshalled, which the
// gateway would answer with a 500.
func validUTF8(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		msg := err.Error()
		if utf8.ValidString(msg) {
			return err
		}
		return errors.New(strings.ToValidUTF8(msg, "\uFFFD"))
	}
	if utf8.ValidString(st.Message()) {
		return err
	}
	p := st.Proto()
	p.Message = strings.ToValidUTF8(p.GetMessage(), "\uFFFD")
	return status.FromProto(p).Err()
}

// DefaultRetryAfter is the Retry-After of a 429 whose error says no delay
// of its own (a full database, too many open streams): a client should
// not come back sooner.
const DefaultRetryAfter = time.Minute

// retryDelay returns the delay the RetryInfo of a gRPC error asks for.
func retryDelay(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// retryAfterSeconds writes a delay as Retry-After seconds, rounded up and
// at least one: a client told 0 would retry at once.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
}

// retryAfter makes every 429 say when to retry: the error handler sets
// the delay of the error's RetryInfo; a 429 without one (or written by
// the gateway's stream path, which bypasses the error handler) gets
// DefaultRetryAfter.
func retryAfter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(retryAfterWriter{w}, r)
	})
}

type retryAfterWriter struct{ http.ResponseWriter }

func (w retryAfterWriter) WriteHeader(code int) {
	if code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", retryAfterSeconds(DefaultRetryAfter))
	}
	w.ResponseWriter.WriteHeader(code)
}

// Flush keeps streaming answers (watch, backup) flowing through the
// wrapper; the gateway needs an http.Flusher.
func (w retryAfterWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the connection's writer.
func (w retryAfterWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// rawStreamAccept selects the rawStream marshaler for the paths that
// answer a file in google.api.HttpBody chunks (the database backup, the
// statistical reports). It is
// a name of our own, so that no other path changes for a client that
// happens to accept it; the answer's Content-Type is the chunks'.
const rawStreamAccept = "application/x.childcase.raw-stream"

// rawStream writes a stream of HttpBody messages as the bare bytes of
// their data, with their content type. The gateway's default puts a
// newline after every message of a stream, which would corrupt a file;
// errors are still JSON.
type rawStream struct{ *runtime.HTTPBodyMarshaler }

// Delimiter implements runtime.Delimited: nothing between chunks.
func (rawStream) Delimiter() []byte { return nil }

// Marshal implements runtime.Marshaler. The gateway wraps a stream's error
// in a chunk of its own, {"error": status}, a shape made for a stream of
// {"result": ...} lines like the watch's. A file answers none of those, so
// its error is the google.rpc.Status at the top, as every other call
// answers one (a refused export or backup reads like a refused GetCase).
func (m rawStream) Marshal(v any) ([]byte, error) {
	if chunk, ok := v.(map[string]proto.Message); ok && len(chunk) == 1 && chunk["error"] != nil {
		return m.HTTPBodyMarshaler.Marshal(chunk["error"])
	}
	return m.HTTPBodyMarshaler.Marshal(v)
}

// printablePolicy gives an answer that is the printable report
// (reportfile.HTML) that page's own Content-Security-Policy, which lets
// in its inline style, in place of the API's, which lets in nothing.
func printablePolicy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&policyWriter{ResponseWriter: w}, r)
	})
}

// policyWriter sets the printable page's policy as its header is sent,
// when the gateway has set the answer's content type.
type policyWriter struct {
	http.ResponseWriter
	sent bool
}

func (w *policyWriter) WriteHeader(code int) {
	if !w.sent {
		w.sent = true
		if w.Header().Get("Content-Type") == reportfile.HTML.ContentType() {
			w.Header().Set("Content-Security-Policy", reportfile.HTMLPolicy())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *policyWriter) Write(p []byte) (int, error) {
	if !w.sent {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap keeps the writer's other interfaces (http.ResponseController).
func (w *policyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// watchHeadersOnceLive sends a watch's response headers as soon as the
// watch is live, as the gRPC server does (grpcapi's WatchEvents sends its
// headers then), not with its first line: the gateway writes them only
// with a line, and a client that bounds its wait for the headers (Go's
// ResponseHeaderTimeout, a proxy's) would give up on a quiet queue. The
// gateway calls a forward-response option with no message as a stream
// begins; the gRPC server's headers say whether the watch went live
// (grpcapi.WatchLiveHeader), while a watch refused before (no token, a bad
// after_seq) is answered with its status (refusedBeforeStream).
func watchHeadersOnceLive(m runtime.Marshaler) func(context.Context, http.ResponseWriter, proto.Message) error {
	return func(ctx context.Context, w http.ResponseWriter, msg proto.Message) error {
		if msg != nil {
			return nil
		}
		if method, _ := runtime.RPCMethod(ctx); method != pb.CaseProcessService_WatchEvents_FullMethodName {
			return nil
		}
		if md, ok := runtime.ServerMetadataFromContext(ctx); !ok || len(md.HeaderMD.Get(grpcapi.WatchLiveHeader)) == 0 {
			return nil
		}
		w.Header().Set("Content-Type", m.ContentType(nil))
		w.WriteHeader(http.StatusOK)
		if err := http.NewResponseController(w).Flush(); err != nil {
			return fmt.Errorf("httpapi: send a watch's headers: %w", err)
		}
		return nil
	}
}

// refusedBeforeStream makes a watch refused before its first line (no
// token, a bad after_seq) answer as every other call does: the gateway
// writes a stream's error itself, past the error handler, as a chunk
// {"error": status} made for the stream's {"result": ...} lines. Before a
// line was sent there is no stream to fit, so the status stands at the top
// and a 401 carries the Bearer challenge; an error once lines were sent
// stays a chunk of the stream.
func refusedBeforeStream(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&refusalWriter{ResponseWriter: bearerChallenge{w}}, r)
	})
}

// refusalWriter is refusedBeforeStream's writer: it unwraps the error chunk
// of an answer whose status is an error, and sends one status only. A
// watch live before its first line has its 200 sent already
// (watchHeadersOnceLive); if it then ends in an error (a stop, a revoked
// token), the gateway, which counts only the lines it wrote, writes the
// error's status too, which net/http would drop with a warning in the log.
type refusalWriter struct {
	http.ResponseWriter
	sent, refused bool
}

func (w *refusalWriter) WriteHeader(code int) {
	if w.sent {
		return
	}
	w.sent, w.refused = true, code >= http.StatusBadRequest
	w.ResponseWriter.WriteHeader(code)
}

func (w *refusalWriter) Write(p []byte) (int, error) {
	if !w.sent {
		w.WriteHeader(http.StatusOK)
	}
	if w.refused {
		var chunk map[string]json.RawMessage
		if json.Unmarshal(p, &chunk) == nil && len(chunk) == 1 && chunk["error"] != nil {
			if _, err := w.ResponseWriter.Write(chunk["error"]); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap keeps the writer's other interfaces (http.ResponseController).
func (w *refusalWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// rawAnswer makes the gateway answer with rawStream, which it picks by
// the Accept header, whatever Accept the client sent.
// A refusal of a streamed file is written by the gateway itself, past the
// error handler: bearerChallenge gives its 401 the challenge too.
func rawAnswer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Accept", rawStreamAccept)
		next.ServeHTTP(bearerChallenge{w}, r)
	})
}

// oneValueJSON is the gateway's JSON marshaler with a stricter decoder: a
// request body is exactly one JSON value. The gateway's own decoder reads
// the first value and ignores whatever follows, so `{...}}}` or two
// reports in one body would be taken as the first one. Its arrays are
// read up to keepItems items (see cutLongArrays).
type oneValueJSON struct {
	*runtime.JSONPb
	keepItems uint64
}

func newJSONMarshaler() oneValueJSON {
	return oneValueJSON{
		JSONPb: &runtime.JSONPb{
			// Field names as in the schema and the OpenAPI document
			// (page_size, receive_time, ...), and enums by name.
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		},
		keepItems: grpcapi.LargestListLimit() + 1,
	}
}

// NewDecoder implements runtime.Marshaler. A body is read whole (it is
// capped at MaxBodyBytes) and decoded by protojson, which refuses anything
// after the value; encoding/json, which the gateway's decoder uses to
// find the value's end first, reads a megabyte in about 15 ms.
func (m oneValueJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		raw, err := io.ReadAll(r)
		if err != nil {
			return err // *http.MaxBytesError for a body over the cap
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			return io.EOF // an empty body, as the gateway expects
		}
		if bytes.HasPrefix(raw, byteOrderMark) {
			// Refused as strictly as any body that is no JSON, but in
			// words: protojson's quote the invisible mark.
			return fmt.Errorf("%sbegins with a byte order mark (U+FEFF), which JSON sent over a network must not (RFC 8259 8.1): send the body without it", bodyRefusalPrefix)
		}
		msg, ok := messageTarget(v)
		if !ok {
			return fmt.Errorf("httpapi: cannot decode a request body into %T", v)
		}
		body := cutLongArrays(raw, int(m.keepItems))
		if err := m.UnmarshalOptions.Unmarshal(body, msg); err != nil {
			path := bodyPath(body, err.Error())
			if half := loneSurrogatePath(body); half != "" && (path == "" || path == half) {
				// protojson's words for it ("unexpected EOF", "invalid
				// escape code") tell of something else.
				return fmt.Errorf("%s%s: %s", bodyRefusalPrefix, half, loneSurrogateWords)
			}
			if path != "" {
				return fmt.Errorf("%s%s: %w", bodyRefusalPrefix, path, err)
			}
			return fmt.Errorf("%s%w", bodyRefusalPrefix, err)
		}
		return nil
	})
}

// byteOrderMark is U+FEFF in UTF-8, as an editor saving "UTF-8 with BOM"
// puts it before a file's text.
var byteOrderMark = []byte("\ufeff")

// messageTarget returns the message a gateway decodes a body into: v
// itself, or *v (allocated) when v points to a message field of the
// request ("body": "report").
func messageTarget(v any) (proto.Message, bool) {
	if msg, ok := v.(proto.Message); ok {
		return msg, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Pointer {
		return nil, false
	}
	field := rv.Elem()
	if field.IsNil() {
		field.Set(reflect.New(field.Type().Elem()))
	}
	msg, ok := field.Interface().(proto.Message)
	return msg, ok
}

// withoutBody is r with an empty body, which the gateway decodes as an
// empty request, unread: the HTTP server discards or cuts off what was
// sent of it once the answer is written.
func withoutBody(r *http.Request) *http.Request {
	r = r.Clone(r.Context())
	r.Body, r.ContentLength, r.TransferEncoding = http.NoBody, 0, nil
	r.Header.Del("Content-Length")
	return r
}

// limitBody caps a request body at MaxBodyBytes, chunked or not, and
// keeps the capped body in the request's context, so that the gateway's
// error handler can tell a body over the limit (413) from one it could not
// decode (400): the gateway turns every decoding error, the cap's
// included, into INVALID_ARGUMENT carrying only the error's text.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := &cappedBody{ReadCloser: http.MaxBytesReader(w, r.Body, MaxBodyBytes)}
		r = r.WithContext(context.WithValue(r.Context(), cappedBodyKey{}, body))
		r.Body = body
		next.ServeHTTP(w, r)
	})
}

type cappedBodyKey struct{}

// cappedBody is a request body under http.MaxBytesReader that notes
// whether a read went past the cap. The gateway reads it in the handler's
// goroutine, which also runs the error handler.
type cappedBody struct {
	io.ReadCloser
	over bool
}

func (b *cappedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		b.over = true
	}
	return n, err
}

// bodyOverLimit reports whether r's body was read past MaxBodyBytes.
func bodyOverLimit(r *http.Request) bool {
	b, ok := r.Context().Value(cappedBodyKey{}).(*cappedBody)
	return ok && b.over
}

func securityHeaders(next http.Handler, hsts bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if hsts {
			h.Set("Strict-Transport-Security", HSTS)
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// bearerChallenge makes a 401 carry a valid RFC 6750 challenge; the
// gateway's default copies the status message into WWW-Authenticate.
type bearerChallenge struct{ http.ResponseWriter }

func (b bearerChallenge) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		b.Header().Set("WWW-Authenticate", `Bearer realm="childcase"`)
	}
	b.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's writer (to
// flush a streamed file).
func (b bearerChallenge) Unwrap() http.ResponseWriter { return b.ResponseWriter }
