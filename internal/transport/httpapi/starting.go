package httpapi

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// StartingHandler answers every request of a server that is starting,
// before its store is open and the API's handler exists: 503 with the
// API's error (UNAVAILABLE, "not ready: the server is starting ..."), as
// /readyz answers then. A probe reads "not ready" at once rather than
// wait on a port that answers nothing until it times out, and nothing is
// served before the store is open: /healthz, the API, the console and
// the OpenAPI document all answer the same. hsts as WithHSTS. A request
// of the API (/v1/...) is answered as the API answers every request,
// with its request id in X-Request-Id and one "finished call" line in
// log (at WARN, as the gRPC server logs an UNAVAILABLE call), so that a
// client's report of it names a line the operator finds; the client is
// named through trusted as WithTrustedProxies does.
func StartingHandler(hsts bool, log *slog.Logger, trusted []netip.Prefix) http.Handler {
	m := newJSONMarshaler()
	return securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.EscapedPath(); p == "/v1" || strings.HasPrefix(p, "/v1/") {
			id := grpcapi.NewRequestID(r.Header.Get(grpcapi.RequestIDHeader))
			w.Header().Set("X-Request-Id", id)
			// Before the answer, which a client may have read before a
			// line written after it.
			log.Warn("finished call", "request_id", id, "protocol", "http",
				"http.method", r.Method, "http.path", grpcapi.LoggedPath(p), "http.status", http.StatusServiceUnavailable,
				"grpc.code", codes.Unavailable.String(), "peer.address", r.RemoteAddr, "client.address", clientHost(r, trusted))
		}
		writeReadiness(w, m, Starting)
	}), hsts)
}
