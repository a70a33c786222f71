package boltstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/privtemp"
	"github.com/childcase/childcase/internal/storage/kv"
)

// What moves a store between engines needs besides CopyIntoEngine: a
// bbolt file of one transaction of an engine (a backup, a check, the way
// back from etcd to a file) and a digest of every bucket, which shows
// that a copy holds exactly what its source held.

// BucketDigest sums up one bucket of the layout: how many keys it holds,
// its sequence, and a SHA-256 of its keys and values in order.
type BucketDigest struct {
	Bucket   string
	Keys     int64
	Sequence uint64
	SHA256   [sha256.Size]byte
}

// Digest sums up every bucket of the layout as t reads it. A bucket
// missing from t is an error: a copy made from it would lack it too.
func Digest(ctx context.Context, t kv.Tx) ([]BucketDigest, error) {
	out := make([]BucketDigest, 0, len(allBuckets))
	for _, name := range allBuckets {
		b := t.Bucket(name)
		if b == nil {
			return nil, fmt.Errorf("digest: bucket %s is missing", name)
		}
		d := BucketDigest{Bucket: string(name), Sequence: b.Sequence()}
		h := sha256.New()
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if d.Keys%10_000 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			// Lengths first: ("ab","c") and ("a","bc") sum differently.
			writeDigestField(h, k)
			writeDigestField(h, v)
			d.Keys++
		}
		h.Sum(d.SHA256[:0])
		out = append(out, d)
	}
	return out, nil
}

func writeDigestField(h hash.Hash, p []byte) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
	h.Write(p)
}

// DigestFile is Digest of the bbolt file at path, which no server may
// hold (ErrInUse).
func DigestFile(ctx context.Context, path string) ([]BucketDigest, error) {
	db, err := openBoltReadOnly(path, time.Second, false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var out []BucketDigest
	err = view(db, func(btx *bolt.Tx) error {
		out, err = Digest(ctx, &boltTx{tx: btx})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// WriteEngineFile writes the store on e, as one read transaction sees it
// (one revision of an etcd cluster), into a new bbolt file at path
// (WriteFile), and returns the Digest of what that same transaction read.
// A store that holds no layout, or one that CopyIntoEngine has not
// finished filling, is refused: its copy would not be a database.
func WriteEngineFile(ctx context.Context, e kv.Engine, path string) ([]BucketDigest, error) {
	var digests []BucketDigest
	err := e.View(ctx, func(t kv.Tx) error {
		meta := t.Bucket(bucketMeta)
		if meta == nil {
			return errors.New("the store holds no childcase database")
		}
		if meta.Get(keyMigrating) != nil {
			return errors.New("a copy into this store (childcase migrate-store) has not finished")
		}
		if err := WriteFile(ctx, path, t); err != nil {
			return err // WriteFile removes what it wrote, and only that
		}
		var err error
		if digests, err = Digest(ctx, t); err != nil {
			os.Remove(path)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return digests, nil
}

// snapshotDirPrefix begins the name of each temporary directory of
// SnapshotEngine.
const snapshotDirPrefix = "childcase-snapshot-"

// staleSnapshotAge is how old a snapshot's directory must be before
// removeStaleSnapshots takes it for a leftover: its writer holds the
// file's lock from a moment after it made the directory.
const staleSnapshotAge = time.Minute

// removeStaleSnapshots removes from tmp the snapshots whose writer was
// killed (kill -9, a power cut) before it could remove them: each is a
// copy of every child's record, which nothing else would ever delete.
// bbolt holds a lock on the file while it is written, so one no process
// holds, in a directory older than staleSnapshotAge and not written to
// for as long, is a leftover; another process's snapshot under way is
// left alone. Failures are
// ignored: the leftover waits for the next snapshot.
//
// tmp is often /tmp, where any local user may make a directory of that
// name, dated as they like, holding a link to a file of ours: only a
// directory as SnapshotPath makes it (privtemp.Leftovers: this user's,
// mode 0700) is looked into, and its file is opened only when it is a
// regular file, never through a link.
func removeStaleSnapshots(tmp string) {
	for _, dir := range privtemp.Leftovers(tmp, snapshotDirPrefix, staleSnapshotAge) {
		path := filepath.Join(dir, "childcase.db")
		file, err := os.Lstat(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			// Killed before its copy began.
		case err != nil || !file.Mode().IsRegular():
			continue // no copy of ours
		case time.Since(file.ModTime()) < staleSnapshotAge:
			// Written within the minute: a copy that took longer than
			// that to write, its lock let go a moment before its writer
			// opens it again to send or check it.
			continue
		case !unlocked(path):
			continue // its writer, or a check of it, runs
		}
		_ = os.RemoveAll(dir)
	}
}

// SnapshotPath makes a new temporary directory (mode 0700) for a bbolt
// file of one revision of a store on an engine, and returns the file's
// path in it, after removing what killed processes left of such copies
// (removeStaleSnapshots). The caller removes the directory.
func SnapshotPath() (string, error) {
	removeStaleSnapshots(os.TempDir())
	dir, err := os.MkdirTemp("", snapshotDirPrefix)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "childcase.db"), nil
}

// SnapshotEngine writes a bbolt file of the store on e (WriteEngineFile)
// into a temporary directory, and returns it open at its start with its
// size: a backup that Check and restore accept, and that restores onto a
// file or an engine. Closing it removes the file.
func SnapshotEngine(ctx context.Context, e kv.Engine) (io.ReadCloser, int64, error) {
	path, err := SnapshotPath()
	if err != nil {
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	dir := filepath.Dir(path)
	_, err = WriteEngineFile(ctx, e, path)
	var f *os.File
	if err == nil {
		f, err = os.Open(path)
	}
	// Unix lets an open file lose its name; elsewhere Close removes it.
	removed := err == nil && os.RemoveAll(dir) == nil
	if err != nil {
		os.RemoveAll(dir)
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		os.RemoveAll(dir)
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	snap := &snapshotFile{File: f, removed: removed}
	if !removed {
		snap.dir = dir
	}
	return snap, fi.Size(), nil
}
