package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/status"

	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// WithLogger sets the logger of the REST requests that the gateway refuses
// before they reach the gRPC server (see logRefused). Without it they are
// not logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

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
func logRefused(log *slog.Logger, write func(http.ResponseWriter), w http.ResponseWriter, r *http.Request, err error) {
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
		"http.method", r.Method, "http.path", r.URL.EscapedPath(), "http.status", rec.status,
		"grpc.code", status.Code(err).String(), "peer.address", r.RemoteAddr, "client.address", remoteHost(r),
	}
	if start, ok := r.Context().Value(startKey{}).(time.Time); ok {
		attrs = append(attrs, "time_ms", float64(time.Since(start).Microseconds())/1000)
	}
	log.Log(r.Context(), level, "finished call", attrs...)
}

// remoteHost is the address of the connection a REST request came on,
// without its port: the client.address of its line, as the gRPC server
// names the client of a call the gateway forwards (the last hop of
// X-Forwarded-For, which the gateway appends).
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
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
