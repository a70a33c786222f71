package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/childcase/childcase/internal/app"
)

// migrate-store, and the etcd side of backup, restore and check: they
// work on a store through internal/app, like the other operations
// commands, and print what they compared.

const migrateUsage = `Usage:
  childcase migrate-store --from SRC --to DST [--etcd-prefix P] [--etcd-ca FILE --etcd-cert FILE --etcd-key FILE]
                          [--etcd-max-txn-ops N] [--etcd-max-request-bytes SIZE]

SRC and DST are a bbolt file and an etcd://host:port[,host:port...] store,
either way round; the --etcd-* flags are those of the etcd side. Into etcd:
the file (no server may run on it) is migrated to the current schema and
copied into an empty prefix. Out of etcd: one revision is written into a
new file. Either way the copy is then checked, as childcase check does, and
every bucket compared with the source.
`

// offlineStoreFlags declares --store and the etcd settings of a command
// that works on a store offline.
func offlineStoreFlags(fs *flag.FlagSet, cfg *app.Config, storeHelp string) {
	stringFlag(fs, &cfg.Store, "store", "bbolt (the file at --db, the default) or etcd://host:port[,host:port...]: "+storeHelp)
	etcdFlags(fs, cfg)
}

// storeSettings names the flags of fs that choose or set up a store:
// --db, --store and the settings of one store only. backup --addr refuses
// them, as the store backed up is the server's.
func storeSettings(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "store" || strings.HasPrefix(f.Usage, forEtcd) || strings.HasPrefix(f.Usage, forBbolt) {
			names = append(names, f.Name)
		}
	})
	return names
}

// namedFlags returns those of names that were given on the command line
// (not from the environment or a default), in the order of names.
func namedFlags(fs *flag.FlagSet, names ...string) []string {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var named []string
	for _, n := range names {
		if set[n] {
			named = append(named, n)
		}
	}
	return named
}

func migrateStoreCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate-store", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), migrateUsage); fs.PrintDefaults() }
	etcd := app.DefaultConfig()
	var from, to string
	fs.StringVar(&from, "from", "", "the source: a bbolt file, or etcd://host:port[,host:port...]")
	fs.StringVar(&to, "to", "", "the target: a bbolt file that does not exist, or etcd://host:port[,host:port...] with an empty prefix")
	etcdFlags(fs, &etcd)
	if err := parse(fs, args); err != nil {
		return err
	}
	if from == "" || to == "" {
		fmt.Fprintf(stderr, "migrate-store: --from and --to are required\n\n%s", migrateUsage)
		return errUsage
	}
	src, dst := storeAt(etcd, from), storeAt(etcd, to)
	// A file named wrong is refused naming its flag, as restore and
	// backup refuse theirs, before the other side is opened.
	if !src.IsEtcd() {
		if err := databaseToRead("from", from); err != nil {
			return err
		}
	}
	if !dst.IsEtcd() {
		if dir := filepath.Dir(to); !isDir(dir) {
			return missingFolder("to", dir)
		}
	}
	// Ctrl-C or SIGTERM stops the copy where it is, and what it copied
	// into an etcd prefix is removed (or a file's copy deleted), as after
	// a copy the cluster refused: killed outright, it would leave the part
	// copied, and the prefix to empty by hand.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := app.MigrateStore(ctx, src, dst, app.MoveOptions{Progress: copyProgress(stderr)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Copied %s to %s.\n", src.StoreName(), dst.StoreName())
	if res.Audit.Unaudited != "" {
		// As a backup's: the trail lacks this copy, and only the
		// operator can tell the auditors.
		fmt.Fprintf(stdout, "NOT AUDITED: the copy is not on the audit trail of %s: %s\n", src.StoreName(), res.Audit.Unaudited)
	}
	return reportMove(stdout, res, dst)
}

// storeAt is the store named by a --from or --to of migrate-store: an
// etcd:// store with the settings of etcd, or a bbolt file.
func storeAt(etcd app.Config, s string) app.Config {
	if strings.HasPrefix(s, "etcd://") {
		etcd.Store = s
		return etcd
	}
	cfg := app.DefaultConfig()
	cfg.DBPath = s
	return cfg
}

// restoreOntoEtcd is restore onto an etcd store: the backup is checked,
// then copied as migrate-store copies a file, unchanged (it is not
// migrated), and the copy checked and compared.
func restoreOntoEtcd(ctx context.Context, from string, to app.Config, stdout io.Writer) error {
	if _, err := checkBackup(ctx, from, false, stdout); err != nil {
		return err
	}
	src := app.DefaultConfig()
	src.DBPath = from
	moved, err := app.MigrateStore(ctx, src, to, app.MoveOptions{KeepSchema: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Restored %s to %s.\n", from, to.StoreName())
	if err := reportMove(stdout, moved, to); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Start the servers with the master key file the backup was taken under (after a key rotation, the kept <key file>.retired-<id>).\n")
	return nil
}

// copyProgress tells stderr how many keys are copied, every 100,000.
func copyProgress(w io.Writer) func(int) {
	next := 100_000
	return func(copied int) {
		if copied >= next {
			fmt.Fprintf(w, "migrate-store: %d keys copied\n", copied)
			next = copied + 100_000
		}
	}
}

// reportMove prints the check of the target of a move and its buckets
// compared with the source's, and fails unless both are good.
func reportMove(w io.Writer, res app.MoveResult, target app.Config) error {
	fmt.Fprintf(w, "%-26s %10s %10s  %-16s %s\n", "bucket", "keys", "sequence", "sha256", "source")
	for _, b := range res.Buckets {
		same := "same"
		if !b.Same() {
			same = fmt.Sprintf("DIFFERENT: %d keys, sequence %d, sha256 %s", b.Source.Keys, b.Source.Sequence, app.ShortHash(b.Source))
		}
		fmt.Fprintf(w, "%-26s %10d %10d  %-16s %s\n", b.Bucket, b.Target.Keys, b.Target.Sequence, app.ShortHash(b.Target), same)
	}
	if !res.Check.OK() {
		printProblems(w, res.Check)
		fmt.Fprintf(w, "BROKEN: %s\n", summary(res.Check))
		return errCheckFailed
	}
	if !res.OK() {
		fmt.Fprintf(w, "DIFFERENT: the copy in %s does not hold what its source holds\n", target.StoreName())
		return errors.New("the copy differs from its source")
	}
	fmt.Fprintf(w, "OK: %s; every bucket the same as the source's\n", summary(res.Check))
	return nil
}
