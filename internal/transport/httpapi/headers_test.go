package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/grpclog"
)

// grpcErrors holds what gRPC's own log (which the gateway writes to) said
// at the ERROR level during the package's tests: set before any gRPC
// call, as grpclog requires.
var grpcErrors lockedBuffer

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestMain(m *testing.M) {
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, &grpcErrors))
	os.Exit(m.Run())
}

// A REST request's headers are the caller's to send, and a header gRPC
// metadata cannot carry (a letter outside ASCII, a tab) is bad input like
// any other: the gateway skipped it, but wrote an ERROR line for it to
// the process's stderr, unstructured, outside the service's JSON log,
// one for each such request, with or without a token. The gateway passes
// on only the request id, when it is one the API takes (as the console
// does); the API makes an id of its own for any other, and reads no other
// header the gateway would forward.
func TestHeadersGRPCMetadataCannotCarryLogNothing(t *testing.T) {
	h := newTestHandler(t)
	for _, hdr := range [][2]string{
		{"X-Request-Id", "café"}, {"X-Request-Id", "a\tb"},
		{"Referer", "café"}, {"Accept-Language", "vi\tx"}, {"Grpc-Metadata-Note", "café"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/v1/cases", nil)
		req.Header.Set(hdr[0], hdr[1])
		h.ServeHTTP(httptest.NewRecorder(), req)
		if logged := grpcErrors.String(); strings.Contains(logged, "gRPC metadata") {
			t.Fatalf("%s: %q: gRPC's log says %q", hdr[0], hdr[1], logged)
		}
	}
}
