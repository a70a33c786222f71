package boltstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/childcase/childcase/internal/domain/model"
)

// The reserve: room that ordinary writes (Update) may not take, so that a
// full database still records the audit events of reads (Batch) and so
// still answers reads. Two things can fill a database, and the reserve
// holds back Options.Reserve bytes from each:
//
//   - the configured maximum size (bbolt's MaxSize). bbolt checks it when
//     a transaction needs a page beyond the file's high-water mark.
//     Every write transaction runs under writeMu, and an ordinary one runs
//     with the DB's MaxSize lowered by the reserve, so it fails with
//     ErrMaxSizeReached where a Batch still has Reserve bytes to go.
//     AllocSize is lowered too, so that bbolt measures the high-water mark
//     plus AllocSize rather than the next power of two of the file's memory
//     map: both limits are then met Reserve bytes apart.
//
//   - the disk (or quota). Another process can take the last free byte at
//     any time, so a check of the free space would guarantee nothing: the
//     reserve is disk space taken in advance, a file beside the database
//     (DB.reserve) of Reserve bytes, allocated (fallocate, or written
//     where the file system cannot allocate). A Batch that fails for lack
//     of space shrinks that file by a slice and tries again, until the
//     file is empty. An ordinary write first grows the file back to its
//     full size, and is refused (model.ErrFull) when the disk cannot
//     hold it: the reserve is whole before any ordinary write may use the
//     disk, so once space is freed writes resume, and reads are covered
//     again.
//
// A file system that compresses or deduplicates (zfs, btrfs with
// compression) may not keep the allocated space aside; the reserve of the
// maximum size does not depend on the file system.
type reserve struct {
	size int64    // bytes kept back; 0: no reserve, writes are not told apart
	file *os.File // DB.reserve, nil without a reserve
	held int64    // bytes the file holds now
	// created: this open made the file (it was not there before), so a
	// start refused after it removes it again (Store.CloseRefused).
	created bool
}

// ExistingReserve is the size of the reserve file a server left beside
// the database at path, 0 when there is none (or it is no regular file):
// an offline command that writes the audit event of a read (a backup
// --db) opens the file with that reserve, so that on a full disk its
// event takes the room kept for such events, as a hot backup's does,
// and it makes no reserve file where no server made one.
func ExistingReserve(path string) int64 {
	fi, err := os.Lstat(path + ".reserve")
	if err != nil || !fi.Mode().IsRegular() {
		return 0
	}
	return fi.Size()
}

// reserveSlices is how many slices a Batch frees the reserve file in:
// small enough that another process on the disk gets little of it, large
// enough that a few failed commits free enough for thousands of reads.
const reserveSlices = 16

// openReserve opens (or creates) the reserve file of the database at path
// and grows it to size bytes if the disk allows. A disk too full for it
// is not an error: the server must start and answer reads, and ordinary
// writes are refused until the reserve is whole.
func openReserve(path string, size int64) (*reserve, error) {
	r := &reserve{size: size}
	if size == 0 {
		return r, nil
	}
	name := path + ".reserve"
	// Looked at before the open, under the database's lock: no other
	// server makes the file meanwhile.
	_, statErr := os.Lstat(name)
	r.created = errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("reserve: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reserve: %w", err)
	}
	// The file is grown and cut: it must be the name itself, never a
	// symlink (or anything else) put in its place, whose target would be
	// cut. The name is looked at after the open, so the file checked is
	// the file opened.
	if li, err := os.Lstat(name); err != nil || !li.Mode().IsRegular() || !os.SameFile(li, fi) {
		f.Close()
		return nil, fmt.Errorf("reserve: %s is not a regular file of its own (a symlink?): remove it, and the next start makes it again", name)
	}
	// The file is only ever grown by allocating and shrunk by truncating,
	// so what it holds is allocated. A file larger than the reserve
	// (configured smaller since) gives the rest back.
	r.file, r.held = f, min(fi.Size(), size)
	if fi.Size() > size {
		if err := f.Truncate(size); err != nil {
			f.Close()
			return nil, fmt.Errorf("reserve: %w", err)
		}
	}
	if err := r.refill(); err != nil && !errors.Is(err, model.ErrFull) {
		f.Close()
		return nil, err
	}
	return r, nil
}

// refill grows the reserve file back to its full size. It returns an error
// wrapping model.ErrFull when the disk has no room for it.
func (r *reserve) refill() error {
	if r.file == nil || r.held == r.size {
		return nil
	}
	err := allocate(r.file, r.held, r.size-r.held)
	if err == nil {
		r.held = r.size
		return nil
	}
	// Give back whatever part was allocated: the reserve is either whole
	// or being drawn on.
	if terr := r.file.Truncate(r.held); terr != nil {
		return fmt.Errorf("reserve: %w", errors.Join(err, terr))
	}
	if full := wrapFull(err); errors.Is(full, model.ErrFull) {
		return fmt.Errorf("%w: the disk has no room left beside the %d bytes kept for the audit events of reads (%d of them in use)",
			model.ErrFull, r.size, r.size-r.held)
	}
	return fmt.Errorf("reserve: %w", err)
}

// release frees a slice of the reserve file for a Batch that found the
// disk full, and reports whether there was any left to free.
func (r *reserve) release() bool {
	if r.file == nil || r.held == 0 {
		return false
	}
	held := max(0, r.held-max(r.size/reserveSlices, 1))
	if err := r.file.Truncate(held); err != nil {
		return false
	}
	r.held = held
	return true
}

func (r *reserve) close() error {
	if r.file == nil {
		return nil
	}
	err := r.file.Close()
	r.file = nil
	return err
}

// discard closes the reserve file and removes it if its open made it.
func (r *reserve) discard() error {
	if r.file == nil || !r.created {
		return r.close()
	}
	name := r.file.Name()
	err := r.close()
	if rerr := os.Remove(name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, fmt.Errorf("reserve: %w", rerr))
	}
	return err
}

// allocate makes the disk hold bytes [off, off+n) of f. fallocate does it
// without writing; where the file system does not offer it, zeros are
// written (a sparse file would hold nothing).
func allocate(f *os.File, off, n int64) error {
	err := fallocate(f, off, n)
	if err == nil || !errors.Is(err, errNoFallocate) {
		return err
	}
	zeros := make([]byte, 64<<10)
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := f.WriteAt(zeros[:k], off); err != nil {
			return err
		}
		off, n = off+k, n-k
	}
	return f.Sync()
}

// errNoFallocate is fallocate's answer where the system or the file system
// cannot allocate without writing.
var errNoFallocate = errors.New("fallocate is not supported")

// isNoFallocate reports whether err means the file system has no
// fallocate.
func isNoFallocate(err error) bool {
	return errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL)
}

// isMaxSize reports whether err is bbolt's refusal to grow the file past
// its MaxSize.
func isMaxSize(err error) bool { return errors.Is(err, berrors.ErrMaxSizeReached) }
