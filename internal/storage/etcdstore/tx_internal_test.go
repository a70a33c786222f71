package etcdstore

import "testing"

// TestPauseStaysInBounds: every attempt Update may make gets a positive
// pause no longer than maxPause (a shift that overflowed once panicked
// after 43 attempts).
func TestPauseStaysInBounds(t *testing.T) {
	for attempt := range maxAttempts {
		if p := pause(attempt); p <= 0 || p > maxPause {
			t.Fatalf("pause(%d) = %v, want in (0, %v]", attempt, p, maxPause)
		}
	}
}
