package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"google.golang.org/grpc/status"

	"github.com/childcase/childcase/internal/domain/panics"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// Recovered answers a request whose handler panics as the gRPC server
// answers a call whose handler panics: 500 with the API's INTERNAL error
// and nothing of the fault, logged once at ERROR with the panic's type
// and stack (panics.Attrs, never its value, which may hold what a
// person typed); the server goes on. Without it net/http logged the
// panic's value at WARN and dropped the connection: a browser saw no
// answer at all, and the log kept whatever the value held. A handler
// that had begun its answer cannot be answered again: its connection is
// cut (http.ErrAbortHandler), which net/http does without a word, as it
// does for a handler that aborts on purpose.
func Recovered(log *slog.Logger, next http.Handler) http.Handler {
	m := newJSONMarshaler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &startedWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p)
			}
			attrs := append([]any{"http.method", r.Method, "http.path", grpcapi.LoggedPath(r.URL.EscapedPath())}, panics.Attrs(p)...)
			log.ErrorContext(r.Context(), "panic in HTTP handler", attrs...)
			if rw.started {
				panic(http.ErrAbortHandler)
			}
			st, _ := status.FromError(grpcapi.Internal())
			body, err := m.Marshal(st.Proto())
			if err != nil {
				body = []byte(`{"code":13,"message":"internal error"}`) // not reached: a status always marshals
			}
			h := w.Header()
			for k := range h {
				if !keptOnPanic[k] {
					delete(h, k) // a half-made answer's cookie, length or type
				}
			}
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write(append(body, '\n'))
		}()
		next.ServeHTTP(rw, r)
	})
}

// keptOnPanic are the headers set before a handler that panicked which
// its 500 keeps: the security headers every answer has, and the request's
// id, which names its log line.
var keptOnPanic = map[string]bool{
	"Strict-Transport-Security": true, "X-Content-Type-Options": true, "X-Frame-Options": true,
	"Content-Security-Policy": true, "Referrer-Policy": true, "X-Request-Id": true,
}

// startedWriter notes whether an answer has begun: its status or a byte
// of its body has been sent on its way.
type startedWriter struct {
	http.ResponseWriter
	started bool
}

func (w *startedWriter) WriteHeader(code int) {
	// A 1xx status (103 Early Hints) is no answer yet.
	if code >= 200 {
		w.started = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *startedWriter) Write(p []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(p)
}

// FlushError is what http.ResponseController.Flush calls: a flush sends
// the status, and its error (a client gone, a write's deadline passed)
// reaches the streaming answer that flushed.
func (w *startedWriter) FlushError() error {
	w.started = true
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher for code that asks for one.
func (w *startedWriter) Flush() { _ = w.FlushError() }

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *startedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
