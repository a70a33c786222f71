package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/childcase/childcase/internal/domain/identity"
)

// totpCmd prints the current code of a TOTP secret, so that a newcomer
// trying the demo without an authenticator app can still sign in as a
// role that needs a second factor.
func totpCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		fmt.Fprint(stderr, "Usage: childcase totp SECRET   (the base32 secret serve --demo prints)\n")
		return errUsage
	}
	code, err := identity.TOTPCode(args[0], time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, code)
	return nil
}
