package web

import (
	"strconv"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/model"
)

// TestOneAccountCannotSignOthersOut: signing in over and over with one
// account ends that account's own sessions, never another person's, so a
// full store cannot be used to sign a chosen person out.
func TestOneAccountCannotSignOthersOut(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC))
	st := newSessionStore(clk, IdleTimeout, 8, 3)
	victim, _ := st.add(Account{User: model.User{ID: "victim"}})
	for range 20 {
		clk.Advance(time.Second)
		if _, ended := st.add(Account{User: model.User{ID: "attacker"}}); ended != nil && ended.user.ID != "attacker" {
			t.Fatalf("a sign-in of attacker ended a session of %s", ended.user.ID)
		}
	}
	if s, _ := st.get(victim.id); s == nil {
		t.Fatal("the victim's session was ended by another account's sign-ins")
	}
	// The store still bounds the sessions in all: past it, many accounts'
	// sign-ins end the sessions idle the longest.
	for i := range 10 {
		clk.Advance(time.Second)
		st.add(Account{User: model.User{ID: "user" + strconv.Itoa(i)}})
	}
	if n := len(st.byID); n != 8 {
		t.Errorf("%d sessions held, want at most 8", n)
	}
}
