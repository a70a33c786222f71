package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/storage/kv"
)

// writeFileChunk is how many keys WriteFile puts per bbolt transaction:
// the file is new and synced once at the end, so the transactions only
// bound the dirty pages held in memory.
const writeFileChunk = 100_000

// WriteFile writes a new bbolt file at path holding every bucket of the
// layout with every key and the sequence of src's, as src reads them (one
// read transaction: one revision of an engine). This is a backup of a
// store on any engine, and a file Open, Check and restore accept. The
// keys are put in order onto full pages, so the copy is compact. An
// existing path is refused; a failed copy removes what it wrote.
func WriteFile(ctx context.Context, path string, src kv.Tx) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.Remove(path)
		}
	}()
	// Synced once at the end: a copy cut short is removed, not used.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write %s: %w", path, cerr)
		}
	}()
	for _, name := range allBuckets {
		if err := writeBucket(ctx, db, name, src); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := db.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// writeBucket copies one bucket of src into db, writeFileChunk keys per
// transaction.
func writeBucket(ctx context.Context, db *bolt.DB, name []byte, src kv.Tx) error {
	sb := src.Bucket(name)
	if sb == nil {
		return fmt.Errorf("bucket %s is missing from the source", name)
	}
	c := sb.Cursor()
	k, v := c.First()
	first := true
	for first || k != nil {
		first = false
		if err := ctx.Err(); err != nil {
			return err
		}
		err := update(db, func(btx *bolt.Tx) error {
			b, err := btx.CreateBucketIfNotExists(name)
			if err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
			b.FillPercent = 1 // the keys come in order
			for n := 0; k != nil && n < writeFileChunk; k, v = c.Next() {
				if err := b.Put(k, v); err != nil {
					return fmt.Errorf("bucket %s: %w", name, err)
				}
				n++
			}
			return b.SetSequence(sb.Sequence())
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// SyncDir makes the names of the files created or renamed in dir
// durable: a file synced alone may lose its name in a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// CopyLimits bound each transaction of CopyIntoEngine, to stay under what
// the engine takes in one commit (etcd's --max-txn-ops and
// --max-request-bytes). A key larger than MaxBytes goes alone.
type CopyLimits struct {
	MaxKeys  int // zero means 1,000
	MaxBytes int // keys and values; zero means 1 MiB
}

// CopyIntoEngine copies the bbolt file at srcPath, which must be at the
// current schema version and no server may hold, into dst, which must be
// empty: every bucket of the layout, its keys and its sequence, from one
// read transaction of the file, in transactions within limits. The meta
// key migrating is put first and removed in the last transaction, so that
// OpenEngine refuses a copy cut short. progress, when set, is told how
// many keys are copied after each transaction.
func CopyIntoEngine(ctx context.Context, srcPath string, dst kv.Engine, limits CopyLimits, progress func(copied int)) error {
	if limits.MaxKeys <= 0 {
		limits.MaxKeys = 1000
	}
	if limits.MaxBytes <= 0 {
		limits.MaxBytes = 1 << 20
	}
	db, err := openBoltReadOnly(srcPath, time.Second, false)
	if err != nil {
		return err
	}
	defer db.Close()
	err = view(db, func(btx *bolt.Tx) error {
		return copyLayout(ctx, &boltTx{tx: btx}, dst, limits, progress)
	})
	if err != nil {
		return fmt.Errorf("copy %s into the store: %w", srcPath, err)
	}
	return nil
}

// ErrCopyUnfinished is wrapped by the errors of CopyIntoEngine that come
// after it has put the layout's buckets into the engine: the store there
// then holds part of the copy, under the meta key migrating (CopyMarker),
// which OpenEngine refuses.
var ErrCopyUnfinished = errors.New("stopped part way")

// ErrCopyStartUnknown is wrapped by the error of CopyIntoEngine's first
// commit (the layout's buckets and the meta key migrating) when its
// outcome is not known: the connection lost, or the copy interrupted,
// while the commit was in flight. The engine may then hold that commit,
// under the meta key migrating, or nothing.
var ErrCopyStartUnknown = errors.New("stopped at its first commit")

// errNotEmpty is the first commit's refusal of an engine that holds a
// store already: nothing was written.
var errNotEmpty = errors.New("the store is not empty")

// CopyMarker is the bucket and key of the meta key migrating: a store on
// an engine holds it while a copy into it (CopyIntoEngine) is unfinished,
// and the copy put it in its first commit, into an empty store.
func CopyMarker() (bucket, key []byte) {
	return slices.Clone(bucketMeta), slices.Clone(keyMigrating)
}

// copyLayout is CopyIntoEngine from src, a read transaction.
func copyLayout(ctx context.Context, src kv.Tx, dst kv.Engine, limits CopyLimits, progress func(int)) error {
	meta := src.Bucket(bucketMeta)
	if meta == nil {
		return errors.New("the file is not a childcase database (no schema version)")
	}
	version, err := schemaVersion(meta)
	if err != nil {
		return err
	}
	if version != SchemaVersion {
		return fmt.Errorf("the file has schema version %d, the copy needs %d: open it once with this childcase "+
			"(which migrates it), or with the childcase that wrote it, then copy it", version, SchemaVersion)
	}
	for _, name := range allBuckets {
		if src.Bucket(name) == nil {
			return fmt.Errorf("bucket %s is missing from the file", name)
		}
	}
	err = dst.Update(ctx, func(t kv.Tx) error {
		if t.Bucket(bucketMeta) != nil {
			return errNotEmpty
		}
		for _, name := range allBuckets {
			if _, err := t.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return t.Bucket(bucketMeta).Put(keyMigrating, []byte("copying"))
	})
	if errors.Is(err, errNotEmpty) {
		return err
	}
	if err != nil {
		// A commit that failed in flight may have been applied all the
		// same: the caller removes it if its meta key migrating is there.
		return fmt.Errorf("%w: %w", ErrCopyStartUnknown, err)
	}
	if err := copyKeys(ctx, src, dst, limits, progress); err != nil {
		return fmt.Errorf("%w: %w", ErrCopyUnfinished, err)
	}
	return nil
}

// copyKeys is copyLayout once the buckets are in dst: every key, then the
// sequences, and the meta key migrating removed, in the last commit.
func copyKeys(ctx context.Context, src kv.Tx, dst kv.Engine, limits CopyLimits, progress func(int)) error {
	type put struct{ bucket, k, v []byte }
	var batch []put
	size, copied := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := dst.Update(ctx, func(t kv.Tx) error {
			for _, p := range batch {
				b, err := copiedBucket(t, p.bucket)
				if err != nil {
					return err
				}
				if err := b.Put(p.k, p.v); err != nil {
					return fmt.Errorf("bucket %s: %w", p.bucket, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		copied += len(batch)
		batch, size = batch[:0], 0
		if progress != nil {
			progress(copied)
		}
		return nil
	}
	for _, name := range allBuckets {
		c := src.Bucket(name).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if string(name) == string(bucketMeta) && string(k) == string(keyMigrating) {
				continue
			}
			n := len(name) + len(k) + len(v)
			if len(batch) == limits.MaxKeys || (len(batch) > 0 && size+n > limits.MaxBytes) {
				if err := flush(); err != nil {
					return err
				}
			}
			batch, size = append(batch, put{name, k, v}), size+n
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return dst.Update(ctx, func(t kv.Tx) error {
		for _, name := range allBuckets {
			b, err := copiedBucket(t, name)
			if err != nil {
				return err
			}
			if err := b.SetSequence(src.Bucket(name).Sequence()); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		meta, err := copiedBucket(t, bucketMeta)
		if err != nil {
			return err
		}
		return meta.Delete(keyMigrating)
	})
}

// copiedBucket is a bucket the copy's first commit created. A snapshot
// from before that commit (etcd's serializable read, answered by a
// member that lags) lacks it: the body refuses such a snapshot with an
// error rather than panic, and the engine runs it again on a current one.
func copiedBucket(t kv.Tx, name []byte) (kv.Bucket, error) {
	b := t.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("bucket %s, made by the copy's first commit, is not in the store", name)
	}
	return b, nil
}

// MarkUnfinished puts the meta key migrating back into the store on e, so
// that OpenEngine refuses it: a copy that CopyIntoEngine finished but
// that failed the check made after it must not be served.
func MarkUnfinished(ctx context.Context, e kv.Engine) error {
	return e.Update(ctx, func(t kv.Tx) error {
		meta := t.Bucket(bucketMeta)
		if meta == nil {
			return errors.New("the store holds no childcase database")
		}
		return meta.Put(keyMigrating, []byte("failed its check"))
	})
}
