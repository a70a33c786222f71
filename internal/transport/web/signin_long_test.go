package web

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// countedAccounts refuses every sign-in and counts them.
type countedAccounts struct{ signIns *atomic.Int32 }

func (a countedAccounts) SignIn(context.Context, Credentials) (Account, error) {
	a.signIns.Add(1)
	return Account{}, ErrRefused
}

func (countedAccounts) SignOut(context.Context, string, string) error { return nil }

// A user id too long to be one is refused before anything is made of it:
// folded as typed (NFKC) first, a megabyte of U+FDFA, which NFKC writes
// as 18 letters, made some 66 MB of garbage and a third of a second of a
// core per sign-in form, before any throttle or the bound on sign-ins at
// once, from anyone who had opened the sign-in page.
func TestAnOverlongUserIDIsRefusedBeforeItIsFolded(t *testing.T) {
	conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	accts := countedAccounts{signIns: new(atomic.Int32)}
	ts, client := serveConsole(t, conn, accts)
	csrf := formValue(t, fetch(t, client, ts.URL+"/signin", nil), "csrf")
	// Unescaped, as a form's body may carry it: a megabyte of the id.
	body := "csrf=" + url.QueryEscape(csrf) + "&password=guess&user=" + strings.Repeat("\uFDFA", 1<<20/3)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, err := client.Post(ts.URL+"/signin", "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a megabyte's user id: %s, want the refusal", resp.Status)
	}
	if n := accts.signIns.Load(); n != 0 {
		t.Errorf("a megabyte's user id was checked as a sign-in %d times", n)
	}
	// The form's own parsing takes a few times its size; its folding
	// took more than sixty.
	const bound = 24 << 20
	if got := after.TotalAlloc - before.TotalAlloc; got > bound {
		t.Errorf("refusing a megabyte's user id allocated %d MB, want at most %d", got>>20, bound>>20)
	}
}
