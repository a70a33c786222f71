package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/auditlog"
)

// The operations commands: backup (hot, through a running server's
// AdminService, or from a stopped server's file), restore and check. They
// read and write database files through internal/app; they never open a file
// a server holds.

const opsUsage = `Usage:
  childcase backup  --to FILE --addr HOST:PORT --token ADMIN_TOKEN [--ca-cert FILE] [--client-cert FILE --client-key FILE]   (running server)
  childcase backup  --to FILE --db FILE                                               (server stopped)
  childcase backup  --to FILE --store etcd://HOST:PORT[,...] [--etcd-* flags]         (one revision, servers may run)
  childcase restore --from FILE --db FILE [--force]                                   (server stopped)
  childcase restore --from FILE --store etcd://HOST:PORT[,...] [--etcd-* flags]       (onto an empty prefix)
  childcase check   --db FILE [--noted-head SEQ:HASH] [--key-file FILE]   check a database or a backup; exits 1 on any problem
                    (a sound file of an older schema, which the first start migrates, is OK)
  childcase check   --store etcd://HOST:PORT[,...] [--etcd-* flags] [--noted-head SEQ:HASH]   check one revision of an etcd store
                    --noted-head: a head of the audit log noted earlier, which the log must still hold
                    --key-file: the master key file (and the .next and .retired-<id> beside it) the data keys must be under
  childcase migrate-store --from SRC --to DST [--etcd-* flags]
                    SRC and DST: a bbolt file and an etcd://HOST:PORT[,...] store, either way round
`

// errCheckFailed makes check (and a backup or restore whose check found
// problems) exit non-zero.
var errCheckFailed = errors.New("the database failed its check")

// inUseWait is how long restore waits for the lock of the file it would
// replace: a server holds it for as long as it runs, so there is no point
// in waiting long.
const inUseWait = 200 * time.Millisecond

func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := app.DefaultConfig()
	var to, addr, token string
	var rt remoteTLS
	fs.StringVar(&to, "to", "", "the backup file to write; it must not exist")
	stringFlag(fs, &cfg.DBPath, "db", forBbolt+"path of the database file, when no server runs on it")
	offlineStoreFlags(fs, &cfg, "an etcd store to back up (one revision; servers may run on it)")
	stringFlag(fs, &addr, "addr", "gRPC address of a running server: back up through it, while it serves")
	stringFlag(fs, &token, "token", "an admin's bearer token, with --addr")
	remoteTLSFlags(fs, &rt)
	if err := parse(fs, args); err != nil {
		return err
	}
	if to == "" {
		fmt.Fprintf(stderr, "backup: --to is required\n\n%s", opsUsage)
		return errUsage
	}
	if addr == "" {
		if err := remoteOnlyFlags(fs, "backup", "copies the store of --db or --store"); err != nil {
			return err
		}
		if err := storeFlagsFit(fs, cfg, false); err != nil {
			return err
		}
		if !cfg.IsEtcd() {
			if err := databaseToRead("db", cfg.DBPath); err != nil {
				return err
			}
		}
	} else if named := namedFlags(fs, storeSettings(fs)...); len(named) > 0 {
		// The server backs up its own store; a store named here as well
		// would be silently ignored, and the operator would believe they
		// had backed up that one.
		a := addrSource(fs)
		return usageError{fmt.Errorf("%s, --%s: %s backs up the store of the server at %s; give %s, or --%s to back up a store directly, not both",
			a, strings.Join(named, ", --"), a, addr, a, strings.Join(named, " and --"))}
	}
	if addr != "" && token == "" {
		fmt.Fprintf(stderr, "backup: --token is required with --addr (an admin's token; on a server, in CHILDCASE_TOKEN)\n\n%s", opsUsage)
		return errUsage
	}
	if to == "-" {
		// Not the standard output: a backup is checked before it takes
		// its name, which a pipe cannot be, and "Backed up ..." on stdout
		// would have gone down the pipe as if it were the backup.
		return errors.New("--to: - is not a file: a backup is written to a new file and checked before it takes its name; give a file's name, and copy the file on from there")
	}
	if fi, err := os.Lstat(to); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("--to: %s is a folder: give the backup's file name in it (%s)", to, filepath.Join(to, "childcase-YYYY-MM-DD.db"))
		}
		if fi.Mode()&os.ModeSymlink == 0 && !fi.Mode().IsRegular() {
			return fmt.Errorf("--to: %s is %s: a backup is written to a new file; give a file's name", to, app.FileKind(fi.Mode()))
		}
		return fmt.Errorf("%s exists: a backup never replaces a file; choose another name", to)
	}
	// Ctrl-C or SIGTERM (systemd stopping the nightly unit) stops the copy
	// or its check where it is and FILE.tmp is removed: killed by
	// the signal instead, the process left a partial copy of the database
	// that the nightly retention, which deletes childcase-*.db, never
	// deletes, and that refused the next backup to the same name.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// FILE.tmp, created only if absent: two backups to one name cannot mix.
	tmp := to + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists: another backup to %s is running, or one was cut short (then remove it)", tmp, to)
		}
		dir := filepath.Dir(to)
		if _, statErr := os.Stat(dir); errors.Is(err, os.ErrNotExist) && errors.Is(statErr, os.ErrNotExist) {
			// Named as the operator gave it, not as the temporary file.
			return missingFolder("to", dir)
		}
		return err
	}
	kept := false
	defer func() {
		if !kept {
			f.Close()
			os.Remove(tmp)
		}
	}()
	var source string
	var rec app.CopyAudit
	if addr != "" {
		source = addr
		err = backupRemote(ctx, addr, token, rt, f)
	} else {
		source = cfg.StoreName()
		rec, err = backupOffline(ctx, cfg, to, contextWriter{ctx: ctx, w: f})
	}
	if ctx.Err() != nil {
		return fmt.Errorf("backup interrupted: %s removed, %s not written", tmp, to)
	}
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// The copy must at least open and read as a database before it takes
	// the name; what it holds is reported below.
	res, err := app.CheckDatabase(ctx, tmp, nil)
	if ctx.Err() != nil {
		return fmt.Errorf("backup interrupted while its copy was checked: %s removed, %s not written", tmp, to)
	}
	if err != nil {
		return fmt.Errorf("the copy of %s cannot be read back: %w", source, err)
	}
	if err := publishBackup(tmp, to); err != nil {
		return err
	}
	kept = true
	if err := app.SyncDir(filepath.Dir(to)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Backed up %s to %s: %s\n", source, to, summary(res))
	if rec.Unaudited != "" {
		// The trail of the source lacks this copy: the operator is the
		// one to tell the auditors, who see it nowhere else.
		fmt.Fprintf(stdout, "NOT AUDITED: the backup is not on the audit trail of %s: %s\n", source, rec.Unaudited)
	}
	if res.AwaitsMigrationOnly() {
		// A copy of a file or store of before an upgrade (a stopped
		// service's file, a store older servers still run on): restore
		// takes it and the first start migrates it, as check says.
		fmt.Fprintln(stdout, olderSchemaNotice(res))
		return nil
	}
	if !res.OK() {
		printProblems(stdout, res)
		fmt.Fprintf(stdout, "The backup is kept, but the database it copies has these problems.\n")
		return errCheckFailed
	}
	return nil
}

// publishBackup gives the checked copy tmp the name to, which must be
// free: a hard link takes a name only if no file has it, where a rename
// replaces whatever took the name since the backup last looked (another
// backup to that name run by hand, an operator's copy). The temporary
// name goes once the backup has its own; one a crash leaves is a second
// name of the backup, which the nightly unit removes.
func publishBackup(tmp, to string) error {
	if backupHooks.beforePublish != nil {
		backupHooks.beforePublish(to)
	}
	taken := fmt.Errorf("%s appeared while the backup ran: not replaced, and the backup is not kept", to)
	link := os.Link
	if backupHooks.link != nil {
		link = backupHooks.link
	}
	err := link(tmp, to)
	switch {
	case errors.Is(err, fs.ErrExist):
		return taken
	case err != nil:
		// A file system without hard links (some network shares): the
		// look and the rename, as close together as they can be.
		if _, lerr := os.Lstat(to); lerr == nil {
			return taken
		}
		if err := os.Rename(tmp, to); err != nil {
			return fmt.Errorf("backup: give the checked copy its name: %w", err)
		}
		return nil
	}
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("backup: %s is written and checked, but its temporary name %s could not be removed: %w", to, tmp, err)
	}
	return nil
}

// backupHooks, set by tests only: beforePublish runs just before the
// checked copy takes its name, where another process may make a file of
// that name; link, when set, stands for os.Link (a file system without
// hard links refuses it).
var backupHooks struct {
	beforePublish func(to string)
	link          func(oldname, newname string) error
}

// fileToRead refuses a file a command is to read that does not exist,
// naming its flag (--db: ... does not exist), as the commands that open a
// database do (see existingDatabase), rather than with the open or stat
// that failed, which names no flag.
func fileToRead(flagName, path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--%s: %s does not exist", flagName, path)
	}
	return nil
}

// databaseToRead is fileToRead for a database a command opens with bbolt
// (backup --db, migrate-store --from), which would make an empty file a
// new database: such a file, a folder or a device is refused naming the
// flag (databaseKind). check and restore --from read the file themselves
// first and say what is wrong with it.
func databaseToRead(flagName, path string) error {
	if err := fileToRead(flagName, path); err != nil {
		return err
	}
	return databaseKind(flagName, path)
}

// backupOffline copies a database file no server is running on, or one
// revision of an etcd store.
func backupOffline(ctx context.Context, cfg app.Config, to string, w io.Writer) (app.CopyAudit, error) {
	rec, err := app.BackupStore(ctx, cfg, inUseWait, to, w)
	if errors.Is(err, app.ErrDatabaseInUse) {
		// A backup --db writes its audit event under the exclusive lock
		// too, so the holder may be another command, not a server.
		return rec, fmt.Errorf("%w: a server or another command (a backup, check or restore) holds it; if a server runs on it, back up through it with --addr and --token", err)
	}
	return rec, err
}

// contextWriter stops a copy that writes through it once its context
// ends: the offline backup's copy runs in the store, which takes no
// context of its own between its writes.
type contextWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c contextWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// backupRemote streams a hot backup from a running server's AdminService.
func backupRemote(ctx context.Context, addr, token string, rt remoteTLS, w io.Writer) error {
	conn, err := rt.dial(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	requestID := newRemoteRequestID("backup")
	ctx, cancel := context.WithCancel(remoteCallContext(ctx, token, requestID))
	defer cancel()
	stream, err := pb.NewAdminServiceClient(conn).BackupDatabase(ctx, &pb.BackupDatabaseRequest{})
	if err != nil {
		return fmt.Errorf("backup from %s (request id %s): %w", addr, requestID, rt.explain(err))
	}
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil // the server sent the whole file
		}
		if err != nil {
			return fmt.Errorf("backup from %s (request id %s): %w", addr, requestID, rt.explain(err))
		}
		if _, err := w.Write(chunk.GetData()); err != nil {
			return err
		}
	}
}

func restoreCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := app.DefaultConfig()
	var from string
	var force bool
	fs.StringVar(&from, "from", "", "the backup file to restore")
	stringFlag(fs, &cfg.DBPath, "db", forBbolt+"path of the database file to put it at (no server may run on it)")
	offlineStoreFlags(fs, &cfg, "an etcd store to restore onto; its prefix must be empty")
	// A restore onto etcd fills an empty prefix only and never replaces
	// one: --force is the file's alone (storeFlagsFit).
	fs.BoolVar(&force, "force", false, forBbolt+"replace an existing database file at --db")
	if err := parse(fs, args); err != nil {
		return err
	}
	if from == "" {
		fmt.Fprintf(stderr, "restore: --from is required\n\n%s", opsUsage)
		return errUsage
	}
	if err := cfg.ValidateStore(); err != nil {
		return err
	}
	if err := storeFlagsFit(fs, cfg, false); err != nil {
		return err
	}
	if err := fileToRead("from", from); err != nil {
		return err
	}
	if cfg.IsEtcd() {
		// Stopped by a signal, the copy is removed from the prefix, as
		// migrate-store's is.
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return restoreOntoEtcd(ctx, from, cfg, stdout)
	}
	db, err := restoreTarget(cfg.DBPath)
	if err != nil {
		return err
	}
	src, err := os.Stat(from)
	if err != nil {
		return err
	}
	if !src.Mode().IsRegular() {
		return fmt.Errorf("--from: %s is %s, not a backup file", from, app.FileKind(src.Mode()))
	}
	if dst, err := os.Stat(db); err == nil {
		if !dst.Mode().IsRegular() {
			// The rename below replaces whatever has the name: run as
			// root onto a mistyped /dev/null, it replaced the device.
			return fmt.Errorf("--db: %s is not a file (%s): a restore replaces a database file, nothing else", db, app.FileKind(dst.Mode()))
		}
		if os.SameFile(src, dst) {
			return fmt.Errorf("%s and %s are the same file", from, db)
		}
		// Hold the file (a shared lock, which a server's exclusive one
		// refuses) until it is replaced, so no server starts on it meanwhile.
		held, err := app.HoldDatabase(db, inUseWait)
		if errors.Is(err, app.ErrDatabaseInUse) {
			return fmt.Errorf("%w: stop the server before restoring over %s", err, db)
		}
		if err == nil {
			defer held.Close()
		}
		if !force {
			return fmt.Errorf("%s exists: add --force to replace it with %s (everything written to it since that backup would be lost)", db, from)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	} else if dir := filepath.Dir(db); !isDir(dir) {
		// Named as the operator gave it, before the backup is read, not as
		// the temporary file beside it; the folder is not made.
		return missingFolder("db", dir)
	}
	// Ctrl-C or SIGTERM stops the check or the copy where it is, and the
	// copy's temporary file is removed (copyAtomic): not the process in
	// the middle of writing it.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := checkBackup(ctx, from, true, stdout)
	if err != nil {
		return err
	}
	for _, f := range removeLeftoverRestores(db) {
		fmt.Fprintf(stdout, "Removed %s, left by a restore that did not finish.\n", f)
	}
	uid, gid, err := restoredOwner(db)
	if err != nil {
		return err
	}
	if err := copyAtomic(ctx, from, db, uid, gid); err != nil {
		return err
	}
	if db != cfg.DBPath {
		fmt.Fprintf(stdout, "Restored %s to %s (the file %s links to): %s\n", from, db, cfg.DBPath, summary(res))
	} else {
		fmt.Fprintf(stdout, "Restored %s to %s: %s\n", from, db, summary(res))
	}
	if res.AwaitsMigrationOnly() {
		fmt.Fprintf(stdout, "Its schema version %d is older than this childcase's %d: the first start on it migrates it, in one transaction with its audit event (database.migrate).\n",
			res.SchemaVersion, app.SchemaVersion)
	}
	fmt.Fprintf(stdout, "Start the server with the master key file the backup was taken under (after a key rotation, the kept <key file>.retired-<id>).\n")
	return nil
}

// restoreTarget is the path a restore onto db writes: db, or the file a
// symbolic link at db points to (the database kept on another disk), so
// that the link stays and the copy lands on the disk the operator chose.
// Renaming the copy over the link would replace it with a file on the
// link's own disk. A link to a file not there yet is followed too, if the
// file's folder exists; if it does not (that disk not mounted), the
// restore is refused, leaving the link as it is.
func restoreTarget(db string) (string, error) {
	fi, err := os.Lstat(db)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return db, nil // not a link: what is there is looked at by the caller
	}
	if resolved, err := filepath.EvalSymlinks(db); err == nil {
		return resolved, nil
	}
	target, err := os.Readlink(db)
	if err != nil {
		return "", fmt.Errorf("--db: %w", err)
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(db), target)
	}
	if dir := filepath.Dir(target); !isDir(dir) {
		return "", fmt.Errorf("--db: %s is a link to %s, whose folder %s does not exist (a disk not mounted?): nothing was restored, and the link is left as it is", db, target, dir)
	}
	if _, err := os.Lstat(target); err == nil {
		// A link to a link that leads nowhere: which file was meant is
		// not for a restore to guess.
		return "", fmt.Errorf("--db: %s links to %s, which leads to no file: nothing was restored", db, target)
	}
	return target, nil
}

// checkBackup checks the backup a restore would put in place, printing
// its problems; a backup with any is not restored. With older, one of an
// older schema version, sound but for what the migration at its first
// start sets right (AwaitsMigrationOnly), is restored all the same: a
// backup taken before an upgrade must go back with the new binary, and
// a restore copies the backup as it is, never migrates it.
func checkBackup(ctx context.Context, from string, older bool, stdout io.Writer) (app.CheckResult, error) {
	res, err := app.CheckDatabase(ctx, from, nil)
	if err != nil {
		return res, fmt.Errorf("%s cannot be read as a database: %w", from, err)
	}
	if older && res.AwaitsMigrationOnly() {
		return res, nil
	}
	if !res.OK() {
		printProblems(stdout, res)
		return res, fmt.Errorf("%s has problems: not restored", from)
	}
	return res, nil
}

// restoreTemp is the name of copyAtomic's temporary files beside dst,
// "childcase.db.restore-" and os.CreateTemp's random digits.
func restoreTemp(dst string) string { return filepath.Base(dst) + ".restore-" }

// leftoverAge is how long a temporary file of copyAtomic stands unwritten
// before removeLeftoverRestores may take it for a dead restore's.
const leftoverAge = time.Minute

// restoreChunk is how much copyAtomic copies between looks at its context.
const restoreChunk = 4 << 20

// copyAtomic copies src to dst through a temporary file beside dst: dst
// is either what it was or the whole copy, on disk, even after a crash.
// The temporary file is removed when the copy fails or ctx ends it (an
// interrupt); one left by a process killed outright is removed by the
// next restore or serve (removeLeftoverRestores). It holds a lock on the
// file while it writes, so that they leave a copy in progress alone.
func copyAtomic(ctx context.Context, src, dst string, uid, gid int) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(dst), restoreTemp(dst)+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	if err := lockTemporary(out); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	if err := out.Chmod(0o600); err != nil {
		return err
	}
	if err := ownAs(out, uid, gid); err != nil {
		return fmt.Errorf("--db: %s belongs to user %d, group %d, and the restored copy cannot be given to them, so they could not open it: restore as that user or as root: %w", dst, uid, gid, err)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := io.CopyN(out, in, restoreChunk)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Rename(out.Name(), dst); err != nil {
		return err
	}
	return app.SyncDir(filepath.Dir(dst))
}

// removeLeftoverRestores removes the temporary files beside db (beside
// the file it links to, if it is a link) that restores killed outright
// (kill -9, a power cut) left, and returns their paths: those of
// copyAtomic's name, regular files, that no running restore holds a lock
// on. A file it cannot remove stays, for the next.
func removeLeftoverRestores(db string) []string {
	// A restore onto a link writes beside the file it links to.
	if resolved, err := filepath.EvalSymlinks(db); err == nil {
		db = resolved
	}
	dir := filepath.Dir(db)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), restoreTemp(db))
		if !ok || suffix == "" || strings.Trim(suffix, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		// A file written in the last minute may be a running restore's
		// between making it and locking it, or between closing it and
		// renaming it: only older ones are taken for a dead restore's.
		if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < leftoverAge {
			continue
		}
		path := filepath.Join(dir, e.Name())
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		// The lock is released when f closes, after the removal, so no
		// restore can take the name meanwhile (CreateTemp makes a new one).
		if lockTemporary(f) == nil && os.Remove(path) == nil {
			removed = append(removed, path)
		}
		f.Close()
	}
	return removed
}

func checkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := app.DefaultConfig()
	stringFlag(fs, &cfg.DBPath, "db", forBbolt+"path of the database or backup file to check (no server may run on it)")
	offlineStoreFlags(fs, &cfg, "an etcd store to check (one revision, copied into a temporary bbolt file; servers may run on it)")
	var noted auditlog.Head
	readNoted := notedHeadFlag(fs, &noted)
	var keyFile string
	stringFlag(fs, &keyFile, "key-file", "a master key file: every data key must be under its master or that of a next or retired key file beside it")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := readNoted(); err != nil {
		fmt.Fprintln(stderr, err)
		return errUsage
	}
	if err := cfg.ValidateStore(); err != nil {
		return err
	}
	var masters []string
	if keyFile != "" {
		var err error
		if masters, err = app.KeyFolderMasters(keyFile); err != nil {
			return err
		}
	}
	if err := storeFlagsFit(fs, cfg, false); err != nil {
		return err
	}
	if !cfg.IsEtcd() {
		if err := fileToRead("db", cfg.DBPath); err != nil {
			return err
		}
		// An empty or damaged file is the check's to report; a folder or
		// a device is no file to check at all.
		if fi, err := os.Stat(cfg.DBPath); err == nil && !fi.Mode().IsRegular() {
			return fmt.Errorf("--db: %s is %s, not a database file", cfg.DBPath, app.FileKind(fi.Mode()))
		}
	}
	res, err := app.CheckStore(ctx, cfg, app.CheckOptions{Progress: checkProgress(stderr, cfg.StoreName()), NotedHeadSeq: noted.Seq, NotedHeadHash: noted.Hash,
		Masters: masters})
	if errors.Is(err, app.ErrDatabaseInUse) {
		return fmt.Errorf("%w: check a backup of it instead (childcase backup --addr ... --to FILE, then childcase check --db FILE)", err)
	}
	if err != nil {
		return err
	}
	// A file of an older schema whose one problem is its version (and
	// the counters its migration recounts) is a backup of before an
	// upgrade: restore takes it and the first start migrates it, so it
	// is no failure, or the restore drill, which checks first, would stop
	// on a backup that is fine. An etcd store is never migrated record
	// by record: the first start takes up one of a recent version by its
	// version alone, the same answer, and refuses an older one, which
	// then has to go over through a file, as the notice says.
	awaits := res.AwaitsMigrationOnly()
	if cfg.IsEtcd() && awaits {
		if app.EngineTakesUp(res.SchemaVersion) {
			// Taken up in one commit, which holds an entry of the index
			// of users by unit for every active user of a store before
			// it: a start with these limits may refuse it as too large.
			tooLarge, err := app.EtcdFirstCommitTooLarge(ctx, cfg)
			if err != nil {
				return err
			}
			if tooLarge != "" {
				fmt.Fprintf(stdout, "BROKEN: %s\n", summary(res))
				fmt.Fprintln(stdout, tooLargeStoreNotice(res, tooLarge))
				return errCheckFailed
			}
			fmt.Fprintf(stdout, "OK: %s\n", summary(res))
			fmt.Fprintln(stdout, olderStoreNotice(res))
			return nil
		}
		// Its version lines would say the first start migrates it.
		fmt.Fprintf(stdout, "BROKEN: %s\n", summary(res))
		fmt.Fprintln(stdout, tooOldStoreNotice(res, cfg))
		return errCheckFailed
	}
	if !res.OK() && !awaits {
		printProblems(stdout, res)
		fmt.Fprintf(stdout, "BROKEN: %s\n", summary(res))
		return errCheckFailed
	}
	fmt.Fprintf(stdout, "OK: %s\n", summary(res))
	if awaits {
		fmt.Fprintln(stdout, olderSchemaNotice(res))
	}
	return nil
}

// olderStoreNotice is olderSchemaNotice for an etcd store of an older
// schema that the first start takes up by its version alone.
func olderStoreNotice(res app.CheckResult) string {
	return fmt.Sprintf("OLDER SCHEMA: the store is sound; its schema version %d is older than this childcase's %d, "+
		"and the first start on it raises it, rewriting no record (the changes since then are in how new records are written, "+
		"and the index of users by unit of version 12, which it builds from the users in that commit); "+
		"no server of the older version starts on it after that, so start this childcase on it once they have all stopped.",
		res.SchemaVersion, app.SchemaVersion)
}

// tooLargeStoreNotice says that res, an etcd store of an older schema
// that is sound but for its version, cannot be taken up by a start with
// the --etcd-* limits given here, and why (why says what to raise).
func tooLargeStoreNotice(res app.CheckResult, why string) string {
	return fmt.Sprintf("OLDER SCHEMA: the store is sound; its schema version %d is older than this childcase's %d, "+
		"but a start with these --etcd-* flags refuses it: %s", res.SchemaVersion, app.SchemaVersion, why)
}

// tooOldStoreNotice says that res, an etcd store of an older schema that
// is sound but for its version, cannot be started on by this childcase
// (an etcd store is never migrated record by record), and how to bring
// it over: through a backup, which this childcase takes as it is and
// migrate-store migrates on its way onto an empty prefix.
func tooOldStoreNotice(res app.CheckResult, cfg app.Config) string {
	return fmt.Sprintf("OLDER SCHEMA: the store is sound, but its schema version %d is too old for this childcase to start on "+
		"(a store on etcd is never migrated record by record; this childcase takes up by their version alone only those of version %d or later, "+
		"and its start refuses this one). Bring it over through a file, servers of the older version running or not: "+
		"childcase backup --store %s --to FILE, then childcase migrate-store --from FILE --to %s --etcd-prefix NEW-PREFIX/ "+
		"(each with the --etcd-* flags given here; migrate-store migrates the file first), and start this childcase on the new prefix.",
		res.SchemaVersion, firstTakenUp(), cfg.Store, cfg.Store)
}

// firstTakenUp is the oldest schema version whose etcd store the first
// start takes up by its version alone.
func firstTakenUp() uint32 {
	v := uint32(app.SchemaVersion)
	for v > 0 && app.EngineTakesUp(v-1) {
		v--
	}
	return v
}

// olderSchemaNotice says that res, a file that awaits its migration only
// (AwaitsMigrationOnly), is sound, and what its first start does to it;
// its problems besides its version are counters that migration recounts.
func olderSchemaNotice(res app.CheckResult) string {
	recount := ""
	if n := len(res.Problems) - 1; n > 0 {
		recount = fmt.Sprintf(", recounting %s kept by earlier rules", counted(n, "statistics cell"))
	}
	return fmt.Sprintf("OLDER SCHEMA: the file is sound; its schema version %d is older than this childcase's %d, "+
		"and the first start on it migrates it, in one transaction with its audit event (database.migrate)%s. "+
		"Restore it as it is (childcase restore); check it again after that start to see it at version %d.",
		res.SchemaVersion, app.SchemaVersion, recount, app.SchemaVersion)
}

// statsCmd runs "stats rebuild": the statistics counters recomputed from
// the records, on a stopped database, when check finds them wrong.
func statsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const statsUsage = "Usage: childcase stats rebuild [--db FILE]\n"
	if helpAsked(args, statsUsage, stdout) {
		return flag.ErrHelp
	}
	if len(args) < 1 || args[0] != "rebuild" {
		unknownSubcommand(stderr, "stats", args, statsUsage)
		return errUsage
	}
	off, db, err := openOfflineCmd("stats rebuild", "path of the bbolt database file (server stopped)", args[1:], stderr)
	if err != nil {
		return err
	}
	defer off.Close()
	n, err := off.RebuildStatistics(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Rebuilt the statistics counters of %s from its records: %d cells.\n", db, n)
	return nil
}

// checkProgress prints how far a check of db has come to w (stderr, so
// that stdout stays the result): a check of a large database takes
// minutes.
func checkProgress(w io.Writer, db string) func(app.CheckProgress) {
	return func(p app.CheckProgress) {
		if p.Bucket == "" {
			fmt.Fprintf(w, "check: reading the page structure of %s\n", db)
			return
		}
		rate := float64(p.Records) / max(p.Elapsed.Seconds(), 1e-3)
		fmt.Fprintf(w, "check: %s, %s read in %s (%.0f records/s)\n",
			p.Bucket, counted(p.Records, "record"), p.Elapsed.Round(time.Second), rate)
	}
}

func printProblems(w io.Writer, res app.CheckResult) {
	for _, p := range res.Problems {
		fmt.Fprintf(w, "PROBLEM %s\n", p)
	}
	if res.Omitted > 0 {
		fmt.Fprintf(w, "PROBLEM ... and %d more not listed\n", res.Omitted)
	}
}

// summary is one line of counts.
func summary(res app.CheckResult) string {
	s := res.CheckSummary
	if res.Unread {
		// Nothing was counted: zeros would say the file holds no
		// records, and an auditor would read an empty audit log.
		problems := len(res.Problems) + res.Omitted
		lines := "its PROBLEM line"
		if problems > 1 {
			lines = "its PROBLEM lines" // a file lacking buckets names each
		}
		return fmt.Sprintf("%s; its records were not read (the file is damaged: see %s): nothing counted, no audit head; %s",
			counted(s.Bytes, "byte"), lines, counted(problems, "problem"))
	}
	parts := []string{
		fmt.Sprintf("schema version %d, %s", s.SchemaVersion, counted(s.Bytes, "byte")),
		counted(s.Reports, "report") + ", " + counted(s.Cases, "case") + ", " + counted(s.CaseEvents, "case event") + ", " +
			counted(s.Timers, "timer") + ", " + counted(s.Notifications, "notification"),
		counted(s.Users, "user") + ", " + counted(s.Tokens, "token") + ", " + counted(s.PoliceUnits, "police unit") + ", " +
			counted(s.DataKeys, "data key"),
		fmt.Sprintf("%s (head seq %d)", counted(s.AuditEvents, "audit event"), s.AuditHeadSeq),
	}
	if s.AuditUnindexed > 0 {
		// A hot backup of a serving store: its start writes them.
		parts[len(parts)-1] += fmt.Sprintf(", the last %d awaiting their index entries", s.AuditUnindexed)
	}
	// The head as audit verify --noted-head takes it: a backup's line in
	// the journal keeps it out of the database (README, "Audit"). Only a
	// file that checks OK has one to note, as audit verify prints none
	// for a broken chain: noted, it would anchor the tampered log.
	if len(res.AuditHeadHash) > 0 && res.OK() {
		parts = append(parts, fmt.Sprintf("audit head %d:%x", s.AuditHeadSeq, res.AuditHeadHash))
	}
	switch {
	case res.AwaitsMigrationOnly():
		parts = append(parts, "awaiting its migration to schema version "+fmt.Sprint(app.SchemaVersion))
	case !res.OK():
		parts = append(parts, counted(len(res.Problems)+res.Omitted, "problem"))
	}
	return strings.Join(parts, "; ")
}

// counted says n of a thing in English: "1 problem", "0 problems",
// "2 problems" (every noun counted here takes an s).
func counted[N int | int64 | uint64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// missingFolder refuses a path in folder dir, which does not exist,
// naming the flag it was given by; the folder is not made, so that a
// mistyped path stays a mistake.
func missingFolder(flag, dir string) error {
	return app.MissingFolder("--"+flag, dir)
}

// isDir reports whether path is a folder that exists.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
