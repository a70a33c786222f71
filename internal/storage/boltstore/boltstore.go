// Package boltstore owns childcase's stored layout: buckets, key encodings,
// indexes and the schema version, written once over the ordered key-value
// engine of package kv. Two stores run it: Store on a single bbolt file
// (the default, with what only a file has: the reserve, migrations, file
// backups and Check) and EngineStore on any kv engine (OpenEngine: the
// bbolt file as an engine, or an etcd cluster). WriteFile and
// CopyIntoEngine move the layout between the two. It must not decide
// anything about the case process.
//
// Layout (all integers big-endian, fixed width so keys sort as numbers):
//
//	meta                  "schema_version" -> uint32
//	                      "audit_head" -> seq(8) hash(32) of the last audit event
//	                      "clear_text_pending" -> empty, while cases migrated
//	                      from before version 3 may hold clear free text
//	                      "audit_by_time_from" -> the key of the log from
//	                      which IndexAuditByTime goes on until the index
//	                      audit_by_time is complete
//	reports               uuid(16) -> record
//	cases                 id(8) -> record
//	case_numbers          number -> id(8)
//	case_sequences        year(2) -> uint64
//	idempotency           key -> record
//	idempotency_by_time   create time(8) key -> empty; the time is Unix
//	                      nanoseconds held to 1970..2262 (since version 2)
//	users                 user id -> record
//	tokens                token id -> record
//	police_units          police unit id -> record
//	data_keys             data key id -> record (a keys.WrappedKey)
//	data_keys_by_master   master key id, 0x00, data key id -> empty; built
//	                      at open when missing (see buildDataKeyIndex)
//	audit                 seq(8) -> audit.Encode(event)
//	case_events           case id(8) seq(8) -> record; seq counts from 1 per case
//	outbox                seq(8) -> record; seq is the bucket's sequence
//	cursors               cursor name -> uint64
//	index                 tag(1), then the key of one of these indexes
//	                      (keyspace.go; each a bucket of its own before
//	                      version 6), all to empty:
//	  reports_by_call_type  call_type(4) uuid(16)
//	  reports_by_taker      taker user id, 0x00, uuid(16)
//	  report_scope          storekey.ReportIndexKeys (since version 4)
//	  cases_by_unit         unit key, 0x00, id(8)
//	  cases_by_status       status(4) id(8)
//	  case_scope            storekey.CaseIndexKeys' scope keys (since version 4)
//	  case_queue            storekey.CaseIndexKeys' queue keys (since version 4; under a holder's key since 14)
//	  timers                at(8) case id(8) deadline id(4); at is Unix
//	                        nanoseconds, so a timer is due from 1970 to 2262
//	  tokens_by_user        user id, 0x00, token id
//	  users_by_unit         unit, 0x00, role(1) user id: every active
//	                        user (storekey.UserUnitKeys; since version 12)
//	  audit_by_case         case resource name, 0x00, seq(8)
//	  audit_by_actor        actor user id, 0x00, seq(8)
//	  audit_by_time         time(8) seq(8) (storekey.AuditTimeKey); its
//	                        empty key, once there, records that every
//	                        event has its entry (see IndexAuditByTime)
//	search_by_case        case id(8) -> record (the case's search entry)
//	search_tokens         token(8) case id(8) -> empty: the blind index,
//	                      so the cases of a token are one prefix scan.
//	search_pending        case id(8) -> empty: a case changed since its
//	                      entry was written (the entry follows the write).
//	                      The three are created at open when missing (a
//	                      file of this schema version written before them).
//	                      meta's search_indexed_under names the master key
//	                      every case not pending has its entry under.
//
// A record is the byte protoRecord followed by its message of
// proto/childcase/storage/v1 (jsonRecord and JSON up to schema version 4;
// see encode and decode). Audit events are
// stored in the audit package's own encoding instead, because their hash
// covers exactly what that encoding round-trips. Stored ids (users, tokens,
// police units, data keys, report takers) may not contain 0x00, the
// separator of the index keys they start; index scans also pass over keys
// of the wrong length, so a case or actor string cannot reach into another's
// entries either. Reports without a taker, events without a case and
// anonymous events have no entry in the taker, case and actor indexes.
//
// Index entries are written in the same transaction as their record.
//
// Beside the database, the file DB.reserve holds disk space for the audit
// events of reads once ordinary writes find the database full (see
// reserve).
package boltstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/kv"
)

// SchemaVersion is the layout version this code reads and writes. Bump it
// (and add a migration) whenever the layout above changes. Version 3 keeps
// a case's free text sealed in the case record's Texts: a release that
// knows only version 2 would show cases without it and drop it on the next
// change, so it must refuse the file. Version 4 adds the case scope and
// queue indexes and the report scope index (index.go): a release that
// knows only version 3 would write without keeping them in step.
// Version 5 stores every record (audit events aside) as a storage-owned
// protobuf message (records.go) instead of the domain struct in JSON: a
// release that knows only version 4 could not read them. Version 6 keeps
// eleven indexes in the one bucket index (keyspace.go): a release that
// knows only version 5 would find their buckets gone. Version 7 adds the
// statistics counters (bucket stats, stats.go), kept with every write of
// a report or a case: a release that knows only version 6 would write
// without keeping them in step. Version 8 writes the search index's
// tokens in 8 bytes instead of 16, with more kinds of them (a name with
// the birth date): the migration drops the index, and the start builds
// it again (search.Service.CatchUp); a release that knows only version 7
// would look its 16-byte tokens up in vain.
// Version 9 adds the counters' cells by day (tally.DayTotal): a release
// that knows only version 8 would write without keeping those in step.
// Version 10 counts a deadline and its escalations under the unit that
// had to meet it and a transfer under the unit that proposed it, and a
// merged case as no suspected crime closed without a referral
// (tally.CaseEvents): the migration recounts the counters, and a release
// that knows only version 9 would add its differences by the old rules.
// Version 11 writes audit events in their binary form (audit.Encode,
// encodingV2), half the bytes of their JSON: the log was the largest
// part of a database. The events already stored keep their JSON, which
// Decode still reads, so the migration rewrites nothing; a release that
// knows only version 10 would refuse the new events as unknown.
// Version 12 adds the index of active users by unit and role
// (users_by_unit), which ListAssignableOfficers pages through: the
// migration builds it from the users, and a release that knows only
// version 11 would create, disable and enable users without it.
// Version 13 keeps a working-day deadline's warning instants (warn_times,
// model.Deadline.WarnTimes), placed on its working days: the deadlines
// stored before it have none and keep the wall-clock fractions they were
// given, so the migration rewrites nothing; a release that knows only
// version 12 would drop them at the next write of the case and warn at
// wall-clock fractions again, on days off.
// Version 14 adds to the queue index, of every case with an open deadline,
// an entry under the key of the unit that holds it
// (access.HolderQueueKey), so that a list by due time of the cases a
// unit holds (a social work centre's supervisor, a successor commune)
// reads those, not every case the unit handled; its migration puts them
// (buildHolderEntries) and rewrites no record.
const SchemaVersion = 14

// holderEntriesVersion is the schema version that added the queue index's
// entries under a holder's key: a file of an older one (a backup, checked
// or restored) has none yet.
const holderEntriesVersion = 14

// usersByUnitVersion is the schema version that added users_by_unit: a
// file of an older one (a backup, checked or restored) has no entries
// there yet.
const usersByUnitVersion = 12

var (
	bucketMeta              = []byte("meta")
	bucketReports           = []byte("reports")
	bucketReportsByCallType = []byte("reports_by_call_type")
	bucketCases             = []byte("cases")
	bucketCaseNumbers       = []byte("case_numbers")
	bucketCasesByUnit       = []byte("cases_by_unit")
	bucketCasesByStatus     = []byte("cases_by_status")
	bucketCaseSequences     = []byte("case_sequences")
	bucketIdempotency       = []byte("idempotency")
	bucketIdempotencyByTime = []byte("idempotency_by_time")
	bucketReportsByTaker    = []byte("reports_by_taker")
	bucketUsers             = []byte("users")
	bucketTokens            = []byte("tokens")
	bucketTokensByUser      = []byte("tokens_by_user")
	bucketUsersByUnit       = []byte("users_by_unit")
	bucketPoliceUnits       = []byte("police_units")
	bucketDataKeys          = []byte("data_keys")
	bucketDataKeysByMaster  = []byte("data_keys_by_master")
	bucketAudit             = []byte("audit")
	bucketAuditByCase       = []byte("audit_by_case")
	bucketAuditByActor      = []byte("audit_by_actor")
	bucketAuditByTime       = []byte("audit_by_time")
	bucketCaseEvents        = []byte("case_events")
	bucketTimers            = []byte("timers")
	bucketOutbox            = []byte("outbox")
	bucketCursors           = []byte("cursors")
	bucketCaseScope         = []byte("case_scope")
	bucketCaseQueue         = []byte("case_queue")
	bucketReportScope       = []byte("report_scope")
	bucketIndex             = []byte("index")
	bucketSearchByCase      = []byte("search_by_case")
	bucketSearchTokens      = []byte("search_tokens")
	bucketStats             = []byte("stats")
	bucketSearchPending     = []byte("search_pending")

	keySchemaVersion = []byte("schema_version")
	keyAuditHead     = []byte("audit_head")
	// keyClearTextPending is present while cases migrated from before
	// schema version 3 may hold free text in the clear (see
	// datastore.CaseReader.ClearTextPending).
	keyClearTextPending = []byte("clear_text_pending")
	// keySearchIndexedUnder names the master key under whose index key
	// every case not in search_pending has its search entry (see
	// datastore.SearchIndexReader.SearchIndexedUnder).
	keySearchIndexedUnder = []byte("search_indexed_under")
	// keyAuditByTimeFrom is the key of the log where IndexAuditByTime
	// goes on: the events before it have their entries.
	keyAuditByTimeFrom = []byte("audit_by_time_from")
	// auditByTimeComplete, the empty key of the index audit_by_time
	// (shorter than every entry, so no entry's, and before them all), is
	// there once every audit event has its entry: a store written before
	// the index lacks the entries of its older events until
	// IndexAuditByTime has given them theirs, and a time listing walks
	// the log until then. It is not in meta: every commit that appends an
	// event rewrites meta (audit_head), and the record made that a page
	// more per commit (TestRequestsCommitFewTimesAndWriteFewPages).
	auditByTimeComplete = []byte{}

	// allBuckets are the buckets of the current layout; the indexes of
	// indexTags live in the index bucket.
	allBuckets = [][]byte{
		bucketMeta, bucketReports,
		bucketCases, bucketCaseNumbers,
		bucketCaseSequences, bucketIdempotency, bucketIdempotencyByTime,
		bucketUsers, bucketTokens, bucketPoliceUnits,
		bucketDataKeys, bucketDataKeysByMaster,
		bucketAudit,
		bucketCaseEvents, bucketOutbox, bucketCursors,
		bucketIndex,
		bucketSearchByCase, bucketSearchTokens, bucketSearchPending,
		bucketStats,
	}
)

// Options tune Open. The zero value is what production uses.
type Options struct {
	// NoSync skips fsync on commit. Only tests may set it: with it an
	// acknowledged write can be lost.
	NoSync bool
	// Timeout bounds the wait for the file lock held by another process.
	// Zero means one second.
	Timeout time.Duration
	// MaxSize caps the size of the file in bytes (bbolt's MaxSize): a write
	// that would grow the file past it fails with model.ErrFull, and
	// nothing of it is kept. Zero means no limit (the disk is the limit).
	MaxSize int64
	// Reserve is room, in bytes, that Update may not take and Batch may:
	// the audit events of reads go on when ordinary writes no longer fit.
	// With MaxSize it is kept below the cap, and at most a quarter of it;
	// on the disk it is a file beside the database (see reserve). Zero
	// means none (the offline commands).
	Reserve int64
	// Committed, when set, is told how long each committed write
	// transaction took, its fsyncs included (for the metrics).
	Committed func(time.Duration)
	// Migrated, when set, makes the audit event of a migration of the
	// file from schema version from to to: an upgrade rewrites what the
	// file holds, so it is appended to the chain in the transaction that
	// migrates, and is on the record exactly when the migration is.
	Migrated func(from, to uint32) audit.Event
	// Logger, when set, is told at ERROR of every transaction that failed
	// because the file is damaged (see guardTx).
	Logger *slog.Logger
}

// wrapFull marks the errors that mean "no room to commit" (the file at
// MaxSize, the disk or the quota full) with model.ErrFull, so callers
// need not know bbolt or the operating system. bbolt formats some
// system errors with %s (growing the file, mmap), so the text is matched
// too.
func wrapFull(err error) error {
	if err == nil || errors.Is(err, model.ErrFull) {
		return err
	}
	if errors.Is(err, berrors.ErrMaxSizeReached) {
		return fmt.Errorf("%w (the configured maximum size): %w", model.ErrFull, err)
	}
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG} {
		if hasErrno(err, errno) {
			return fmt.Errorf("%w (%s): %w", model.ErrFull, errno.Error(), err)
		}
	}
	return err
}

// hasErrno reports whether err is, or (formatted by bbolt) names, errno.
func hasErrno(err error, errno syscall.Errno) bool {
	return errors.Is(err, errno) || strings.Contains(err.Error(), errno.Error())
}

// Store is a datastore.Store backed by bbolt.
type Store struct {
	db   *bolt.DB
	path string       // the file, named in the errors of a damaged one; its size is the gauge's
	log  *slog.Logger // Options.Logger
	// Two group commits: ordinary writes (Update) and the audit events of
	// reads (Batch), which may draw on the reserve. Each shares its own
	// kind of transaction only, so that an ordinary write never commits
	// under the larger cap of a Batch.
	writes, reads group[*tx]

	// writeMu serialises the write transactions (bbolt does too), so that
	// each runs with the MaxSize of its kind and may use the reserve.
	writeMu  sync.Mutex
	reserve  *reserve
	created  bool // this Open made the file and found it empty under the lock; CloseRefused removes it
	maxSize  int  // the cap of Batch (Options.MaxSize), 0 for none
	ordinary int  // the cap of Update: maxSize less the reserve

	// fill replaces appendFill when set, so that a test can measure what
	// appendFill saves in one run.
	fill map[string]float64

	// auditTail are the events the reads' commits left without their
	// index entries (see audittail.go), in seq order; under writeMu.
	auditTail []audit.Event

	commits   atomic.Int64 // write transactions committed (WriteStats)
	noSync    bool
	committed func(time.Duration) // Options.Committed
}

// WriteStats counts what the write transactions since Open cost the disk.
// Unlike times, the counts do not vary with the load on the machine, so a
// benchmark can report them per request (pages/op).
type WriteStats struct {
	// Commits are the write transactions committed; each syncs the file
	// twice (its pages, then its meta page) unless Options.NoSync.
	Commits int64
	// Pages are the page writes of those commits (bbolt's TxStats.Write):
	// every dirty page (a run of overflow pages counts once), the
	// freelist and the meta page.
	Pages int64
}

// WriteStats returns the counts since Open.
func (s *Store) WriteStats() WriteStats {
	st := s.db.Stats()
	return WriteStats{Commits: s.commits.Load(), Pages: st.TxStats.GetWrite()}
}

// Views returns the read transactions begun on the file since Open
// (bbolt's TxN): a count a busy machine does not change, which tests and
// benchmarks hold a request's reads to (views/op).
func (s *Store) Views() int64 { return int64(s.db.Stats().TxN) }

var _ datastore.Store = (*Store)(nil)

// ReserveFor is the reserve a file keeps with Options.Reserve and
// Options.MaxSize: at most a quarter of the cap, when there is one, so
// that ordinary writes keep most of the file.
func ReserveFor(reserve, maxSize int64) int64 {
	if maxSize > 0 {
		return min(reserve, maxSize/4)
	}
	return reserve
}

// Open opens or creates the database at path. A new file gets the current
// schema version; an existing file must have a version this code knows,
// and meta pages that agree with its size (see inspectFile).
func Open(path string, opts Options) (*Store, error) {
	if opts.MaxSize < 0 || int64(int(opts.MaxSize)) != opts.MaxSize {
		return nil, fmt.Errorf("open %s: maximum size %d is out of range", path, opts.MaxSize)
	}
	made, before := makeFile(path)
	if lockHooks.before != nil {
		lockHooks.before(path)
	}
	db, err := openBolt(path, opts)
	if err != nil {
		return nil, err
	}
	if lockHooks.after != nil {
		lockHooks.after(path)
	}
	if err := stillNamed(path, before); err != nil {
		db.Close()
		return nil, err
	}
	// The schema is written under the full cap: a server must start on a
	// full database, to answer reads.
	var from uint32 // the version of an older file, migrated here
	created := false
	if err := update(db, func(btx *bolt.Tx) error {
		// Whose file it is is known only under the lock: another start
		// may have opened the file this one made, and used it, first.
		created = made && btx.Bucket(bucketMeta) == nil
		from = 0
		if meta := btx.Bucket(bucketMeta); meta != nil {
			if v, err := schemaVersion(boltBucket{meta}); err == nil && v < SchemaVersion {
				from = v
			}
		}
		return initSchema(btx, opts.Migrated)
	}); err != nil {
		discardCreated(db, path, created)
		if errors.Is(err, model.ErrDamaged) {
			return nil, fileDamaged(opts.Logger, path, "opening it", err)
		}
		err = wrapFull(err)
		if from != 0 && errors.Is(err, model.ErrFull) {
			// A migration is one transaction: none of it was written.
			return nil, fmt.Errorf("open %s: migrating it from schema version %d to %d needs more room than there is, and nothing of it was written "+
				"(the file is still at version %d): free space on the disk, or raise the maximum size, and open it again: %w",
				path, from, SchemaVersion, from, err)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// After the schema's transaction, in transactions of its own.
	mergeRoot(db, opts.Logger, path)
	size := ReserveFor(opts.Reserve, opts.MaxSize)
	res, err := openReserve(path, size)
	if err != nil {
		discardCreated(db, path, created)
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, log: opts.Logger, reserve: res, created: created, maxSize: int(opts.MaxSize), ordinary: int(max(opts.MaxSize-size, 0)),
		noSync: opts.NoSync, committed: opts.Committed}
	if opts.MaxSize > 0 && size > 0 {
		// bbolt refuses a page when the high-water mark plus AllocSize
		// passes MaxSize (below AllocSize, the next power of two of the
		// map): a quarter of the reserve keeps both caps a reserve apart.
		db.AllocSize = max(min(db.AllocSize, int(size/4)), 32<<10)
	}
	// A crash may have come between a read's commit and the one that
	// would have written its event's index entries (audittail.go): they
	// are written now, or, on a full disk (the start must go on, to
	// answer reads), by the first commit that can.
	// A page of the log's end that does not read (damage) leaves no
	// tail known here: the start's verification of the newest events
	// reads the same pages and refuses the file, naming the damage.
	_ = view(db, func(btx *bolt.Tx) error {
		s.auditTail = newTx(btx).unindexedAuditTail()
		return nil
	})
	if err := s.IndexAuditEvents(context.Background()); err != nil && opts.Logger != nil {
		opts.Logger.Warn("open: the audit events of reads a crash left without their index entries wait for the next commit", "events", len(s.auditTail), "err", err)
	}
	return s, nil
}

// lockHooks, set by tests only, run in Open just before the file is
// opened and locked, and just after: where another process's start may
// make, open or remove the file meanwhile.
var lockHooks struct{ before, after func(path string) }

// makeFile makes the empty file of a new database at path, for bbolt to
// fill, and reports whether this call made it (no other start can have:
// O_EXCL), with what path names once it exists (nil when it cannot be
// looked at, and openBolt will say why).
func makeFile(path string) (made bool, named os.FileInfo) {
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		made = f.Close() == nil
	}
	named, err := os.Stat(path)
	if err != nil {
		return made, nil
	}
	return made, named
}

// stillNamed refuses a database whose file path no longer names once its
// lock is held: another start, refused, removed the database it had made
// (CloseRefused) while this one waited for its lock, and this one would
// serve a file no name leads to, and lose all it wrote at its stop.
func stillNamed(path string, before os.FileInfo) error {
	if before == nil {
		return nil
	}
	if now, err := os.Stat(path); err != nil || !os.SameFile(before, now) {
		return fmt.Errorf("open %s: the file was removed or replaced while this waited for its lock (another start, refused, removed the database it made): start again", path)
	}
	return nil
}

// openBolt opens or creates the bbolt file at path, inspecting an
// existing one first.
func openBolt(path string, opts Options) (*bolt.DB, error) {
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = time.Second
	}
	// bbolt maps a file and reads its freelist as it opens it for writing,
	// so an existing file is inspected first (under a shared lock, which a
	// server holding the file refuses): a file cut short is refused with a
	// diagnosis instead of crashing the process. An empty file is left to
	// bbolt, which makes it a new database, as after a crash that came
	// between creating the file and writing its first pages.
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		ro, err := openBoltReadOnly(path, timeout, false)
		if err != nil {
			return nil, err
		}
		if err := ro.Close(); err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, NoSync: opts.NoSync, MaxSize: int(opts.MaxSize)})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open %s: %w", path, ErrInUse)
		}
		// bbolt's own error of the file names it ("open X: permission
		// denied"): named once, not "open X: open X: ...".
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) && pathErr.Path == path {
			err = pathErr.Err
		}
		return nil, fmt.Errorf("open %s: %w", path, wrapFull(err))
	}
	if err := keepPrivate(path); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// keepPrivate takes group's and others' access away from the database
// file. What the store keeps in the clear (the audit log's who did what,
// the cases' units, statuses and dates, the users) is for the service's
// user alone, as the master key file is: bbolt creates the file 0600, but
// one put in place by cp or an editor under umask 022 is 0644.
func keepPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(path, perm&^0o077); err != nil {
			return fmt.Errorf("mode %o lets group or others read the database, and it could not be made private (chmod 600 the file): %w", perm, err)
		}
	}
	return nil
}

// initSchema writes the schema version into a new file, or checks the
// version of an existing one before anything else reads it, migrating an
// older one (audited with migrated's event, when set).
func initSchema(tx *bolt.Tx, migrated func(from, to uint32) audit.Event) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if hasAnyBucket(tx) {
			return errors.New("the file is a bbolt database but not a childcase one (no schema version)")
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return initStore(boltBucket{tx.Bucket(bucketMeta)}, boltBucket{tx.Bucket(bucketIndex)})
	}
	version, err := schemaVersion(boltBucket{meta})
	if err != nil {
		return err
	}
	if version > SchemaVersion {
		return fmt.Errorf("%w: the file has schema version %d, this binary knows up to %d; run a newer childcase",
			datastore.ErrSchemaTooNew, version, SchemaVersion)
	}
	if err := migrate(tx, version); err != nil {
		return err
	}
	if version < SchemaVersion && migrated != nil {
		// A crash may have left reads' events without their index
		// entries (audittail.go): they are written before the migration's
		// event, which gets its own, so that those waiting stay the last.
		if err := newTx(tx).catchUpAuditTail(); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", SchemaVersion, err)
		}
		if _, err := newTx(tx).AppendAudit(migrated(version, SchemaVersion)); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", SchemaVersion, err)
		}
	}
	if err := buildDataKeyIndex(tx); err != nil {
		return err
	}
	if err := createSearchBuckets(tx); err != nil {
		return err
	}
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil && !optionalBucket(name) {
			return fmt.Errorf("bucket %s is missing", name)
		}
	}
	return nil
}

func hasAnyBucket(tx *bolt.Tx) bool {
	found := false
	_ = tx.ForEach(func([]byte, *bolt.Bucket) error {
		found = true
		return errStop
	})
	return found
}

var errStop = errors.New("stop")

// Close closes the database file, once the index entries the reads'
// commits left for later are written: a file closed is laid out as
// every version before them had it.
func (s *Store) Close() error {
	if err := s.IndexAuditEvents(context.Background()); err != nil && s.log != nil {
		// A full disk: the file is sound, and its next start writes them.
		s.log.Warn("close: the audit events of reads keep waiting for their index entries", "err", err)
	}
	err := s.db.Close()
	if s.reserve != nil {
		err = errors.Join(err, s.reserve.close())
	}
	return err
}

// CloseRefused closes the store of a start that was refused after it
// opened the database (a wrong key file): as Close, and it removes the
// reserve file and the database when this Open made them, so that the
// refused start leaves the folder as it found it. The files go before the
// database's lock is let go, so no other server has opened them meanwhile.
func (s *Store) CloseRefused() error {
	var err error
	if s.reserve != nil {
		err = s.reserve.discard()
	}
	if s.created {
		if rmErr := os.Remove(s.path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("remove the database %s a refused start made: %w", s.path, rmErr))
		}
	}
	return errors.Join(err, s.Close())
}

// discardCreated closes db, which an Open could not finish, after removing
// its file when that Open made it (under the lock, as CloseRefused does):
// a refused first start leaves no new, empty database behind, which the
// next start or "users add" would take for one that was made.
func discardCreated(db *bolt.DB, path string, created bool) {
	if created {
		_ = os.Remove(path) // best effort: the Open's own error is the one to tell
	}
	db.Close()
}

// View implements datastore.Store.
func (s *Store) View(ctx context.Context, fn func(datastore.ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return fileDamaged(s.log, s.path, "a read", view(s.db, func(btx *bolt.Tx) error { return fn(newTx(btx)) }))
}

// Update implements datastore.Store with a group commit, as Batch, but each
// shared transaction is an ordinary one: it leaves the reserve alone.
// Under many concurrent writers, one fsync then commits many requests
// rather than each request waiting for its own.
func (s *Store) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return fileDamaged(s.log, s.path, "a write", s.writes.do(s.commitOrdinary, func(t *tx) error { return fn(t) }))
}

// writeTx is the layout's transaction over a write transaction of the
// file, with the store's fill percents.
func (s *Store) writeTx(btx *bolt.Tx) *tx { return &tx{kt: &boltTx{tx: btx, fill: s.fill}} }

// commitOrdinary commits the bodies of a group in one ordinary write
// transaction, sharing one layout transaction (and so its statistics
// cells: see tx.cells). A file reads memory: it has nothing to read ahead
// of the bodies.
//
// It also writes the index entries the reads' commits left for later
// (see audittail.go): an ordinary write dirties many of the index's
// pages already, and the events without entries must stay the log's
// last.
func (s *Store) commitOrdinary(_ []func(*tx) error, fn func(*tx) error) error {
	return s.commitAudited(false, fn, func(waiting, own int) bool { return waiting > 0 })
}

// commitAudited runs fn in one write transaction (for reads, one that
// may use the reserve, as Batch's) whose audit events get their index
// entries now if catchUp says so, given how many events wait for theirs
// and how many fn appended, along with those of every event waiting;
// otherwise (always for a read's, never for an ordinary write's) they
// join those waiting.
// Should the entries not fit (a full disk), the transaction is tried
// again without them, and its events wait too: the read or write itself
// must not fail for entries that can be written later, unless that would
// leave more than a start looks for (auditTailWalk): then it fails with
// model.ErrFull, as a commit that does not fit.
func (s *Store) commitAudited(reads bool, fn func(*tx) error, catchUp func(waiting, own int) bool) error {
	tried := false
	attempt := func(deferAll bool) error {
		var t *tx
		indexed := false
		return s.write(reads, func(btx *bolt.Tx) error {
			t, indexed = s.writeTx(btx), false
			t.deferAuditEntries = reads || deferAll
			if err := fn(t); err != nil {
				return err
			}
			if deferAll && len(s.auditTail)+len(t.deferred) >= auditTailWalk {
				// A start finds no more than auditTailWalk waiting: the
				// commit is refused, as one that does not fit.
				return fmt.Errorf("%w: %d audit events of reads already wait for their index entries, for which there is no room",
					model.ErrFull, len(s.auditTail))
			}
			if !deferAll && catchUp(len(s.auditTail), len(t.deferred)) {
				tried = true
				if err := t.indexAuditTail(s.auditTail); err != nil {
					return err
				}
				if err := t.indexAuditTail(t.deferred); err != nil {
					return err
				}
				indexed = true
			}
			return t.flushCells()
		}, func() {
			if indexed {
				s.auditTail = nil
			} else {
				s.auditTail = append(s.auditTail, t.deferred...)
			}
		})
	}
	err := attempt(false)
	if tried && errors.Is(err, model.ErrFull) {
		return attempt(true)
	}
	return err
}

// write runs fn in a write transaction: an ordinary one (Update) leaves
// the reserve alone, one that may use the reserve (Batch) draws on it.
// committed, when set, runs once the transaction is committed, still
// under writeMu.
func (s *Store) write(useReserve bool, fn func(*bolt.Tx) error, committed func()) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	start := time.Now()
	err := s.writeLocked(useReserve, fn)
	if err == nil {
		if committed != nil {
			committed()
		}
		s.commits.Add(1)
		if s.committed != nil {
			s.committed(time.Since(start))
		}
	}
	return err
}

// Gauges are what the metrics read of the store at a scrape.
type Gauges struct {
	Commits int64 // write transactions committed since Open
	// Fsyncs are those commits' fsyncs: two each (pages, then the meta
	// page), none with Options.NoSync.
	Fsyncs       int64
	SizeBytes    int64 // the database file's size
	ReserveBytes int64 // the reserve configured (Options.Reserve, capped)
	// ReserveHeldBytes is what the reserve file holds now: less than
	// ReserveBytes while the disk is full and reads are drawing on it.
	ReserveHeldBytes int64
}

// Gauges returns the store's counts and sizes now. It waits for a write
// under way (the reserve changes only under writeMu) and stats the file,
// so it costs no scan. The size is the file's, not the pages in use
// (bolt.Tx.Size): bbolt grows the file ahead of them, by steps of up to
// 16 MiB, and the file is what takes the disk and meets --max-db-size.
func (s *Store) Gauges() (Gauges, error) {
	g := Gauges{Commits: s.commits.Load()}
	if !s.noSync {
		g.Fsyncs = 2 * g.Commits
	}
	s.writeMu.Lock()
	if s.reserve != nil {
		g.ReserveBytes, g.ReserveHeldBytes = s.reserve.size, s.reserve.held
	}
	s.writeMu.Unlock()
	fi, err := os.Stat(s.path)
	if err != nil {
		return g, fmt.Errorf("the size of the database file: %w", err)
	}
	g.SizeBytes = fi.Size()
	return g, nil
}

func (s *Store) writeLocked(useReserve bool, fn func(*bolt.Tx) error) error {
	if s.reserve == nil || s.reserve.size == 0 {
		return wrapFull(update(s.db, fn))
	}
	if !useReserve {
		if err := s.reserve.refill(); err != nil {
			return err
		}
		if s.maxSize > 0 {
			s.db.MaxSize = s.ordinary
		}
		err := update(s.db, func(btx *bolt.Tx) error {
			// Once reads have grown the file into the reserve, the pages
			// their commits free are the reserve's too: an ordinary write
			// that fitted in them would leave the reads less room.
			if s.maxSize > 0 && btx.Size()+int64(s.db.AllocSize) > int64(s.ordinary) {
				return berrors.ErrMaxSizeReached
			}
			return fn(btx)
		})
		s.db.MaxSize = s.maxSize
		if isMaxSize(err) {
			return fmt.Errorf("%w (the configured maximum size, less %d bytes kept for the audit events of reads): %w",
				model.ErrFull, s.reserve.size, err)
		}
		return wrapFull(err)
	}
	for {
		err := update(s.db, fn)
		// Only a full disk or quota can be helped by what the reserve file
		// gives back; a commit refused at the cap or for the file's own
		// size limit fails as it is.
		if err == nil || !(hasErrno(err, syscall.ENOSPC) || hasErrno(err, syscall.EDQUOT)) || !s.reserve.release() {
			return wrapFull(err)
		}
	}
}

// Batch implements datastore.Store with a group commit: the calls that
// arrive while a commit is on its way to disk wait and then share the next
// transaction and fsync, and a call that finds no commit under way starts
// one at once. (bbolt's own Batch waits for a timer first, which costs a
// lone caller a millisecond or more; reads pay it, since a read is answered
// only after its audit event is committed.) If one fn fails, the shared
// transaction is rolled back, the others run again without it, and the
// failing fn runs again alone, so its error discards only its own writes.
func (s *Store) Batch(ctx context.Context, fn func(datastore.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return fileDamaged(s.log, s.path, "a write of an audit event", s.reads.do(s.commitBatch, func(t *tx) error { return fn(t) }))
}

// commitBatch is commitOrdinary for the writes that may use the reserve,
// the audit events of reads among them, which it commits without their
// index entries (see audittail.go) until auditTailMax of them wait: then
// this commit writes the entries of all.
func (s *Store) commitBatch(_ []func(*tx) error, fn func(*tx) error) error {
	return s.commitAudited(true, fn, func(waiting, own int) bool { return waiting+own >= auditTailMax })
}

// IndexAuditEvents implements datastore.Store: it writes the index
// entries of the events the reads' commits left without them, if any, in
// a transaction that may use the reserve (they are the reads' own).
func (s *Store) IndexAuditEvents(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.writeMu.Lock()
	waiting := len(s.auditTail)
	s.writeMu.Unlock()
	if waiting == 0 {
		return nil
	}
	return fileDamaged(s.log, s.path, "a write of audit index entries", s.write(true, func(btx *bolt.Tx) error {
		return s.writeTx(btx).indexAuditTail(s.auditTail)
	}, func() { s.auditTail = nil }))
}

// commitLayout runs the bodies fn runs over t, then writes what t keeps
// for the end of the transaction (its statistics cells), before the
// engine commits.
func commitLayout(t *tx, fn func(*tx) error) error {
	if err := fn(t); err != nil {
		return err
	}
	return t.flushCells()
}

// group runs queued writes in shared transactions, one commit at a time.
// T is the transaction the calls share: the layout's, for Store and
// EngineStore.
type group[T any] struct {
	mu      sync.Mutex
	pending []groupCall[T]
	running bool
}

type groupCall[T any] struct {
	fn   func(T) error
	done chan error
}

// committer runs one write transaction, in which run runs bodies, the
// fns of the calls that share it, one after another. A store over an
// engine whose reads are round trips runs the bodies ahead, each alone,
// to make their reads at once (EngineStore.commit); a file's store has no
// use for them.
type committer[T any] func(bodies []func(T) error, run func(T) error) error

// do queues fn and returns once the transaction that ran it last has
// committed, or failed. A caller that finds no commit under way commits
// the queue's first round itself (lead), so that a lone request pays no
// goroutine's start and no hand-off; the rounds after it are the group's
// goroutine's. fn may so run on another caller's goroutine: a panic in it
// is taken back to its own caller's goroutine and raised there, as if fn
// had run in the caller's own transaction, so that the server's recovery
// answers that one request and the others are committed without it.
func (g *group[T]) do(c committer[T], fn func(T) error) error {
	done := make(chan error, 1)
	g.mu.Lock()
	g.pending = append(g.pending, groupCall[T]{fn: fn, done: done})
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	if lead {
		g.lead(c)
	}
	err := <-done
	if p := (*panicked)(nil); errors.As(err, &p) {
		panic(p.value)
	}
	return err
}

// panicked carries the value of a panic in a queued fn back to its caller.
type panicked struct{ value any }

func (p *panicked) Error() string { return fmt.Sprintf("panic in a write transaction: %v", p.value) }

// runCall runs one queued fn, turning a panic into a *panicked error, or
// into a *boltPanic when bbolt raised it (a damaged page, see guardTx).
func runCall[T any](fn func(T) error, t T) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicked{value: v}
		}
	}()
	return guardTx(func() error { return fn(t) })
}

// halted reports whether a call's failure ends a pass of commitTogether
// and is its answer without a run alone: a panic may have left its
// writes half done, and a damaged page would fail it again.
func halted(err error) bool {
	var p *panicked
	var bp *boltPanic
	return errors.As(err, &p) || errors.As(err, &bp)
}

// lead commits the round queued so far, the leader's own call among it,
// then leaves what was queued meanwhile to commitLoop on a goroutine of its
// own, so that the leader's answer does not wait for later rounds.
func (g *group[T]) lead(c committer[T]) {
	defer func() {
		if v := recover(); v != nil {
			// A panic outside the calls' bodies (runCall takes theirs)
			// leaves the round unanswered and the group running. On the
			// group's goroutine it ended the process; on the caller's,
			// the server's recovery would answer the one request and
			// every later write would wait for ever. End it as before,
			// from a goroutine of its own, which cannot be recovered,
			// with the trace of where it was raised: that goroutine's
			// own would show only this function.
			go panic(&leadPanic{value: v, stack: debug.Stack()})
			select {}
		}
	}()
	g.mu.Lock()
	calls := g.pending
	g.pending = nil
	g.mu.Unlock()
	commitTogether(c, calls)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pending) == 0 {
		g.running = false
		return
	}
	go g.commitLoop(c)
}

// leadPanic is a panic of a leader's commit outside the calls' bodies,
// raised again to end the process: its message carries the trace of the
// leader's goroutine when it panicked (debug.Stack in the deferred
// function, before the panicking frames unwind), where the fault is.
type leadPanic struct {
	value any
	stack []byte
}

func (p *leadPanic) Error() string {
	return fmt.Sprintf("%v\n\n[the committing goroutine when it panicked]\n%s", p.value, p.stack)
}

// commitLoop commits what is queued, round after round, until the queue is
// empty.
func (g *group[T]) commitLoop(c committer[T]) {
	for {
		g.mu.Lock()
		calls := g.pending
		g.pending = nil
		if len(calls) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		commitTogether(c, calls)
	}
}

// commitTogether runs calls in one transaction. When some fail, the
// transaction is rolled back, each failing call runs again alone (so its
// error discards only its own writes), and the rest run together again.
// A pass goes on past a failure to find every failing call at once, so a
// shared transaction with many failures (writers racing on one case) costs
// one more pass, not one per failure; a call that fails only because of
// what a failed call before it wrote runs alone, which is still correct. A
// call that panicked is not run again: it fails with the panic, and the
// pass stops there, since the panic may have left its writes half done.
//
// A commit that every call took part in but the engine refused as too
// large (kv.ErrTooLarge, etcd's limits) is split in halves, each
// committed the same way; a call too large alone fails with that error.
func commitTogether[T any](commit committer[T], calls []groupCall[T]) {
	for len(calls) > 0 {
		var failed []int
		var failures []error
		bodies := make([]func(T) error, len(calls))
		for i, c := range calls {
			bodies[i] = c.fn
		}
		err := commit(bodies, func(t T) error {
			failed, failures = failed[:0], failures[:0]
			for i, c := range calls {
				err := runCall(c.fn, t)
				if err == nil {
					continue
				}
				failed, failures = append(failed, i), append(failures, err)
				if halted(err) {
					break
				}
			}
			if len(failures) > 0 {
				return failures[0]
			}
			return nil
		})
		if len(failed) == 0 && len(calls) > 1 && errors.Is(err, kv.ErrTooLarge) {
			half := len(calls) / 2
			commitTogether(commit, calls[:half])
			commitTogether(commit, calls[half:])
			return
		}
		if len(failed) == 0 {
			for _, c := range calls {
				c.done <- err
			}
			return
		}
		rest := make([]groupCall[T], 0, len(calls)-len(failed))
		next := 0
		for k, i := range failed {
			rest = append(rest, calls[next:i]...)
			next = i + 1
			c := calls[i]
			if halted(failures[k]) {
				c.done <- failures[k]
				continue
			}
			c.done <- commit([]func(T) error{c.fn}, func(t T) error { return runCall(c.fn, t) })
		}
		calls = append(rest, calls[next:]...)
	}
}
