package web

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
)

// heldPasswords takes every link, and holds every password being set
// until released, telling when one starts: a password hash that takes
// long.
type heldPasswords struct {
	started chan struct{}
	release chan struct{}
}

func (heldPasswords) LinkUser(context.Context, string, string) (model.User, bool, error) {
	return model.User{ID: "lan.nguyen", Role: model.RoleHotlineOperator}, false, nil
}

func (p heldPasswords) SetPasswordWithLink(context.Context, identity.SetPassword) (model.User, error) {
	p.started <- struct{}{}
	<-p.release
	return model.User{ID: "lan.nguyen"}, nil
}

// TestSetPasswordsAtOnceAreBounded: setting a password hashes it in 19
// MiB as a sign-in does, but only sign-ins were bounded, so the holder of
// one link could post its form as often as it liked at once and run as
// many hashes, exhausting the server's memory. Past maxSignInsAtOnce
// hashing, a set-password form is answered "busy" (503, Retry-After: 1)
// without hashing too.
func TestSetPasswordsAtOnceAreBounded(t *testing.T) {
	pws := heldPasswords{started: make(chan struct{}), release: make(chan struct{})}
	conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ts, client := serveConsoleWith(t, Config{Conn: conn, Accounts: heldAccounts{}, Passwords: pws})
	link := ts.URL + "/password/pw_0123456789abcdef_link"
	const pw = "một mật khẩu dài"
	form := url.Values{"csrf": {formValue(t, fetch(t, client, link, nil), "csrf")}, "password": {pw}, "confirm": {pw}}

	var wg sync.WaitGroup
	released := false
	defer func() {
		if !released {
			close(pws.release)
		}
		wg.Wait()
	}()
	for range maxSignInsAtOnce {
		wg.Go(func() { send(t, client, link, form) })
		<-pws.started
	}
	answer := make(chan *http.Response, 1)
	wg.Go(func() { answer <- send(t, client, link, form) })
	select {
	case <-pws.started:
		t.Errorf("a password set past %d hashing started hashing too", maxSignInsAtOnce)
		go func() { <-answer }()
	case resp := <-answer:
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
			t.Errorf("a password set past %d hashing: %s, Retry-After %q; want 503 with Retry-After: 1", maxSignInsAtOnce, resp.Status, resp.Header.Get("Retry-After"))
		}
	}
	close(pws.release)
	released = true
}
