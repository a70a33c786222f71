package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/childcase/childcase/internal/domain/clock"
)

// heldAccounts holds every sign-in until released, telling when one
// starts: a password hash that takes long.
type heldAccounts struct {
	started chan struct{}
	release chan struct{}
}

func (a heldAccounts) SignIn(context.Context, Credentials) (Account, error) {
	a.started <- struct{}{}
	<-a.release
	return Account{}, ErrRefused
}

func (heldAccounts) SignOut(context.Context, string, string) error { return nil }

// TestSignInsAtOnceAreBounded: each sign-in costs a password hash of 19
// MiB; past maxSignInsAtOnce running, a sign-in is answered "busy" at
// once instead of hashing too, so a flood of sign-in forms cannot
// exhaust the server's memory.
func TestSignInsAtOnceAreBounded(t *testing.T) {
	accts := heldAccounts{started: make(chan struct{}), release: make(chan struct{})}
	conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ts, client := serveConsole(t, conn, accts)
	form := url.Values{"csrf": {formValue(t, fetch(t, client, ts.URL+"/signin", nil), "csrf")}, "user": {"op"}, "password": {"guess"}}

	var wg sync.WaitGroup
	defer wg.Wait()
	released := false
	defer func() {
		if !released {
			close(accts.release)
		}
	}()
	for range maxSignInsAtOnce {
		wg.Go(func() { send(t, client, ts.URL+"/signin", form) })
		<-accts.started
	}
	answer := make(chan *http.Response, 1)
	wg.Go(func() { answer <- send(t, client, ts.URL+"/signin", form) })
	select {
	case <-accts.started:
		t.Fatalf("a sign-in past %d running started hashing too", maxSignInsAtOnce)
	case resp := <-answer:
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
			t.Errorf("a sign-in past %d running: %s, Retry-After %q; want 503 with Retry-After: 1, as the README says", maxSignInsAtOnce, resp.Status, resp.Header.Get("Retry-After"))
		}
	}
	close(accts.release)
	released = true
	wg.Wait()
	// The slots are free again.
	go func() { <-accts.started }()
	if resp := send(t, client, ts.URL+"/signin", form); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a sign-in once the others ended: %s, want the refusal", resp.Status)
	}
}

// serveConsole serves a console over an API connection, signing people in
// with accts, and returns a client of it that keeps cookies and does not
// follow redirects.
func serveConsole(t *testing.T, conn *grpc.ClientConn, accts Accounts) (*httptest.Server, *http.Client) {
	t.Helper()
	return serveConsoleWith(t, Config{Conn: conn, Accounts: accts})
}

// serveConsoleWith is serveConsole of cfg, with a fake clock and a
// discarded log.
func serveConsoleWith(t *testing.T, cfg Config) (*httptest.Server, *http.Client) {
	t.Helper()
	cfg.Clock = clock.NewFake(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC))
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(c.Handler())
	t.Cleanup(ts.Close)
	jar, _ := cookiejar.New(nil)
	return ts, &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
