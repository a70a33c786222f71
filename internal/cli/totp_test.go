package cli

import (
	"regexp"
	"strings"
	"testing"
)

// childcase totp prints a six-digit code of a base32 secret, typed as
// people copy it (lower case, spaced), and refuses a secret that is not
// base32.
func TestTOTPCommand(t *testing.T) {
	out := mgMustRun(t, "totp", "jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp")
	if !regexp.MustCompile(`^[0-9]{6}\n$`).MatchString(out) {
		t.Errorf("childcase totp printed %q, want a six-digit code", out)
	}
	// A secret that is not base32 is a mistyped argument: a usage error
	// in plain words naming SECRET and what it takes, not the library's
	// "Decoding of secret as base32 failed." and exit 1.
	for _, bad := range []string{"not base32!", "JBSWY3DPEHPK3PX1", "１２３"} {
		code, _, stderr := mgRun(t, "totp", bad)
		if code != 2 || !strings.Contains(stderr, "SECRET: ") || !strings.Contains(stderr, "letters A to Z and digits 2 to 7") ||
			strings.Contains(stderr, "Decoding") {
			t.Errorf("childcase totp %q: exit %d, want 2 naming SECRET and what it takes:\n%s", bad, code, stderr)
		}
	}
	if code, _, _ := mgRun(t, "totp"); code != 2 {
		t.Errorf("childcase totp without a secret: exit %d, want 2", code)
	}
}
