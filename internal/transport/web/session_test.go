package web

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/clock"
)

// A session's ended channel closes however the session ends, so that its
// event stream ends with it.
func TestSessionEndsCloseTheirChannel(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC))
	st := newSessionStore(clk, time.Minute, 2)
	closed := func(s *session) bool {
		select {
		case <-s.ended:
			return true
		default:
			return false
		}
	}
	signedOut, _ := st.add(Account{})
	st.remove(signedOut.id)
	if !closed(signedOut) {
		t.Error("a signed-out session's channel is open")
	}

	idle, _ := st.add(Account{})
	clk.Advance(time.Minute)
	if s, ended := st.peek(idle.id); s != nil || ended != idle || !closed(idle) {
		t.Errorf("an idle session: peek %v, ended %v, closed %v; want it ended", s, ended, closed(idle))
	}

	oldest, _ := st.add(Account{})
	clk.Advance(time.Second)
	st.add(Account{})
	_, evicted := st.add(Account{})
	if evicted != oldest || !closed(oldest) {
		t.Errorf("eviction ended %v (closed %v), want the oldest session", evicted, closed(oldest))
	}
}

// peek does not count as the person's activity; get does.
func TestSessionPeekIsNoActivity(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC))
	st := newSessionStore(clk, time.Minute, 10)
	s, _ := st.add(Account{})
	clk.Advance(50 * time.Second)
	if got, _ := st.peek(s.id); got != s {
		t.Fatal("a live session is not found by peek")
	}
	clk.Advance(10 * time.Second)
	if got, _ := st.get(s.id); got != nil {
		t.Fatal("a session only peeked at for its idle timeout is still live")
	}
}
