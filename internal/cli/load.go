package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/childcase/childcase/internal/app"
)

const loadUsage = `Usage:
  childcase load --db FILE --cases N [--seed S] [--key-file FILE]

Fills a new database with N synthetic intervention cases (and a quarter as
many counselling calls) received from mid-2022 to late 2026 over Hanoi's
communes, a few busy and most quiet, worked through the case process by
their communes and the police, through the service's own API. The same N
and seed make the same work. Beside FILE it writes FILE.key (the master
key, unless --key-file) and FILE.load.json (what was loaded, and users'
tokens). For benchmarks and stress tests only: the data is invented.
`

func loadCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), loadUsage); fs.PrintDefaults() }
	var db, keyFile string
	cases, seed := 0, uint64(1)
	fs.StringVar(&db, "db", "", "the database `file` to create; it must not exist")
	fs.StringVar(&keyFile, "key-file", "", "its master key `file`, created (default: FILE.key)")
	fs.IntVar(&cases, "cases", 0, "intervention cases to open")
	fs.Uint64Var(&seed, "seed", seed, "the seed of the random choices: the same seed and cases make the same work")
	if err := parse(fs, args); err != nil {
		return err
	}
	if db == "" || cases < 1 {
		fmt.Fprintf(stderr, "load: --db and --cases (at least 1) are required\n\n%s", loadUsage)
		return errUsage
	}
	m, err := app.Load(ctx, app.LoadConfig{
		DBPath: db, KeyFile: keyFile, Cases: cases, Seed: seed, Progress: stderr,
		Logger: slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Loaded %s: %d cases, %d reports, %s process steps (%s refused); the clock ended at %s.\n",
		db, m.Cases, m.Reports, total(m.Steps), total(m.Refused), m.EndTime.Format("2006-01-02T15:04:05Z"))
	fmt.Fprintf(stdout, "Busiest 2025 commune %s, quietest %s; users and tokens in %s.load.json.\n", m.BusyUnit, m.QuietUnit, db)
	return nil
}

func total(m map[string]int) string {
	n := 0
	for _, v := range m {
		n += v
	}
	return strconv.Itoa(n)
}
