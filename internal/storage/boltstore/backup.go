package boltstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// ErrInUse is returned (wrapped) by OpenReadOnly and Check when another
// process, normally a running server, holds the database file.
var ErrInUse = errors.New("the database is in use by another process")

// WriteBackup writes a consistent copy of the whole database file to w and
// returns how many bytes it wrote. The copy is the state of one read
// transaction (bbolt's Tx.WriteTo): every write committed before the call
// is in it and none that commits later, while writers go on. The result
// is an ordinary database file that Open, OpenReadOnly and Check accept.
//
// The read transaction stays open until w has taken the last byte, and
// bbolt cannot grow its memory map while a read transaction is open: a
// writer that needs a larger file waits for the copy. Give WriteBackup a
// fast writer (a local file); for a slow reader, such as a network client,
// take a Snapshot and send that.
func (s *Store) WriteBackup(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// The copy holds the entries the reads' commits left for later
	// (audittail.go), so that it is laid out as a closed file is. Should
	// they not be written (a full disk), the copy is sound all the same:
	// its first start writes them.
	if err := s.IndexAuditEvents(ctx); err != nil && s.log != nil {
		s.log.Warn("backup: the audit events of reads keep waiting for their index entries", "err", err)
	}
	var n int64
	err := view(s.db, func(btx *bolt.Tx) error {
		if err := underOneMaster(newTx(btx)); err != nil {
			return err
		}
		var err error
		n, err = btx.WriteTo(ctxWriter{ctx: ctx, w: w})
		return err
	})
	var pre *model.PreconditionError
	if errors.As(err, &pre) {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if err != nil {
		return n, fmt.Errorf("backup: %w", fileDamaged(s.log, s.path, "the backup's read", err))
	}
	return n, nil
}

// reasonRotationUnfinished is the reason of a backup refused because the
// data keys it would copy are under more than one master key.
const reasonRotationUnfinished = "ROTATION_UNFINISHED"

// underOneMaster refuses a copy of a database whose data keys are under
// more than one master key: a rotation cut short (a kill, a full disk)
// leaves them so until it is finished, and a copy of that state would be
// opened by neither the key file nor the retired one the operator keeps,
// each holding one of the masters. It reads one data key per master.
func underOneMaster(t *tx) error {
	ks, err := t.DataKeyPerMaster()
	if err != nil || len(ks) < 2 {
		return err
	}
	ids := make([]string, 0, len(ks))
	for _, k := range ks {
		ids = append(ids, k.Wrapped.MasterID)
	}
	return model.Precondition(reasonRotationUnfinished,
		"the data keys of the database are under %d master keys (%s): a master key rotation is unfinished, and a copy now would open with no one key file; "+
			"finish the rotation first (on a running server, call RotateMasterKey again; with the server stopped, start it once on this file "+
			"with its key file, beside which the rotation left KEYFILE.next or KEYFILE.retired-<id>), then back up",
		len(ids), strings.Join(ids, ", "))
}

// ctxWriter stops a copy whose context has ended.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Snapshot writes a backup (see WriteBackup) into a temporary file beside
// the database, at disk speed, so the read transaction ends as soon as the
// copy is on disk, and returns that file open at its start, with its size.
// Closing it removes the file; on Linux it has no name from the start
// (createSnapshotFile), and on other Unix systems loses it at once, so a
// crash leaves nothing behind. It needs as much free
// space beside the database as the database takes.
func (s *Store) Snapshot(ctx context.Context) (io.ReadCloser, int64, error) {
	path := s.db.Path()
	f, named, err := createSnapshotFile(filepath.Dir(path), filepath.Base(path)+".snapshot-*")
	if err != nil {
		return nil, 0, fmt.Errorf("backup: %w", err)
	}
	snap := &snapshotFile{File: f, removed: !named}
	// Unix lets an open file lose its name; elsewhere Close removes it.
	if named && os.Remove(f.Name()) == nil {
		snap.removed = true
	}
	n, err := s.WriteBackup(ctx, f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		snap.Close()
		return nil, 0, err
	}
	return snap, n, nil
}

type snapshotFile struct {
	*os.File
	removed bool
	dir     string // a directory of its own to remove with it, if any
}

func (s *snapshotFile) Close() error {
	err := s.File.Close()
	if !s.removed {
		if rerr := os.Remove(s.Name()); err == nil {
			err = rerr
		}
		s.removed = true
	}
	if s.dir != "" {
		if rerr := os.RemoveAll(s.dir); err == nil {
			err = rerr
		}
		s.dir = ""
	}
	return err
}

// OpenReadOnly opens an existing database for reading only: a backup or a
// check of a database no server is running on. It never creates or
// changes the file, and refuses one in use by a server (ErrInUse), one
// that is damaged so that bbolt could not map it safely (a file cut short,
// damaged meta pages), or one with a schema version this code does not
// know. Update and Batch fail on it.
func OpenReadOnly(path string, opts Options) (*Store, error) {
	db, err := openBoltReadOnly(path, opts.Timeout, false)
	if err != nil {
		return nil, err
	}
	if err := view(db, checkSchemaReadOnly); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Store{db: db, path: path, log: opts.Logger}, nil
}

// openBoltReadOnly opens an existing file with a shared lock, which a
// running server (holding the exclusive one) refuses. Under that lock, and
// before bbolt reads anything beyond the meta pages, it inspects the file
// (inspectFile; deep walks every page tree too), so a damaged file is
// refused with an error wrapping a *damage rather than crashing the
// process. A read-only bbolt open maps the file and reads only its meta
// pages (the freelist is read on first use), and refuses a file shorter
// than two pages, so it is safe to let it take the lock first.
func openBoltReadOnly(path string, timeout time.Duration, deep bool) (*bolt.DB, error) {
	if timeout == 0 {
		timeout = time.Second
	}
	// Looked at before it is opened: opening a named pipe for reading
	// waits for a writer, and the command would hang without a word.
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err // it names the operation and the path
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open %s: not a regular file", path)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrInUse)
	}
	// A file bbolt refuses gets the diagnosis too, when there is one.
	if ierr := inspectFile(f, fi.Size(), deep); ierr != nil {
		if err == nil {
			db.Close()
		}
		return nil, fmt.Errorf("open %s: %w", path, ierr)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// checkSchemaReadOnly is what Open checks of an existing file, without
// writing anything.
func checkSchemaReadOnly(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return errors.New("the file is not a childcase database (no schema version)")
	}
	raw := meta.Get(keySchemaVersion)
	if len(raw) != 4 {
		return errors.New("the schema version record is damaged")
	}
	version := be.Uint32(raw)
	if version > SchemaVersion {
		return fmt.Errorf("%w: the file has schema version %d, this binary knows up to %d; run a newer childcase",
			datastore.ErrSchemaTooNew, version, SchemaVersion)
	}
	// An older file lacks what later versions added until Open migrates
	// it; reading does not need those buckets, and finds the indexes in
	// their own buckets before version 6 (tx.keys).
	for _, name := range layoutBuckets(version) {
		if tx.Bucket(name) == nil && !optionalBucket(name) {
			return fmt.Errorf("bucket %s is missing", name)
		}
	}
	return nil
}

// SchemaVersion reads the schema version of the file: a copy that must
// not change the file it copies (an offline backup) writes into it only
// when no migration would come first.
func (s *Store) SchemaVersion() (uint32, error) {
	var v uint32
	err := view(s.db, func(btx *bolt.Tx) error {
		meta := btx.Bucket(bucketMeta)
		if meta == nil {
			return errors.New("the file is not a childcase database (no schema version)")
		}
		var err error
		v, err = schemaVersion(boltBucket{meta})
		return err
	})
	return v, err
}
