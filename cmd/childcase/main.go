// Command childcase runs the childcase service and its tools.
package main

import (
	"context"
	"os"

	"github.com/childcase/childcase/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
