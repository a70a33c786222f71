package cli

import (
	"fmt"
	"io"

	"github.com/childcase/childcase/internal/app"
)

// versionCmd prints the binary's build: what an operator quotes in a bug
// report and compares against a release. A build without VCS information
// says so (see the README's build command).
func versionCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "childcase version takes no arguments\n")
		return errUsage
	}
	_, err := fmt.Fprint(stdout, app.ReadBuildInfo())
	return err
}
