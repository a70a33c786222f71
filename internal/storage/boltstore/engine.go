package boltstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/kv"
)

// keyMigrating, in the meta bucket, is present while CopyIntoEngine
// copies a file into an engine: a store opened on a half copy would serve
// a database that lacks records.
var keyMigrating = []byte("migrating")

// EngineOptions tune OpenEngine.
type EngineOptions struct {
	// Committed, when set, is told how long each committed write
	// transaction took (for the metrics), as Options.Committed.
	Committed func(time.Duration)
	// Space, when set, reports how large the engine's database is and
	// the most it may grow to (etcd's space quota), past which the engine
	// refuses every write. Ordinary writes (Update) are then refused
	// (model.ErrFull) once less than Reserve bytes are left, so that the
	// audit events of reads (Batch) still have room: a full store goes
	// on answering reads, as a file with a reserve does.
	Space func(context.Context) (size, limit int64, err error)
	// Reserve is the room kept back from ordinary writes when Space is
	// set; at most a quarter of the limit is kept.
	Reserve int64
	// CommitTimeout bounds each shared write transaction on the engine,
	// its re-runs included: a commit is shared by callers whose own
	// contexts differ, so none of theirs bounds it, and an engine that
	// cannot be reached (an etcd cluster gone from this machine) would
	// otherwise hold every write, and the shutdown, for ever. Zero means
	// DefaultCommitTimeout.
	CommitTimeout time.Duration
}

// DefaultCommitTimeout is EngineOptions.CommitTimeout's default: the
// service's deadline for a unary call.
const DefaultCommitTimeout = 30 * time.Second

// spaceRecheck is how long EngineStore trusts a Space answer, and
// spaceProbeTimeout how long it waits for one. Writes never wait for a
// probe (a member that is down would hold every write up): a probe runs
// beside them, and the reserve absorbs what they add meanwhile.
const (
	spaceRecheck      = 250 * time.Millisecond
	spaceProbeTimeout = 2 * time.Second
)

// spaceGauge decides whether ordinary writes still fit (EngineOptions.Space).
type spaceGauge struct {
	space   func(context.Context) (int64, int64, error)
	reserve int64

	mu      sync.Mutex
	checked time.Time
	probing bool
	// near: the last probe found the store within two reserves of its
	// limit, where writes made during a probe's 250 ms of trust could
	// take the whole reserve (and the engine would then refuse the reads'
	// audit events too): each write there starts a new probe as soon as
	// the last has answered, still without waiting for it.
	near    bool
	refusal error // non-nil while ordinary writes are refused
}

// ordinaryWrite returns an error wrapping model.ErrFull when an ordinary
// write would take the room kept for reads, as the last probe found; it
// starts a new probe when that one is old.
func (g *spaceGauge) ordinaryWrite() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.probing && (g.near || time.Since(g.checked) >= spaceRecheck) {
		g.probing = true
		go g.probe()
	}
	return g.refusal
}

// probe asks the engine how full it is. A failed probe keeps the last
// answer: the engine itself still refuses a write past its limit.
func (g *spaceGauge) probe() {
	ctx, cancel := context.WithTimeout(context.Background(), spaceProbeTimeout)
	defer cancel()
	size, limit, err := g.space(ctx)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.probing = false
	g.checked = time.Now()
	if err != nil {
		return
	}
	g.refusal = nil
	keep := min(g.reserve, limit/4)
	g.near = size+2*keep >= limit
	if size+keep >= limit {
		g.refusal = fmt.Errorf("%w: the store holds %d of its %d bytes, and %d are kept for the audit events of reads",
			model.ErrFull, size, limit, keep)
	}
}

// EngineStore is a datastore.Store over any kv engine: the layout of
// Store, its records, indexes and counters, with Store's group commits.
// What only a bbolt file has (the reserve, backups of the file, Check,
// migrations) stays with Store.
type EngineStore struct {
	e kv.Engine
	// ctx is what the shared commits run under, each bounded by
	// commitTimeout: OpenEngine's context without its cancellation, since
	// a commit is shared by calls whose own contexts differ; Close
	// cancels it.
	ctx           context.Context
	cancel        context.CancelFunc
	commitTimeout time.Duration
	// Update shares a commit with Update only and Batch with Batch only,
	// as Store's do.
	writes, reads group[*tx]
	// committing lets one of the two groups' transactions run on the
	// engine at a time: an engine that serialises its writers (etcd's
	// commit guard) makes one of two concurrent transactions re-run, with
	// all its reads, so one instance's groups would only defeat each
	// other.
	committing sync.Mutex
	committed  func(time.Duration)
	commits    atomic.Int64 // write transactions committed (Commits)
	space      *spaceGauge  // nil: no room is kept for reads
	// created: OpenEngine made the store, on an empty engine (Created).
	created bool
}

var _ datastore.Store = (*EngineStore)(nil)

// OpenEngine opens the layout on e. An empty engine gets every bucket of
// the layout and the current schema version in one transaction; one at
// the current version must have every bucket. An engine cannot be
// migrated: one at an older version is refused (migrate it as a bbolt
// file, then move it with childcase migrate-store), one at a newer
// version too (datastore.ErrSchemaTooNew), and so is one that
// CopyIntoEngine has not finished filling. OpenEngine does not close e
// when it fails.
func OpenEngine(ctx context.Context, e kv.Engine, opts EngineOptions) (*EngineStore, error) {
	var created bool
	if err := e.Update(ctx, func(t kv.Tx) (err error) { created, err = initEngine(t); return err }); err != nil {
		return nil, fmt.Errorf("open the store: %w", firstCommitTooLarge(err))
	}
	s := &EngineStore{e: e, committed: opts.Committed, commitTimeout: opts.CommitTimeout, created: created}
	if s.commitTimeout <= 0 {
		s.commitTimeout = DefaultCommitTimeout
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if opts.Space != nil && opts.Reserve > 0 {
		// The first answer before the first write: a store opened full
		// refuses at once.
		s.space = &spaceGauge{space: opts.Space, reserve: opts.Reserve, probing: true}
		s.space.probe()
	}
	return s, nil
}

// firstCommitTooLarge says what to do about the one commit of a start
// that grows with the data, OpenEngine's (the migrations' index of users
// by unit and queue entries by holder, initEngine), when err is that it
// is too large for the engine.
func firstCommitTooLarge(err error) error {
	if !errors.Is(err, kv.ErrTooLarge) {
		return err
	}
	return fmt.Errorf("its first commit (a new store's layout, or the migration to schema version %d or %d, "+
		"which puts an entry for every active user, and one for every case with an open deadline, in the commit that raises the version) "+
		"is more than one commit may hold: "+
		"raise --etcd-max-txn-ops and --etcd-max-request-bytes (and the cluster's limits) above the number of users and open cases, "+
		"or migrate the store on a bbolt file and move it with childcase migrate-store: %w", usersByUnitVersion, holderEntriesVersion, err)
}

// CommitTrier is an engine that runs a write transaction without
// committing it and says whether its writes would fit one commit
// (etcdstore's Engine.Fits).
type CommitTrier interface {
	Fits(ctx context.Context, fn func(kv.Tx) error) error
}

// EngineFirstCommitFits reports whether the first commit OpenEngine
// would make on e, with e's limits, fits one commit, writing nothing:
// nil when it does (or writes nothing), an error wrapping kv.ErrTooLarge
// that says what to do when a start would be refused for its size (a
// store of an older schema whose users the index of users by unit is
// built for in that commit), or the refusal OpenEngine would give. check
// asks it, so that it does not call sound a store the start refuses.
func EngineFirstCommitFits(ctx context.Context, e CommitTrier) error {
	return firstCommitTooLarge(e.Fits(ctx, func(t kv.Tx) error {
		_, err := initEngine(t)
		return err
	}))
}

// Created reports whether OpenEngine made the store, on an engine that
// held none: a start refused after that takes it back, so that the
// next start finds the engine as the refused one did.
func (s *EngineStore) Created() bool { return s.created }

// MinEngineTxnOps is the fewest operations an engine must let one commit
// hold for the layout to live on it: a new store's first commit
// (initEngine) writes the marker of every bucket at once, beside the meta
// keys of initStore and the engine's own commit guard (CopyIntoEngine's
// first and last commits, one fewer). Under it no store can be created.
func MinEngineTxnOps() int { return len(allBuckets) + 3 }

// initEngine is initSchema for an engine, which is never migrated record
// by record: a store of a version before lastRewritingVersion is refused.
// It reports whether it made the store, on an engine that held none.
func initEngine(t kv.Tx) (created bool, err error) {
	meta := t.Bucket(bucketMeta)
	if meta == nil {
		for _, name := range allBuckets {
			if _, err := t.CreateBucketIfNotExists(name); err != nil {
				return false, fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return true, initStore(t.Bucket(bucketMeta), t.Bucket(bucketIndex))
	}
	return false, checkEngineStore(t, meta)
}

// checkEngineStore is initEngine on an engine that holds a store: it
// takes up one of a recent older version (EngineTakesUp) and refuses what
// a start cannot run on.
func checkEngineStore(t kv.Tx, meta kv.Bucket) error {
	if meta.Get(keyMigrating) != nil {
		return errors.New("a copy into this store (childcase migrate-store) has not finished; run it again on an emptied store")
	}
	version, err := schemaVersion(meta)
	if err != nil {
		return err
	}
	if version > SchemaVersion {
		return fmt.Errorf("%w: the store has schema version %d, this binary knows up to %d; run a newer childcase",
			datastore.ErrSchemaTooNew, version, SchemaVersion)
	}
	if EngineTakesUp(version) {
		// The migrations after lastRewritingVersion rewrite no record
		// (see migrate), so an engine's store, which is never migrated
		// record by record, takes them by its version and the indexes
		// they add, built in this one transaction: its commit guard
		// makes it fail, and run again, if any other instance wrote
		// meanwhile, so no user is created or changed without its entry.
		if version < usersByUnitVersion {
			if err := buildUsersByUnit(&tx{kt: t}); err != nil {
				return fmt.Errorf("migrate to schema version %d: %w", usersByUnitVersion, err)
			}
		}
		if version < holderEntriesVersion {
			if err := buildHolderEntries(&tx{kt: t}); err != nil {
				return fmt.Errorf("migrate to schema version %d: %w", holderEntriesVersion, err)
			}
		}
		return meta.Put(keySchemaVersion, u32(SchemaVersion))
	}
	if version < SchemaVersion {
		return fmt.Errorf("the store has schema version %d, this binary needs %d and cannot migrate it in place; "+
			"migrate it on a bbolt file first (open it with this childcase), then move it with childcase migrate-store",
			version, SchemaVersion)
	}
	for _, name := range allBuckets {
		if t.Bucket(name) == nil {
			return fmt.Errorf("bucket %s is missing", name)
		}
	}
	// An engine writes every event's entries with it, but a file moved
	// onto it from a hot backup may hold reads' events without theirs
	// (see audittail.go).
	return (&tx{kt: t}).catchUpAuditTail()
}

// EngineTakesUp reports whether OpenEngine brings a store on an engine
// of schema version version, older than this code's, up to date by its
// version alone: the
// migrations after lastRewritingVersion rewrite no record (see migrate),
// so an engine's store, which is never migrated record by record, takes
// them so. A store of an older version still is refused at open; check
// says which of the two a store of an older version is.
func EngineTakesUp(version uint32) bool {
	return version >= lastRewritingVersion && version < SchemaVersion
}

// schemaVersion reads the schema version of the meta bucket.
func schemaVersion(meta kv.Bucket) (uint32, error) {
	raw := meta.Get(keySchemaVersion)
	if len(raw) != 4 {
		return 0, errors.New("the schema version record is damaged")
	}
	return be.Uint32(raw), nil
}

// EngineSchemaVersion reads the schema version of the store on e without
// writing anything: a copy that must not change the store it copies (an
// offline backup) writes its event into it only when opening it would not
// raise that version first (initEngine does), under servers of the older
// version that may be running on it.
func EngineSchemaVersion(ctx context.Context, e kv.Engine) (uint32, error) {
	var v uint32
	err := e.View(ctx, func(t kv.Tx) error {
		meta := t.Bucket(bucketMeta)
		if meta == nil {
			return errors.New("the store is not a childcase database (no schema version)")
		}
		var err error
		v, err = schemaVersion(meta)
		return err
	})
	return v, err
}

// Close closes the engine.
func (s *EngineStore) Close() error {
	s.cancel() // a commit still waiting on the engine gives up
	return s.e.Close()
}

// View implements datastore.Store.
func (s *EngineStore) View(ctx context.Context, fn func(datastore.ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.e.View(ctx, func(kt kv.Tx) error { return runTx(kt, func(t *tx) error { return fn(t) }) })
}

// Update implements datastore.Store with a group commit, as Store.Update.
func (s *EngineStore) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.space.ordinaryWrite(); err != nil {
		return err
	}
	return s.writes.do(s.commit, func(t *tx) error { return fn(t) })
}

// IndexAuditEvents implements datastore.Store: an engine writes every
// audit event's index entries with the event, so there is nothing left.
func (s *EngineStore) IndexAuditEvents(context.Context) error { return nil }

// Batch implements datastore.Store with a group commit, as Store.Batch; it
// may take the room that EngineOptions.Reserve keeps from Update.
func (s *EngineStore) Batch(ctx context.Context, fn func(datastore.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.reads.do(s.commit, func(t *tx) error { return fn(t) })
}

// commit runs one shared write transaction on the engine: the bodies fn
// runs share one layout transaction (see commitLayout), after the engine
// has run them ahead (readAhead).
func (s *EngineStore) commit(bodies []func(*tx) error, fn func(*tx) error) error {
	s.committing.Lock()
	defer s.committing.Unlock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(s.ctx, s.commitTimeout)
	defer cancel()
	err := s.e.Update(ctx, func(kt kv.Tx) error {
		readAhead(kt, bodies)
		return runTx(kt, func(t *tx) error { return commitLayout(t, fn) })
	})
	if err == nil {
		s.commits.Add(1)
		if s.committed != nil {
			s.committed(time.Since(start))
		}
	}
	return err
}

// readAhead gives the bodies of a shared transaction to an engine that
// runs them ahead of their serial run to make their reads at once
// (kv.Speculator; etcd), each on a layout transaction of its own over
// the engine's throwaway one: the layout transaction the bodies share
// keeps the statistics cells they change (tx.cells), which a run that is
// thrown away must not touch, and runs at the same time must not share.
// A single body has no other's reads to overlap.
func readAhead(kt kv.Tx, bodies []func(*tx) error) {
	if _, ok := kt.(kv.Speculator); !ok || len(bodies) < 2 {
		return
	}
	fns := make([]func(kv.Tx) error, len(bodies))
	for i, body := range bodies {
		fns[i] = func(st kv.Tx) error { return runTx(st, body) }
	}
	kv.Speculate(kt, fns...)
}

// runTx runs fn over the layout's transaction on kt and marks it ended
// when fn returns, since an engine's transaction need not tell.
func runTx(kt kv.Tx, fn func(*tx) error) error {
	t := &tx{kt: kt, noAuditTail: true}
	defer func() { t.closed = true }()
	return fn(t)
}

// Snapshot writes a bbolt file of the store as one read transaction sees
// it (one revision of an etcd cluster) into a temporary directory, and
// returns it open at its start with its size: a backup that Check and
// restore accept, and that restores onto a file or an engine. Closing it
// removes the file.
func (s *EngineStore) Snapshot(ctx context.Context) (io.ReadCloser, int64, error) {
	return SnapshotEngine(ctx, s.e)
}

// Commits returns the write transactions committed since OpenEngine (for
// the metrics).
func (s *EngineStore) Commits() int64 { return s.commits.Load() }
