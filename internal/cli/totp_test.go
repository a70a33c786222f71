package cli

import (
	"regexp"
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
	if code, _, _ := mgRun(t, "totp", "not base32!"); code != 1 {
		t.Errorf("childcase totp with a bad secret: exit %d, want 1", code)
	}
	if code, _, _ := mgRun(t, "totp"); code != 2 {
		t.Errorf("childcase totp without a secret: exit %d, want 2", code)
	}
}
