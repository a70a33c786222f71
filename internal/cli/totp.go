package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/childcase/childcase/internal/domain/identity"
)

const totpUsage = "Usage: childcase totp SECRET   (the base32 secret serve --demo prints)\n"

// totpCmd prints the current code of a TOTP secret, so that a newcomer
// trying the demo without an authenticator app can still sign in as a
// role that needs a second factor.
func totpCmd(args []string, stdout, stderr io.Writer) error {
	// -h is asked for help, not a secret to decode: read as one it said
	// only that base32 decoding failed, and exited 1.
	if helpAsked(args, totpUsage, stdout) {
		return flag.ErrHelp
	}
	if len(args) != 1 {
		fmt.Fprint(stderr, totpUsage)
		return errUsage
	}
	code, err := identity.TOTPCode(args[0], time.Now())
	if errors.Is(err, identity.ErrNotATOTPSecret) {
		// A mistyped argument, as a flag's bad value is: exit 2. The
		// secret is not repeated: it may be a real one.
		return usageError{fmt.Errorf("SECRET: %w", err)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, code)
	return nil
}
