package app

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/kv"
)

// The operations on a store that no server needs to hold: check, offline
// backup, restore onto etcd and migrate-store, on either backend. On etcd
// they read one revision, written into a bbolt file of the same layout,
// so a check and a backup are the same there as on a file. They live
// here, beside dbfile.go, because only the wiring names the concrete
// stores.

// IsEtcd reports whether cfg's store is an etcd cluster.
func (c Config) IsEtcd() bool {
	_, ok := c.etcdEndpoints()
	return ok
}

// StoreName is how messages name cfg's store: the file or the cluster
// with its prefix.
func (c Config) StoreName() string {
	if !c.IsEtcd() {
		return c.DBPath
	}
	prefix := c.EtcdPrefix
	if prefix == "" {
		prefix = DefaultEtcdPrefix
	}
	return c.Store + " (prefix " + prefix + ")"
}

// ValidateStore checks the store settings of cfg (--store, --db and the
// etcd ones), naming the flag.
func (c Config) ValidateStore() error { return c.validateStore() }

// openEtcdEngine connects to cfg's etcd store; a prefix that would meet
// another deployment's keys is refused naming --etcd-prefix.
func openEtcdEngine(ctx context.Context, cfg Config) (*etcdstore.Engine, error) {
	e, err := etcdstore.Open(ctx, cfg.etcdConfig())
	if err != nil {
		return nil, cfg.etcdSettingError(err)
	}
	return e, nil
}

// EtcdFirstCommitTooLarge says why a start with cfg's --etcd-* limits
// would refuse cfg's etcd store because its first commit is too large
// ("" when it fits), writing nothing: that commit raises a store of an
// older schema version and builds the index of users by unit in it, an
// entry for every active user. check --store says it of a store it would
// otherwise call one that a start takes up.
func EtcdFirstCommitTooLarge(ctx context.Context, cfg Config) (string, error) {
	e, err := openEtcdEngine(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer e.Close()
	err = boltstore.EngineFirstCommitFits(ctx, e)
	if errors.Is(err, kv.ErrTooLarge) {
		return err.Error(), nil
	}
	return "", err
}

// CheckStore checks cfg's store as CheckDatabase checks a file, as opts
// asks; an etcd store is checked through a bbolt file of one revision, in
// a temporary directory, removed afterwards.
func CheckStore(ctx context.Context, cfg Config, opts CheckOptions) (CheckResult, error) {
	if err := cfg.validateStore(); err != nil {
		return CheckResult{}, err
	}
	if !cfg.IsEtcd() {
		return boltstore.CheckWith(ctx, cfg.DBPath, opts)
	}
	e, err := openEtcdEngine(ctx, cfg)
	if err != nil {
		return CheckResult{}, err
	}
	defer e.Close()
	res, _, err := checkEngineCopy(ctx, e, opts)
	if err != nil {
		// Named with its prefix: a wrong --etcd-prefix finds no database.
		return res, fmt.Errorf("%s: %w", cfg.StoreName(), err)
	}
	return res, nil
}

// checkEngineCopy checks a bbolt file of one revision of e and returns
// the digest of that revision.
func checkEngineCopy(ctx context.Context, e *etcdstore.Engine, opts CheckOptions) (CheckResult, []boltstore.BucketDigest, error) {
	path, err := boltstore.SnapshotPath()
	if err != nil {
		return CheckResult{}, nil, err
	}
	defer os.RemoveAll(filepath.Dir(path))
	digests, err := boltstore.WriteEngineFile(ctx, e, path)
	if err != nil {
		return CheckResult{}, nil, err
	}
	res, err := boltstore.CheckWith(ctx, path, opts)
	return res, digests, err
}

// BackupStore writes a backup of cfg's store to dest through w, on the
// store's audit trail (see CopyAudit): of a file, which no server may
// hold, a copy of the file (backupFile); of an etcd store, which servers
// may share meanwhile, a bbolt file of one revision, taken after its
// event, so that the copy holds it.
func BackupStore(ctx context.Context, cfg Config, wait time.Duration, dest string, w io.Writer) (CopyAudit, error) {
	if err := cfg.validateStore(); err != nil {
		return CopyAudit{}, err
	}
	if !cfg.IsEtcd() {
		return backupFile(ctx, cfg.DBPath, wait, dest, w)
	}
	e, err := openEtcdEngine(ctx, cfg)
	if err != nil {
		return CopyAudit{}, err
	}
	defer e.Close()
	rec, err := recordEngineCopy(ctx, cfg, "backup", "database.backup", dest)
	if err != nil {
		return CopyAudit{}, err
	}
	if err := copyEngine(ctx, cfg, e, w); err != nil {
		if rec.Seq != 0 {
			// As of a file: the trail does not show a copy that failed
			// as a plain success.
			recordEngineCopyFailed(ctx, cfg, "backup", "database.backup", dest)
		}
		return rec, err
	}
	return rec, nil
}

// copyEngine writes a bbolt file of one revision of cfg's store on e to w.
func copyEngine(ctx context.Context, cfg Config, e *etcdstore.Engine, w io.Writer) error {
	snap, _, err := boltstore.SnapshotEngine(ctx, e)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.StoreName(), err)
	}
	defer snap.Close()
	_, err = io.Copy(w, snap)
	return err
}

// BucketDigest sums up one bucket: its keys, its sequence and a SHA-256
// of its keys and values.
type BucketDigest = boltstore.BucketDigest

// MoveOptions tune MigrateStore.
type MoveOptions struct {
	// KeepSchema leaves a source file as it is instead of migrating it to
	// the current schema first (a restore must not change the backup): a
	// file at an older schema is then refused.
	KeepSchema bool
	// Wait is how long to wait for a source file's lock (a server holds
	// it for as long as it runs); zero means 200 ms.
	Wait time.Duration
	// Progress, when set, is told how many keys are copied so far.
	Progress func(copied int)
}

// BucketComparison is one bucket of the source and the target of a move.
type BucketComparison struct {
	Bucket         string
	Source, Target BucketDigest
}

// Same reports whether the bucket holds the same keys, values and
// sequence on both sides.
func (b BucketComparison) Same() bool { return b.Source == b.Target }

// ShortHash is the first bytes of a digest's SHA-256, in hex, for a
// printed comparison.
func ShortHash(d BucketDigest) string { return hex.EncodeToString(d.SHA256[:8]) }

// MoveResult is what MigrateStore did and found: the check of the target
// and every bucket compared with the source.
type MoveResult struct {
	Check   CheckResult
	Buckets []BucketComparison
	// Audit is the copy's event on the source's trail, or why there is
	// none (see CopyAudit).
	Audit CopyAudit
}

// OK reports whether the target passed its check and holds exactly what
// the source held.
func (r MoveResult) OK() bool {
	if !r.Check.OK() || len(r.Buckets) == 0 {
		return false
	}
	for _, b := range r.Buckets {
		if !b.Same() {
			return false
		}
	}
	return true
}

// MigrateStore copies the store of from into the store of to: a bbolt
// file into an etcd prefix that must be empty, or one revision of an etcd
// store into a bbolt file that must not exist. The copy into etcd goes in
// transactions within to's commit limits, under the meta key migrating,
// so that no server starts on it before it is whole. Then it checks the
// target as CheckStore does and compares every bucket with the source.
// A source file is held (a shared lock) from start to end so that no
// server starts on it meanwhile.
func MigrateStore(ctx context.Context, from, to Config, opts MoveOptions) (MoveResult, error) {
	if opts.Wait == 0 {
		opts.Wait = 200 * time.Millisecond
	}
	for _, c := range []Config{from, to} {
		if err := c.validateStore(); err != nil {
			return MoveResult{}, err
		}
	}
	switch {
	case !from.IsEtcd() && to.IsEtcd():
		return fileToEtcd(ctx, from.DBPath, to, opts)
	case from.IsEtcd() && !to.IsEtcd():
		return etcdToFile(ctx, from, to.DBPath, to.StoreName())
	default:
		return MoveResult{}, errors.New("one side must be a bbolt file and the other an etcd:// store " +
			"(to copy a file, use childcase backup)")
	}
}

// fileToEtcd is MigrateStore from the file at path into an etcd store.
func fileToEtcd(ctx context.Context, path string, to Config, opts MoveOptions) (MoveResult, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return MoveResult{}, fmt.Errorf("the source %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return MoveResult{}, fmt.Errorf("the source %s is not a file", path)
	}
	// Only a childcase database moves: the migrating open below would
	// make one of an empty file (a wrong name), which would then go onto
	// etcd as an empty deployment. A read-only open changes nothing.
	ro, err := HoldDatabase(path, opts.Wait)
	if err != nil {
		return MoveResult{}, inUse(err)
	}
	if err := ro.Close(); err != nil {
		return MoveResult{}, err
	}
	e, err := openEtcdEngine(ctx, to)
	if err != nil {
		return MoveResult{}, err
	}
	defer e.Close()
	n, err := e.Keys(ctx)
	if err != nil {
		return MoveResult{}, err
	}
	if n > 0 {
		return MoveResult{}, notEmptyTarget(ctx, e, to, n)
	}
	// A restore (KeepSchema) copies its backup as it is, on no trail: the
	// restored store holds the backup's log as it was.
	var rec CopyAudit
	if !opts.KeepSchema {
		// Opening the file migrates it to the current schema; an engine
		// cannot be migrated.
		s, err := boltstore.Open(path, boltstore.Options{Timeout: opts.Wait, Migrated: migrationAudit(clock.System{}, "migrate-store")})
		if err != nil {
			return MoveResult{}, inUse(err)
		}
		rec, err = recordCopyOr(ctx, s, copyEvent("migrate-store", "database.copy", to.StoreName(), clock.System{}.Now()))
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return MoveResult{}, err
		}
	}
	held, err := HoldDatabase(path, opts.Wait)
	if err != nil {
		return MoveResult{}, inUse(err)
	}
	defer held.Close()
	limits := boltstore.CopyLimits{MaxKeys: 1000, MaxBytes: 1 << 20}
	// Half the commit limits leaves room for the prefixes etcd's keys
	// carry and the commit guard.
	ecfg := to.etcdConfig().WithDefaults()
	limits.MaxKeys = min(limits.MaxKeys, ecfg.MaxTxnOps/2)
	limits.MaxBytes = min(limits.MaxBytes, ecfg.MaxRequestBytes/2)
	if err := boltstore.CopyIntoEngine(ctx, path, e, limits, opts.Progress); err != nil {
		if errors.Is(err, boltstore.ErrCopyUnfinished) || errors.Is(err, boltstore.ErrCopyStartUnknown) {
			err = takeBackCopy(ctx, e, to, err)
		}
		if rec.Seq != 0 {
			// Let go first: the failure's event opens the file for
			// writing. held's deferred Close then does nothing.
			held.Close()
			recordFileCopyFailed(ctx, path, opts.Wait, "migrate-store", "database.copy", to.StoreName())
		}
		return MoveResult{}, err
	}
	source, err := boltstore.DigestFile(ctx, path)
	if err != nil {
		return MoveResult{}, err
	}
	res, target, err := checkEngineCopy(ctx, e, CheckOptions{})
	if err != nil {
		return MoveResult{}, errors.Join(fmt.Errorf("check the copy in %s: %w", to.StoreName(), err), markUnfinished(ctx, e))
	}
	out := MoveResult{Check: res, Buckets: compareBuckets(source, target), Audit: rec}
	if !out.OK() {
		if err := markUnfinished(ctx, e); err != nil {
			return out, fmt.Errorf("the copy in %s failed its check, and could not be marked unfinished: %w", to.StoreName(), err)
		}
	}
	return out, nil
}

// markUnfinished puts the meta key migrating back into the copy on e, so
// that no server starts on a copy that was not checked whole, even when
// ctx ended (a copy interrupted while it was checked).
func markUnfinished(ctx context.Context, e *etcdstore.Engine) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return boltstore.MarkUnfinished(ctx, e)
}

// notEmptyTarget is the refusal of a copy onto the etcd store of to, on
// e, which holds n keys. When they are the part of a copy that did not
// finish (killed outright, or whose removal or check failed), the
// refusal says so and how to empty the prefix: an operator who ran the
// copy a moment before would otherwise read "not empty" as another
// deployment's data, and go and choose another prefix.
func notEmptyTarget(ctx context.Context, e *etcdstore.Engine, to Config, n int64) error {
	bucket, key := boltstore.CopyMarker()
	var unfinished bool
	err := e.View(ctx, func(t kv.Tx) error {
		if meta := t.Bucket(bucket); meta != nil {
			unfinished = meta.Get(key) != nil
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("the target %s is not empty (%d keys), and reading what it holds failed: %w", to.StoreName(), n, err)
	}
	if unfinished {
		return fmt.Errorf("the target %s is not empty (%d keys): it holds the part of a copy into it that did not finish "+
			"(one killed part way, one whose removal or check failed, or one still running), which nothing takes for a database; "+
			"once no copy runs, empty the prefix (etcdctl del --prefix %s) and run the command again", to.StoreName(), n, e.Prefix())
	}
	return fmt.Errorf("the target %s is not empty (%d keys): a copy onto etcd fills an empty prefix only; "+
		"choose another --etcd-prefix, or remove the keys under it first", to.StoreName(), n)
}

// takeBackCopy removes what a copy into the etcd store of to wrote before
// it failed with err, so that the prefix is empty again, as the copy found
// it, and the same command can run again. When that fails too, the part
// copied stays under the meta key migrating, so no server starts on it,
// and the error says how to empty the prefix.
func takeBackCopy(ctx context.Context, e *etcdstore.Engine, to Config, err error) error {
	// Even when ctx ended (an interrupted copy): this is the last chance.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	bucket, key := boltstore.CopyMarker()
	deleted, derr := e.DeleteAllIfPresent(ctx, bucket, key)
	switch {
	case derr == nil && (deleted || errors.Is(err, boltstore.ErrCopyStartUnknown)):
		// Without the meta key migrating, a first commit that failed was
		// not applied: nothing was copied.
		return fmt.Errorf("%w; nothing of it is left in %s", err, to.StoreName())
	case derr == nil:
		derr = errors.New("its meta key migrating is gone, so the copy may have finished")
	}
	return fmt.Errorf("%w; what was copied is still in %s and was not removed (%w): empty the prefix "+
		"(etcdctl del --prefix %s) before running the command again", err, to.StoreName(), derr, e.Prefix())
}

// etcdToFile is MigrateStore from one revision of an etcd store into a
// new bbolt file at path. The file is written beside path under another
// name and takes its name only once it passed its check and matches the
// revision it copies.
func etcdToFile(ctx context.Context, from Config, path, dest string) (MoveResult, error) {
	if _, err := os.Lstat(path); err == nil {
		return MoveResult{}, fmt.Errorf("the target %s exists: migrate-store never replaces a file; choose another name", path)
	}
	tmp := path + ".migrating"
	if _, err := os.Lstat(tmp); err == nil {
		return MoveResult{}, fmt.Errorf("%s is left from a copy cut short (or one still running): remove it, then run migrate-store again", tmp)
	}
	// On the store's trail before the revision is read, so that the
	// copy holds its event.
	rec, err := recordEngineCopy(ctx, from, "migrate-store", "database.copy", dest)
	if err != nil {
		return MoveResult{}, err
	}
	kept := false
	defer func() {
		if !kept && rec.Seq != 0 {
			// The copy never reached path: the trail does not show it
			// as a plain success (as of a copy onto etcd).
			recordEngineCopyFailed(ctx, from, "migrate-store", "database.copy", dest)
		}
	}()
	e, err := openEtcdEngine(ctx, from)
	if err != nil {
		return MoveResult{}, err
	}
	defer e.Close()
	source, err := boltstore.WriteEngineFile(ctx, e, tmp)
	if err != nil {
		return MoveResult{}, fmt.Errorf("copy %s: %w", from.StoreName(), err)
	}
	defer func() {
		if !kept {
			os.Remove(tmp)
		}
	}()
	res, err := CheckDatabase(ctx, tmp, nil)
	if err != nil {
		return MoveResult{}, fmt.Errorf("check the copy %s: %w", tmp, err)
	}
	target, err := boltstore.DigestFile(ctx, tmp)
	if err != nil {
		return MoveResult{}, err
	}
	out := MoveResult{Check: res, Buckets: compareBuckets(source, target), Audit: rec}
	if !out.OK() {
		return out, nil
	}
	if _, err := os.Lstat(path); err == nil {
		return MoveResult{}, fmt.Errorf("%s appeared while the copy ran: not replaced", path)
	}
	if err := os.Rename(tmp, path); err != nil {
		return MoveResult{}, err
	}
	kept = true
	return out, nil
}

// inUse says what to do about a source file a server holds.
func inUse(err error) error {
	if errors.Is(err, ErrDatabaseInUse) {
		return fmt.Errorf("%w: stop the server before moving its database (or move a backup of it)", err)
	}
	return err
}

// compareBuckets pairs the digests of the same buckets.
func compareBuckets(source, target []boltstore.BucketDigest) []BucketComparison {
	byName := make(map[string]boltstore.BucketDigest, len(target))
	for _, d := range target {
		byName[d.Bucket] = d
	}
	out := make([]BucketComparison, 0, len(source))
	for _, d := range source {
		out = append(out, BucketComparison{Bucket: d.Bucket, Source: d, Target: byName[d.Bucket]})
	}
	return out
}
