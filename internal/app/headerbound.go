package app

import (
	"io"
	"net/http"
)

// boundHeaders answers 431, as Go's server does itself, an HTTP/1 request
// whose request line and headers come to more than maxHeaderBytes. Go's
// server counts a request's head as it reads it from the connection
// (httpMaxHeaderBytes), but the bytes of a pipelined request that its
// reading of the request before took into its buffer (up to 4 KiB) are
// not counted again, so the second request of a pipeline passed with a
// head of up to 68 KiB. HTTP/2 has its own, lower bound (see
// httpMaxHeaderBytes).
func boundHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && headBytes(r) > maxHeaderBytes {
			h := w.Header()
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("Connection", "close")
			w.WriteHeader(http.StatusRequestHeaderFieldsTooLarge)
			_, _ = io.WriteString(w, "431 Request Header Fields Too Large")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// headBytes is the size of r's request line and headers as written, each
// line ended by CRLF, the blank line after them included. It is never more
// than what the client sent: a header's value is counted as Go read it,
// without the spaces around it, and a header Go took out counts as sent
// (Host, kept in r.Host) or not at all, so that no head Go's own bound
// let through is refused here.
func headBytes(r *http.Request) int {
	const crlf = 2
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + crlf
	if r.ProtoAtLeast(1, 1) {
		// Go refuses an HTTP/1.1 request without a Host header; of a
		// request to an absolute URI, it keeps the URI's host, and the
		// header's value, whatever it was, counts as none.
		n += len("Host: ") + crlf
		if !r.URL.IsAbs() {
			n += len(r.Host)
		}
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(": ") + len(v) + crlf
		}
	}
	return n + crlf
}
