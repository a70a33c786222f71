package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/status"

	"github.com/childcase/childcase/internal/transport/clientaddr"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// WithLogger sets the logger of the REST requests that the gateway refuses
// before they reach the gRPC server (see logRefused). Without it they are
// not logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithTrustedProxies names the reverse proxies whose X-Forwarded-For
// names the client of a request (--trusted-proxies): the client.address
// of the line of a request refused here, as the server names it for a
// call it answers.
func WithTrustedProxies(trusted []netip.Prefix) Option {
	return func(o *options) { o.trusted = trusted }
}

type startKey struct{}

// timed notes when a request arrived, for the duration on the line of a
// request the gateway refuses itself (the gateway's context derives from
// the request's).
func timed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), startKey{}, time.Now())))
	})
}

// reachedServer tells whether the gRPC server answered the call whose
// error the gateway is writing: the server gives every call it sees a
// request id in its response header, and the gateway keeps that header in
// the context. A request refused before the call (a parameter that is
// not UTF-8, a body that is no JSON or too large, an unknown route) has
// none.
func reachedServer(ctx context.Context) bool {
	md, ok := runtime.ServerMetadataFromContext(ctx)
	return ok && len(md.HeaderMD.Get(grpcapi.RequestIDHeader)) > 0
}

// logRefused writes err, the answer to a request the gRPC server never
// saw, and logs it as the one "finished call" line of that request, which
// the server's logging interceptor would otherwise have written: with a
// request id (the caller's X-Request-Id when well formed), also sent back,
// the method and path, the status and the duration; never the body.
func logRefused(log *slog.Logger, write func(http.ResponseWriter), w http.ResponseWriter, r *http.Request, err error, trusted []netip.Prefix) {
	id := grpcapi.NewRequestID(r.Header.Get(grpcapi.RequestIDHeader))
	w.Header().Set("X-Request-Id", id)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	write(rec)
	level := slog.LevelInfo
	if rec.status >= 500 {
		level = slog.LevelError
	}
	var withStatus *runtime.HTTPStatusError // a 405: its code is in Err
	if errors.As(err, &withStatus) {
		err = withStatus.Err
	}
	attrs := []any{
		"request_id", id, "protocol", "http",
		"http.method", r.Method, "http.path", grpcapi.LoggedPath(r.URL.EscapedPath()), "http.status", rec.status,
		"grpc.code", status.Code(err).String(), "peer.address", r.RemoteAddr, "client.address", clientHost(r, trusted),
	}
	if start, ok := r.Context().Value(startKey{}).(time.Time); ok {
		attrs = append(attrs, "time_ms", float64(time.Since(start).Microseconds())/1000)
	}
	log.Log(r.Context(), level, "finished call", attrs...)
}

// clientHost names the client of a REST request as the gRPC server names
// the client of a call the gateway forwards, and the sign-in throttle
// does (clientaddr): the connection's address, without its port, or,
// when that is a trusted proxy, the address the proxies saw.
func clientHost(r *http.Request, trusted []netip.Prefix) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	var hops []string
	if len(trusted) > 0 {
		hops = clientaddr.Hops(r.Header.Values("X-Forwarded-For"))
	}
	return clientaddr.Resolve(append(hops, peer), trusted)
}

// statusRecorder notes the status an answer was written with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
