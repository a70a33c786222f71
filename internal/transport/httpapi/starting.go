package httpapi

import "net/http"

// StartingHandler answers every request of a server that is starting,
// before its store is open and the API's handler exists: 503 with the
// API's error (UNAVAILABLE, "not ready: the server is starting ..."), as
// /readyz answers then. A probe reads "not ready" at once rather than
// wait on a port that answers nothing until it times out, and nothing is
// served before the store is open: /healthz, the API, the console and
// the OpenAPI document all answer the same. hsts as WithHSTS.
func StartingHandler(hsts bool) http.Handler {
	m := newJSONMarshaler()
	return securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeReadiness(w, m, Starting)
	}), hsts)
}
