package cli

import (
	"flag"
	"fmt"
	"io"

	"github.com/childcase/childcase/internal/app"
)

const versionUsage = "Usage: childcase version   (or --version): the version, VCS revision and Go version of this binary\n"

// versionCmd prints the binary's build: what an operator quotes in a bug
// report and compares against a release. A build without VCS information
// says so (see the README's build command).
func versionCmd(args []string, stdout, stderr io.Writer) error {
	if helpAsked(args, versionUsage, stdout) {
		return flag.ErrHelp
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "childcase version takes no arguments\n\n%s", versionUsage)
		return errUsage
	}
	_, err := fmt.Fprint(stdout, app.ReadBuildInfo())
	return err
}
