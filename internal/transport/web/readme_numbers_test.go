package web

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/identity"
)

// TestREADMENumbersOfSignIn: the numbers the issue and the README give for
// people's sign-in and sessions are the numbers the code runs with. The behaviour tests
// count in the constants (an idle timeout is tested at IdleTimeout, a
// lock-out after MaxSignInFailures), so they would go on passing if a
// constant changed; this test holds each constant to the README's figure,
// and the README to its sentence, so that neither moves alone.
func TestREADMENumbersOfSignIn(t *testing.T) {
	b, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.Join(strings.Fields(string(b)), " ") // sentences wrap anywhere
	for _, n := range []struct {
		name      string
		got, want any
		sentence  string // as the README words it
	}{
		{"identity.MinPasswordLen", identity.MinPasswordLen, 12, "Passwords** have at least 12 characters"},
		{"identity.MaxPasswordBytes", identity.MaxPasswordBytes, 1024, "at most 1024 bytes"},
		{"identity.PasswordLinkTTL", identity.PasswordLinkTTL, 72 * time.Hour, "A link works once, for 72 hours"},
		{"identity.MaxSignInFailures", identity.MaxSignInFailures, 5, "5 failed sign-ins in a row lock an account"},
		{"identity.LockOutDuration", identity.LockOutDuration, 15 * time.Minute, "lock an account for 15 minutes"},
		// The issue: "a 30-minute idle timeout".
		{"IdleTimeout", IdleTimeout, 30 * time.Minute, "end after 30 minutes without activity"},
		{"identity.SessionTTL", identity.SessionTTL, 12 * time.Hour, "after 12 hours in any case"},
		{"MaxSessionsPerUser", MaxSessionsPerUser, 5, "One account holds at most 5 sessions"},
		{"MaxSessions", MaxSessions, 10000, "The server holds at most 10,000 sessions"},
		{"MaxSessions/MaxSessionsPerUser", MaxSessions / MaxSessionsPerUser, 2000, "would take 2,000 accounts signing in"},
		{"maxSignInsAtOnce", maxSignInsAtOnce, 4, "At most 4 sign-ins are checked at once"},
		{"maxSavesPerSession", maxSavesPerSession, 20, "the session keeps its last 20"},
		// Under the 60 s a reverse proxy waits by default (nginx's
		// proxy_read_timeout), as the production section says.
		{"Heartbeat", Heartbeat, 25 * time.Second, "live queues send a heartbeat every 25 seconds"},
	} {
		if n.got != n.want {
			t.Errorf("%s = %v, but the README says %v (%q)", n.name, n.got, n.want, n.sentence)
		}
		if !strings.Contains(readme, n.sentence) {
			t.Errorf("the README no longer says %q (%s = %v)", n.sentence, n.name, n.want)
		}
	}
}
