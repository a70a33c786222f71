package cli

import (
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
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, code)
	return nil
}
