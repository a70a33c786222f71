package httpapi

import (
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRecoveredPanicAfterTheAnswerBegan: a handler that panics once its
// answer has begun (a stream, a file) cannot be answered 500: its
// connection is cut, so that the client sees a broken answer rather than
// a whole one, and the panic is logged once, by Recovered, without its
// value; net/http logs nothing of its own. A deliberate abort
// (http.ErrAbortHandler) is no fault: it is not logged.
func TestRecoveredPanicAfterTheAnswerBegan(t *testing.T) {
	const secret = "Trần Văn Bình"
	var logged, serverLog lockedBuffer
	h := Recovered(slog.New(slog.NewJSONHandler(&logged, nil)), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		_, _ = io.WriteString(w, "{\"first\":1}\n")
		_ = http.NewResponseController(w).Flush()
		if r.URL.Path == "/abort" {
			panic(http.ErrAbortHandler)
		}
		panic("while streaming " + secret)
	}))
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(&serverLog, "", 0)
	srv.Start()
	defer srv.Close()
	for _, path := range []string{"/stream", "/abort"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err == nil {
			t.Errorf("%s: %s, body %q read whole (%v); want the begun answer cut", path, resp.Status, body, err)
		}
	}
	srv.Close() // every connection's goroutine done, its logging too
	text := logged.String()
	if n := strings.Count(text, "panic in HTTP handler"); n != 1 || strings.Contains(text, secret) || !strings.Contains(text, `"http.path":"/stream"`) {
		t.Errorf("Recovered logged %d panics, want the stream's once, without its value:\n%s", n, text)
	}
	if s := serverLog.String(); s != "" {
		t.Errorf("net/http logged:\n%s", s)
	}
}
