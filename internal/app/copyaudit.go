package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// The offline copies of a whole store (backup --db, backup --store,
// migrate-store, whose event is database.copy) take every child's data away as a hot backup does, so
// they are on the source's audit trail as a hot backup is: an event by
// users/system, the command as its request id, written before the copy so
// that the copy holds it. The service's users are not there to name; the
// operating system's user who ran the command and the host are, in the
// reason.

// CopyAudit is what an offline copy left on its source's trail: the seq
// of its event, or why it could not write one (Unaudited), which the
// command then prints, so that the operator knows the copy is not on the
// trail and why.
type CopyAudit struct {
	Seq       uint64
	Unaudited string
}

// copyEvent is the event of a copy of the whole store by command to
// dest, at now.
func copyEvent(command, action, dest string, now time.Time) audit.Event {
	e := access.System(command).Event(now, action, "database", "", audit.OutcomeOK)
	who := "an unknown user"
	if u, err := user.Current(); err == nil {
		who = "the system user " + u.Username
	}
	host, err := os.Hostname()
	if err != nil {
		host = "an unknown host"
	}
	e.Reason = fmt.Sprintf("a copy of the whole store to %s, run by %s on %s", dest, who, host)
	return e
}

// recordCopy appends the event of a copy to the store's log and returns
// its seq.
func recordCopy(ctx context.Context, store datastore.Store, e audit.Event) (CopyAudit, error) {
	log := auditlog.New(store)
	if err := log.Record(ctx, e); err != nil {
		return CopyAudit{}, err
	}
	head, err := log.Head(ctx)
	if err != nil {
		return CopyAudit{}, err
	}
	return CopyAudit{Seq: head.Seq}, nil
}

// backupFile writes a backup of the database file at path, which no
// server may hold (ErrDatabaseInUse), to w, on the file's trail
// (database.backup by users/system for "backup", before the copy, and an
// event of its failure after one that failed, as a hot backup). A file
// of an older schema is not written to: the copy must be of the file as
// it is, and a write would migrate it first (the first start does that,
// audited); nor is one whose event cannot be written (a full disk, a file
// that cannot be opened for writing). Either is said in Unaudited, and
// the copy is taken all the same: refusing a backup for want of room for
// its event would leave the data of a full disk without one.
func backupFile(ctx context.Context, path string, wait time.Duration, dest string, w io.Writer) (CopyAudit, error) {
	ro, err := boltstore.OpenReadOnly(path, boltstore.Options{Timeout: wait})
	if err != nil {
		return CopyAudit{}, err
	}
	version, err := ro.SchemaVersion()
	if err != nil {
		ro.Close()
		return CopyAudit{}, err
	}
	if version < boltstore.SchemaVersion {
		defer ro.Close()
		_, err := ro.WriteBackup(ctx, w)
		return CopyAudit{Unaudited: olderSchema(version)}, err
	}
	if err := ro.Close(); err != nil {
		return CopyAudit{}, err
	}
	// Its event is a read's (a Batch), which on a full disk takes the
	// room the server's reserve file keeps for such events, as a hot
	// backup's does: opened without it, the event found no room.
	s, err := boltstore.Open(path, boltstore.Options{Timeout: wait, Reserve: boltstore.ExistingReserve(path)})
	if errors.Is(err, ErrDatabaseInUse) {
		return CopyAudit{}, err
	}
	if err != nil {
		return unauditedBackup(ctx, path, wait, w, "the file cannot be opened for writing: "+err.Error())
	}
	e := copyEvent("backup", "database.backup", dest, clock.System{}.Now())
	rec, err := recordCopyOr(ctx, s, e)
	if err != nil || rec.Unaudited != "" {
		// Closed first: the copy without its event opens the file again.
		if cerr := s.Close(); err != nil || cerr != nil {
			return CopyAudit{}, cmp.Or(err, cerr)
		}
		return unauditedBackup(ctx, path, wait, w, rec.Unaudited)
	}
	defer s.Close()
	if _, err := s.WriteBackup(ctx, w); err != nil {
		// As a hot backup's: the trail does not show a copy that failed
		// as a plain success.
		e.Outcome = audit.OutcomeError
		_ = auditlog.New(s).Record(context.WithoutCancel(ctx), e)
		return rec, err
	}
	return rec, nil
}

// unauditedBackup is backupFile's copy of a file it could not write its
// event to, and why.
func unauditedBackup(ctx context.Context, path string, wait time.Duration, w io.Writer, why string) (CopyAudit, error) {
	return CopyAudit{Unaudited: why}, BackupStopped(ctx, path, wait, w)
}

// recordEngineCopy audits a copy of cfg's etcd store by command, on a
// connection of its own (a store closes its engine). A prefix that holds
// no store is not made one to take the event: the copy refuses it
// anyway. One the store cannot take the event of (its space quota full,
// a copy into it unfinished, an older schema version, which opening it
// would raise) is said in Unaudited, and the copy goes on, as of a file.
func recordEngineCopy(ctx context.Context, cfg Config, command, action, dest string) (CopyAudit, error) {
	e, err := openEtcdEngine(ctx, cfg)
	if err != nil {
		return CopyAudit{}, err
	}
	n, err := e.Keys(ctx)
	if err != nil || n == 0 {
		e.Close()
		return CopyAudit{Unaudited: cfg.StoreName() + " holds no store"}, err
	}
	// Opening the store would raise an older schema version first, under
	// the servers of that version that may run on it: a copy takes the
	// store as it is, as of a file.
	version, err := boltstore.EngineSchemaVersion(ctx, e)
	if err != nil || version < boltstore.SchemaVersion {
		e.Close()
		if ctx.Err() != nil {
			return CopyAudit{}, ctx.Err()
		}
		if err != nil {
			return CopyAudit{Unaudited: "its schema version cannot be read: " + err.Error()}, nil
		}
		return CopyAudit{Unaudited: olderSchema(version)}, nil
	}
	store, err := boltstore.OpenEngine(ctx, e, boltstore.EngineOptions{})
	if err != nil {
		e.Close()
		return CopyAudit{Unaudited: "the store cannot be opened for writing: " + err.Error()}, nil
	}
	defer store.Close()
	return recordCopyOr(ctx, store, copyEvent(command, action, dest, clock.System{}.Now()))
}

// olderSchema is why a copy of a store of an older schema version is not
// on its trail.
func olderSchema(version uint32) string {
	return fmt.Sprintf("its schema version %d is older than this version's %d, and a copy does not migrate what it copies to take its event",
		version, boltstore.SchemaVersion)
}

// recordCopyOr is recordCopy that turns an event the store could not
// take into Unaudited: the copy goes on, and says so. Only an ended ctx
// (the command interrupted) stops it.
func recordCopyOr(ctx context.Context, store datastore.Store, e audit.Event) (CopyAudit, error) {
	rec, err := recordCopy(ctx, store, e)
	if err != nil {
		if ctx.Err() != nil {
			return CopyAudit{}, ctx.Err()
		}
		return CopyAudit{Unaudited: "its event could not be written: " + err.Error()}, nil
	}
	return rec, nil
}

// recordFileCopyFailed appends, to the trail of the file at path, the
// failure of a copy whose event is there already, so that the trail does
// not show a copy that never reached its target as a plain success, as a
// hot backup's failure is recorded. Best effort, even once ctx ended (an
// interrupted copy): the command's own error is what the operator is told.
func recordFileCopyFailed(ctx context.Context, path string, wait time.Duration, command, action, dest string) {
	s, err := boltstore.Open(path, boltstore.Options{Timeout: wait})
	if err != nil {
		return
	}
	defer s.Close()
	e := copyEvent(command, action, dest, clock.System{}.Now())
	e.Outcome = audit.OutcomeError
	_ = auditlog.New(s).Record(context.WithoutCancel(ctx), e)
}

// recordEngineCopyFailed is recordFileCopyFailed for cfg's etcd store, on
// a connection of its own, within a bounded time even once ctx ended.
func recordEngineCopyFailed(ctx context.Context, cfg Config, command, action, dest string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	e, err := openEtcdEngine(ctx, cfg)
	if err != nil {
		return
	}
	store, err := boltstore.OpenEngine(ctx, e, boltstore.EngineOptions{})
	if err != nil {
		e.Close()
		return
	}
	defer store.Close()
	ev := copyEvent(command, action, dest, clock.System{}.Now())
	ev.Outcome = audit.OutcomeError
	_ = auditlog.New(store).Record(ctx, ev)
}
