package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/transport/web"
)

// panickingAccounts is a console's sign-in with a bug: it panics, with a
// value that holds what was typed, as a careless fmt.Sprintf would.
type panickingAccounts struct{}

func (panickingAccounts) SignIn(_ context.Context, c web.Credentials) (web.Account, error) {
	panic("cannot sign in " + c.UserID + " with " + c.Password)
}

func (panickingAccounts) SignOut(context.Context, string, string) error { return nil }

// TestHTTPHandlerPanicIsAnsweredAndLoggedWithoutItsValue: a console
// handler that panics is answered 500 with a page that tells nothing of
// the panic, is logged once at ERROR with its stack but not the panic's
// value (which may hold what a person typed), and the server goes on
// answering its health check and the console. Without the recovery
// net/http dropped the connection, the browser had no answer at all, and
// its log line (at WARN) held the panic's value.
func TestHTTPHandlerPanicIsAnsweredAndLoggedWithoutItsValue(t *testing.T) {
	var lines logLines
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow), ConsoleAccounts: panickingAccounts{},
		Logger: slog.New(slog.NewJSONHandler(&lines, nil))})
	b := newBrowser(t, ts)
	const typed = "Nguyễn-Văn-An-secret"
	for range 2 { // the second proves the first left the server up
		_, page := b.get("/signin")
		resp, body := b.post("/signin", url.Values{"csrf": {csrfOf(t, page)}, "user": {operatorID}, "password": {typed}})
		if resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("sign-in whose handler panics: %s, want 500", resp.Status)
		}
		if strings.Contains(body, typed) || strings.Contains(body, "panic") || strings.Contains(body, "goroutine") ||
			!strings.Contains(body, `"code":13`) || !strings.Contains(body, `"reason":"INTERNAL"`) {
			t.Errorf("the 500 is not the API's INTERNAL error, or tells of the panic:\n%s", body)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("the 500's headers: %v", resp.Header)
		}
	}
	if resp, _ := b.get("/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz after the panics: %s", resp.Status)
	}
	logged := lines.text()
	if strings.Contains(logged, typed) {
		t.Errorf("the log holds the panic's value, what was typed:\n%s", logged)
	}
	if n := strings.Count(logged, `"msg":"panic in HTTP handler"`); n != 2 {
		t.Errorf("%d lines say a handler panicked, want 2:\n%s", n, logged)
	}
	if !strings.Contains(logged, `"level":"ERROR","msg":"panic in HTTP handler"`) || !strings.Contains(logged, "panickingAccounts") {
		t.Errorf("the panic is not logged at ERROR with its stack:\n%s", logged)
	}
}
