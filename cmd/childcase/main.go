// Command childcase runs the childcase service and its tools.
package main

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/childcase/childcase/internal/cli"
)

func main() {
	if percent, ok := cli.GCPercent(os.Args[1:], os.Getenv); ok {
		debug.SetGCPercent(percent)
	}
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
