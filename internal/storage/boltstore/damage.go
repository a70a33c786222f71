package boltstore

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/model"
)

// A page damaged below what Open inspects (a leaf or branch page
// overwritten by a disk or file-system fault) makes bbolt panic when a
// transaction first reads it: bbolt checks the pages it reads with
// assertions, not errors (Page.FastCheck), and reads them in place from
// its memory map, where an element pointing past its page can fault.
// Unrecovered, that panic stops the whole server (in a background job or
// a commit it has no other way to end). So every transaction of the file
// runs under guardTx, and every body of a group commit under runCall,
// which turn a panic raised inside bbolt into a *boltPanic error, which
// Is model.ErrDamaged: the request that reached the page fails, and the
// others go on.
//
// That leaves the file usable: bbolt's View and Update roll the
// transaction back in a deferred call on the way out of the panic
// (DB.View, DB.Update, Tx.rollback and Tx.close of bbolt v1.5.0), which
// gives back a reader's hold on the memory map and the writer's lock, and
// reloads the freelist of a writer from the freelist page, which Open
// inspected. Nothing of a write that panicked is committed. A panic raised
// outside bbolt (a bug in a caller's function) is not damage: it goes on
// up as before, to the server's recovery.

// boltPanic is a panic bbolt raised in a transaction, as an error.
type boltPanic struct {
	value any    // what bbolt panicked with
	at    string // the bbolt function that raised it
}

func (p *boltPanic) Error() string {
	return fmt.Sprintf("bbolt panicked in %s: %v", p.at, p.value)
}

func (p *boltPanic) Is(target error) bool { return target == model.ErrDamaged }

// boltPanicking reports whether the panic under way was raised inside
// bbolt, and where. It must be called by a deferred function while its
// goroutine panics: the frames above runtime.gopanic, runtime's own
// skipped (an index out of range, a fault), are where the panic began,
// and the first of them that is not runtime's is the function that
// raised it.
func boltPanicking() (at string, ok bool) {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			panicking = true
		case panicking && !strings.HasPrefix(f.Function, "runtime."):
			return f.Function, strings.HasPrefix(f.Function, "go.etcd.io/bbolt.") || strings.HasPrefix(f.Function, "go.etcd.io/bbolt/")
		}
		if !more {
			return "", false
		}
	}
}

// guardTx runs run, a transaction of the file (bbolt's View or Update with
// its function) or a body of a group commit, and returns a panic bbolt
// raised in it as a *boltPanic; any other panic goes on up. Memory faults
// in the goroutine panic meanwhile instead of ending the process, so that
// a damaged page read past the end of the map is caught the same way.
func guardTx(run func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	returned := false
	defer func() {
		if returned {
			return
		}
		if at, ok := boltPanicking(); ok {
			err = &boltPanic{value: recover(), at: at}
		}
	}()
	err = run()
	returned = true
	return err
}

// fileDamaged makes err, when bbolt panicked in it, name the file, say
// what was being done and how to find the damage, and logs it (once) at
// ERROR. The message is the operator's: a client is answered with
// model.ErrDamaged's meaning only.
func fileDamaged(log *slog.Logger, path, doing string, err error) error {
	var bp *boltPanic
	if !errors.As(err, &bp) {
		return err
	}
	var done *damagedFile
	if errors.As(err, &done) {
		return err
	}
	if log != nil {
		log.Error("the database file is damaged: a transaction failed", "db", path, "doing", doing,
			"panic", fmt.Sprint(bp.value), "at", bp.at)
	}
	return &damagedFile{path: path, doing: doing, err: err}
}

// damagedFile is a transaction on a damaged file, as fileDamaged says it.
type damagedFile struct {
	path, doing string
	err         error
}

func (d *damagedFile) Error() string {
	return fmt.Sprintf("the database file %s is damaged: %s failed (%v); run childcase check --db %s to see what is damaged, and restore a backup",
		d.path, d.doing, d.err, d.path)
}

func (d *damagedFile) Unwrap() error { return d.err }

// view and update are bbolt's View and Update under guardTx: every
// transaction of the file runs through one of them.
func view(db *bolt.DB, fn func(*bolt.Tx) error) error {
	return guardTx(func() error { return db.View(fn) })
}

func update(db *bolt.DB, fn func(*bolt.Tx) error) error {
	return guardTx(func() error { return db.Update(fn) })
}
