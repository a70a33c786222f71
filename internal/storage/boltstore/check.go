package boltstore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"math/bits"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/stats/tally"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// Problem is one thing Check found wrong: where, and what.
type Problem struct {
	Bucket string // the bucket it was found in; "" for the file as a whole
	Key    string // the key, in readable form; "" for the bucket as a whole
	What   string
}

// String returns "bucket key: what".
func (p Problem) String() string {
	where := p.Bucket
	if where == "" {
		where = "file"
	}
	if p.Key != "" {
		where += " " + p.Key
	}
	return where + ": " + p.What
}

// CheckSummary counts what Check read.
type CheckSummary struct {
	SchemaVersion uint32
	Bytes         int64 // the size of the database the check read
	Reports       int
	Cases         int
	Users         int
	Tokens        int
	PoliceUnits   int
	DataKeys      int
	Idempotency   int
	AuditEvents   int
	AuditHeadSeq  uint64
	// AuditUnindexed counts the log's last events that wait for their
	// index entries (a hot backup or a crash caught them before those
	// were written: audittail.go); the next start writes them.
	AuditUnindexed int
	CaseEvents     int
	Timers         int
	Notifications  int
}

// CheckResult is what Check found: the counts, and every problem.
type CheckResult struct {
	CheckSummary
	// Problems lists what is wrong, at most MaxProblems of them.
	Problems []Problem
	// Omitted counts the problems found beyond MaxProblems.
	Omitted int
	// AuditHeadHash is the stored head's hash (with AuditHeadSeq), printed
	// for an auditor to note; nil when the log is empty or its head
	// unreadable.
	AuditHeadHash []byte
	// Unread says the file is damaged so that no record of it was read:
	// as a whole (a file cut short, a page overwritten), or lacking a
	// bucket of its layout, without which its records cannot be
	// cross-checked (Problems says what). The counts above are not the
	// file's but nothing counted, and no one is to report them as what
	// it holds (an empty audit log).
	Unread bool
}

// OK reports whether the check found nothing wrong.
func (r CheckResult) OK() bool { return len(r.Problems) == 0 && r.Omitted == 0 }

// AwaitsMigrationOnly reports whether the file is sound but for what the
// migration at its first open brings up to date: a schema version older
// than this code's (from 2, the first it migrates), and, before version
// 10, statistics counters kept by earlier rules, which that migration
// builds again from the records (migrate). A backup taken before an
// upgrade is such a file: restoring it loses nothing that the start
// does not set right, in the one transaction of its migration.
func (r CheckResult) AwaitsMigrationOnly() bool {
	if r.OK() || r.Omitted > 0 || r.SchemaVersion < 2 || r.SchemaVersion >= SchemaVersion {
		return false
	}
	for _, p := range r.Problems {
		older := p.Bucket == string(bucketMeta) && p.Key == string(keySchemaVersion)
		recounted := p.Bucket == string(bucketStats) && r.SchemaVersion < statsRulesVersion
		if !older && !recounted {
			return false
		}
	}
	return true
}

// MaxProblems bounds the problems a CheckResult lists; a file damaged
// throughout would otherwise list every key.
const MaxProblems = 1000

// Check reads the whole database at path, which no server may be running
// on (ErrInUse), and reports every problem it finds; it changes nothing.
// It checks, in read transactions over the one state of the file (parts
// of the check run side by side, see start):
//
//   - bbolt's own structure (pages reachable or free, once each);
//   - the schema version and that every bucket of the layout is there, and
//     no other;
//   - that every record decodes and holds the id of its key;
//   - every index against its records, both ways: each record has its
//     entries (reports_by_call_type, reports_by_taker, case_numbers,
//     cases_by_unit, cases_by_status, case_scope, case_queue (with the
//     entries under a holder's key from schema version 14), report_scope,
//     idempotency_by_time, tokens_by_user, users_by_unit (each active
//     user; from schema version 12), data_keys_by_master, audit_by_case, audit_by_actor, and audit_by_time once meta records
//     it complete), and each entry points at a record that exists and
//     agrees with it;
//   - the links between records: a report's case lists it and the case's
//     reports name it; tokens have users; timeline events have cases; data
//     sealed under a data key that exists; the case and outbox sequences
//     are ahead of their records;
//   - that every open deadline with a next fire time has its timer, and
//     every timer points at an open deadline of an existing case firing
//     at that time;
//   - the audit log's hash chain against the stored head (audit.VerifyHead).
//
// Before any of that, the file is inspected without bbolt (inspectFile):
// a file that is cut short or whose meta pages or page pointers are
// damaged is reported as one problem of the file as a whole, and bbolt
// never maps it.
//
// An error means the check could not run (the file cannot be opened, or
// ctx ended); what it found wrong is in the result.
func Check(ctx context.Context, path string) (CheckResult, error) {
	return CheckWith(ctx, path, CheckOptions{})
}

// Progress is how far a check has come.
type Progress struct {
	// Bucket is the bucket being read, or "" while bbolt walks the pages.
	Bucket string
	// Records counts the keys read so far, over every bucket and pass.
	Records int
	// Elapsed is the time since the check began.
	Elapsed time.Duration
}

// CheckOptions tune CheckWith.
type CheckOptions struct {
	// Progress, when set, is called as the check goes: once as it begins,
	// then at most once per Every. A check of a large database takes
	// minutes, and an operator must see that it moves.
	Progress func(Progress)
	// Every is the least time between two calls of Progress; zero means
	// two seconds.
	Every time.Duration
	// NotedHeadSeq and NotedHeadHash, when the seq is not 0, are a head of
	// the audit log noted earlier (as audit verify --noted-head takes
	// it): the log must still hold that event with that hash, else the
	// check reports the tail cut or the event rewritten, which the chain
	// and the stored head cannot show when that head was set back too.
	NotedHeadSeq  uint64
	NotedHeadHash []byte
	// Masters, when set, are the ids of the master keys at hand (a key
	// file and the next and retired key files beside it): a data key
	// wrapped under any other is a problem, since what it seals opens
	// with none of them. Without them the check reads no key, and a
	// data key's master is anyone's.
	Masters []string

	// chunks is how many parts read the reports, and the cases, side by
	// side; zero means one per core (GOMAXPROCS). Tests set it.
	chunks int
	// workers is how many parts run at once (partPool); zero means one
	// per core (GOMAXPROCS). onPart, when set, is called as each part
	// begins, with how many are running then. Tests set them.
	workers int
	onPart  func(running int)
}

// progressReporter calls CheckOptions.Progress, no more often than every,
// and only with a count that has grown.
type progressReporter struct {
	fn          func(Progress)
	every       time.Duration
	start, last time.Time
	records     int // the last count reported
}

func (p *progressReporter) report(bucket []byte, records int, force bool) {
	if p == nil {
		return
	}
	now := time.Now()
	if !force && (now.Sub(p.last) < p.every || records <= p.records) {
		return
	}
	p.last, p.records = now, records
	p.fn(Progress{Bucket: string(bucket), Records: records, Elapsed: now.Sub(p.start)})
}

// CheckWith is Check, reporting its progress as opts asks.
func CheckWith(ctx context.Context, path string, opts CheckOptions) (CheckResult, error) {
	var res CheckResult
	db, err := openBoltReadOnly(path, time.Second, true)
	if d := (*damage)(nil); errors.As(err, &d) {
		// The check ran: what it found is that bbolt cannot read the file.
		if fi, serr := os.Stat(path); serr == nil {
			res.Bytes = fi.Size()
		}
		res.Problems = []Problem{{What: d.what}}
		res.Unread = true
		return res, nil
	}
	if err != nil {
		return CheckResult{}, err
	}
	defer db.Close()
	if what, err := metaPagesOf(path); err != nil {
		return CheckResult{}, fmt.Errorf("check %s: %w", path, err)
	} else if what != "" {
		res.Problems = append(res.Problems, Problem{What: what})
	}
	err = view(db, func(btx *bolt.Tx) error {
		// A damaged file can send bbolt to an address outside its memory
		// map; that must be a panic run recovers from, not a crash.
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		c := &checker{
			ctx: ctx, btx: btx, t: newReadTx(btx), res: &res, notedSeq: opts.NotedHeadSeq, notedHash: opts.NotedHeadHash, masters: mastersAtHand(opts.Masters),
			cursors: map[string]*getCursor{}, seqCursors: map[string]*seqCursor{}, chunks: cmp.Or(opts.chunks, runtime.GOMAXPROCS(0)),
			pool: &partPool{size: cmp.Or(opts.workers, runtime.GOMAXPROCS(0)), onPart: opts.onPart},
		}
		if opts.Progress != nil {
			every := opts.Every
			if every <= 0 {
				every = 2 * time.Second
			}
			now := time.Now()
			c.progress = &progressReporter{fn: opts.Progress, every: every, start: now, last: now}
		}
		return c.run()
	})
	if err != nil {
		return res, fmt.Errorf("check %s: %w", path, err)
	}
	return res, nil
}

// metaPagesOf is metaProblem of the file at path.
func metaPagesOf(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	return metaProblem(f, fi.Size()), nil
}

type checker struct {
	ctx context.Context
	btx *bolt.Tx
	t   *tx
	res *CheckResult
	err error // ctx's error, which stops the walk

	records int // keys read so far, for progress

	seen    *checkPart            // the part this checker runs, if any (start)
	running []*checkPart          // the parts this checker started and has not joined
	pool    *partPool             // what runs the parts (start)
	chunks  int                   // CheckOptions.chunks, or GOMAXPROCS
	cursors map[string]*getCursor // get's, one per bucket or index
	// seqCursors are hasInOrder's, one per index and prefix, by the two
	// joined in seqKey.
	seqCursors map[string]*seqCursor
	seqKey     []byte
	keyBuf     []byte // entryKey's

	// What audit.VerifyHead found (checkAudit); chainHead marks an error
	// reading the stored head rather than the log.
	chainProblem *audit.Problem
	chainErr     error
	chainHead    bool
	// The head noted earlier (CheckOptions), and the hash the log's event
	// at its seq has (checkAudit), for checkAuditChain.
	notedSeq             uint64
	notedHash, notedSeen []byte
	// auditLastSeq is the seq of the log's last event as stored (the
	// last well-formed key, checkAudit): where the log ends, which the
	// stored head need not say once events were cut from the end.
	auditLastSeq uint64
	// masters are CheckOptions.Masters, nil when none were given.
	masters map[string]bool

	caseSeqs  map[uint16]uint64 // the highest sequence of each year's case numbers
	maxCaseID uint64            // the largest case id read (checkCaseIDs)
	// caseEntries counts, per scope or queue index bucket, the entries
	// the records expect that were found; an index holding more has
	// entries no record expects.
	caseEntries map[string]int
	// scopeEntries counts, per scope or queue index bucket, its entries
	// that are well formed and point at a record (walkScopeIndex).
	scopeEntries map[string]int
	// scopeKeys counts, per scope or queue index bucket, its keys, or is
	// -1 when it holds a nested bucket (countScopeIndex).
	scopeKeys map[string]int

	// found counts, per index, the entries the records' pass looked up
	// and found (see indexMatches). The counts are pointers so that a
	// count is raised without making a string of the index's name, which
	// an assignment to a map would allocate for every entry.
	found map[string]*int
	// expected sums, per index, the entries the records' passes expect
	// there (expectEntry), for indexSumMatches and checkScopeIndex.
	expected map[string]*indexSum
	// scopeSums sums, per scope or queue index bucket, its keys as
	// indexSumMatches does (countScopeIndex).
	scopeSums map[string]uint64
	// recordsOdd says that the reports' or the cases' passes found
	// something wrong with their records: the entries of report_scope
	// that a report owes to its case, which the cases' pass sums (see
	// checkCases), are then looked up as each report names its case.
	recordsOdd bool
	// caseNumbersMatch is what checkCaseNumbers found: that case_numbers
	// holds exactly the cases' numbers.
	caseNumbersMatch bool
	// reportLinks and caseLinks sum a hash of every (report, case) pair
	// as the reports name them and as the cases list them (see
	// linkHash); reportLinkN and caseLinkN count the pairs.
	reportLinks, caseLinks uint64
	reportLinkN, caseLinkN int
	linkSeed               maphash.Seed
	progress               *progressReporter

	// statSum sums a keyed hash of every count that every report and
	// case read contributes to the statistics counters (tally.Recount,
	// without decoding them again), each weighted by its number, as
	// statHash does; storedStatSum does the same for the stored counters
	// (hashStoredStats), and checkStats compares the two. A recount kept
	// cell by cell held millions of tallies at a million cases, which the
	// garbage collector scanned over and over for a third of the check.
	statSum countSum
	// storedStatSum and storedStatsOdd are what hashStoredStats found:
	// odd, a cell that the sums cannot show is wrong (one that does not
	// read, or holds a count of zero).
	storedStatSum  countSum
	storedStatsOdd bool
	dailyStats     bool          // whether the file has counters by day (schema version 9)
	scopeIndexes   bool          // whether the file has the scope and queue indexes (schema version 4)
	usersByUnit    bool          // whether the file has users_by_unit (schema version 12)
	holderEntries  bool          // whether the queue index has entries by holder (schema version 14)
	countStat      tally.Counter // c.countStatEvent, made once
	statTally      tally.Tally   // countStatEvent's, reused
	statKeyBuf     []byte        // countStatEvent's, reused
	statKeys       []uint64      // countStatEvent's hashes of its cells' keys, reused
	cellCounts     []tally.Count // hashStoredCell's, reused
	statBuf        []byte        // statHash's, reused
}

// counted says n of a thing in English, "1 byte", "0 bytes", "2 bytes",
// as check's problems do (every noun counted there takes an s): a
// malformed key of one byte was "1 bytes".
func counted[N ~int | ~int64 | ~uint32 | ~uint64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func (c *checker) problem(bucket []byte, key, format string, args ...any) {
	if len(c.res.Problems) >= MaxProblems {
		c.res.Omitted++
		return
	}
	c.res.Problems = append(c.res.Problems, Problem{Bucket: string(bucket), Key: key, What: fmt.Sprintf(format, args...)})
}

func (c *checker) run() (err error) {
	// A damaged page makes bbolt panic when it is read; that is a finding
	// too, not a crash of the command.
	defer func() {
		if r := recover(); r != nil {
			c.problem(nil, "", "reading stopped at a damaged page: %v", r)
		}
	}()
	c.res.Bytes = c.btx.Size()
	c.progress.report(nil, 0, true)
	// bbolt's walk of every page runs beside the rest of the check (on
	// one goroutine before it, it was a tenth of a check at a million
	// cases); its problems come first, as they did then. bbolt loads the
	// freelist of a file opened read-only on a Check's first step,
	// without a lock, assuming nothing else uses it: a Check of a page no
	// file has loads it here, before any other transaction begins or
	// ends beside the walk. What it finds (pages freed twice) the walk
	// finds again.
	for range c.btx.Check(bolt.WithPageId(math.MaxUint64)) {
	}
	structure := c.start((*checker).checkStructure)
	defer func() {
		c.joinFirst(structure)
		err = cmp.Or(err, c.err)
	}()
	if !c.checkLayout() {
		// Without every bucket the records cannot be cross-checked, so
		// none is read: the counts are not the file's (Unread).
		c.res.Unread = true
		return nil
	}
	c.caseSeqs = map[uint16]uint64{}
	c.dailyStats = c.res.SchemaVersion >= dailyStatsVersion
	c.scopeIndexes = c.res.SchemaVersion == 0 || c.res.SchemaVersion >= bucketVersion(bucketCaseScope)
	c.usersByUnit = c.res.SchemaVersion == 0 || c.res.SchemaVersion >= usersByUnitVersion
	c.holderEntries = c.res.SchemaVersion == 0 || c.res.SchemaVersion >= holderEntriesVersion
	c.countStat = c.countStatEvent
	c.caseEntries, c.scopeEntries, c.scopeKeys = map[string]int{}, map[string]int{}, map[string]int{}
	c.found, c.expected, c.scopeSums = map[string]*int{}, map[string]*indexSum{}, map[string]uint64{}
	c.linkSeed = maphash.MakeSeed()
	// The steps that share no state with the others run on goroutines of
	// their own (start), each joined where it stands in this order, so
	// that the problems come in the order of a check on one goroutine.
	//
	// They run on a pool of as many goroutines as the machine has cores
	// (partPool), in the order they are started here: the longest first
	// (the audit log's, a quarter of a check of loaded cases, and the
	// cases', together half of it), so that the short ones fill in at the
	// end instead of one long part running alone.
	auditLog := c.start((*checker).checkAudit,
		func(a *checker) { a.checkAuditIndex(bucketAuditByCase)() },
		func(a *checker) { a.checkAuditIndex(bucketAuditByActor)() },
		(*checker).checkAuditTimeIndex,
		(*checker).checkAuditChain)
	// The cases beside the reports: each pass decodes its records and
	// looks up the other's (a report's case for its scope entries, a
	// case's first report for its statistics), and together they are
	// most of a check. Each is split by key into as many parts as the
	// machine has cores (chunks): on one goroutine, the cases alone were
	// a third of a check of a million cases, which the other parts,
	// done, left one core to. The parts are joined in key order, so the
	// problems come in the order of one walk. The search index is the
	// largest part of a database of synthetic cases (some 35 postings a
	// case) and reads no other record.
	var reports, cases []*checkPart
	for _, r := range c.split(bucketCases) {
		cases = append(cases, c.start(func(p *checker) { p.checkCases(r) }))
	}
	// The stored statistics counters, hashed for checkStats.
	storedStats := c.start((*checker).hashStoredStats)
	caseEvents := c.start((*checker).checkCaseEvents)
	for _, r := range c.split(bucketReports) {
		reports = append(reports, c.start(func(p *checker) { p.checkReports(r) }))
	}
	searchIndex := c.start((*checker).checkSearchIndex)
	identity := c.start((*checker).checkUsers, (*checker).checkUserUnitIndex, (*checker).checkTokens, (*checker).checkTokenIndex,
		(*checker).checkPoliceUnits, (*checker).checkDataKeys, (*checker).checkDataKeyIndex)
	// The scope and queue indexes hold several entries a record; counting
	// them needs nothing the records' passes find until the counts are
	// compared (checkScopeIndex).
	caseScope := c.start(countScopeIndex(bucketCaseScope))
	caseQueue := c.start(countScopeIndex(bucketCaseQueue))
	reportScope := c.start(countScopeIndex(bucketReportScope))
	outbox := c.start((*checker).checkOutbox, (*checker).checkCursors)
	idempotency := c.start((*checker).checkIdempotency, (*checker).checkIdempotencyIndex)
	parts := append(slices.Concat(reports, cases), idempotency, identity, auditLog, caseEvents, outbox, searchIndex, caseScope, caseQueue, reportScope, storedStats)
	defer func() {
		for _, g := range parts {
			g.wait()
		}
	}()
	for _, step := range []func(){
		func() { c.join(reports...) }, c.checkCallTypeIndex, c.checkTakerIndex,
		func() { c.join(cases...) }, c.checkCaseIDs, c.checkReportCaseLinks, c.checkCaseNumbers, c.checkUnitIndex, c.checkStatusIndex, c.checkCaseSequences,
		func() { c.join(caseScope) }, c.checkScopeIndex(bucketCaseScope),
		func() { c.join(caseQueue) }, c.checkScopeIndex(bucketCaseQueue),
		func() { c.join(reportScope) }, c.checkScopeIndex(bucketReportScope),
		func() { c.join(idempotency) }, func() { c.join(identity) }, func() { c.join(auditLog) },
		func() { c.join(caseEvents) }, c.checkTimers, func() { c.join(outbox) },
		func() { c.join(searchIndex) }, func() { c.join(storedStats) }, c.checkStats,
	} {
		if c.err != nil {
			break
		}
		step()
	}
	return c.err
}

// split splits the keys of a bucket into c.chunks ranges (splitKeys), for
// as many parts to read side by side.
func (c *checker) split(name []byte) []keyRange {
	ks := c.t.keys(name)
	if ks == nil {
		return []keyRange{{}}
	}
	cur := ks.Cursor()
	first, _ := cur.First()
	last, _ := cur.Last()
	return splitKeys(first, last, c.chunks)
}

// checkStructure checks bbolt's own structure: every page reachable or
// free, once each.
func (c *checker) checkStructure() {
	for err := range c.btx.Check() {
		c.problem(nil, "", "bbolt structure: %v", err)
	}
}

// joinFirst is join, with the problems of g put before those found so
// far.
func (c *checker) joinFirst(g *checkPart) {
	found, omitted := c.res.Problems, c.res.Omitted
	c.res.Problems, c.res.Omitted = nil, 0
	c.join(g)
	for _, p := range found {
		if len(c.res.Problems) >= MaxProblems {
			c.res.Omitted++
			continue
		}
		c.res.Problems = append(c.res.Problems, p)
	}
	c.res.Omitted += omitted
}

// checkPart is steps of a check running on a goroutine of their own
// (start).
type checkPart struct {
	sub  *checker
	done chan struct{}
	// seen is how far the part has read, for the progress reports of
	// the goroutine that waits for it (join).
	seen struct {
		records atomic.Int64
		bucket  atomic.Value // string
	}
}

// start runs steps on a goroutine of the pool (partPool), with a checker
// of their own in a read transaction of its own over the same file, while
// this goroutine goes on: a check reads every record, and on one goroutine it
// would use one core of the machine (decoding and hashing the audit log
// alone is two fifths of it at 10,000 loaded cases). No one writes the
// file during a check, so every transaction sees the same data. The
// steps may use what they find themselves (found, for one), not what
// other steps find.
func (c *checker) start(steps ...func(*checker)) *checkPart {
	sub := &checker{
		ctx: c.ctx, res: &CheckResult{}, cursors: map[string]*getCursor{}, seqCursors: map[string]*seqCursor{},
		found: map[string]*int{}, expected: map[string]*indexSum{}, scopeSums: map[string]uint64{}, caseEntries: map[string]int{}, scopeEntries: map[string]int{}, scopeKeys: map[string]int{},
		caseSeqs: map[uint16]uint64{},
		linkSeed: c.linkSeed, dailyStats: c.dailyStats, scopeIndexes: c.scopeIndexes, usersByUnit: c.usersByUnit,
		holderEntries: c.holderEntries, notedSeq: c.notedSeq, notedHash: c.notedHash, masters: c.masters,
	}
	sub.countStat = sub.countStatEvent
	g := &checkPart{sub: sub, done: make(chan struct{})}
	sub.seen = g
	c.running = append(c.running, g)
	c.pool.run(func() {
		defer close(g.done)
		// As in CheckWith and run: a damaged page is a finding.
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if v := recover(); v != nil {
				sub.problem(nil, "", "reading stopped at a damaged page: %v", v)
			}
		}()
		btx, err := c.btx.DB().Begin(false)
		if err != nil {
			sub.err = fmt.Errorf("a read transaction of its own for a part of the check: %w", err)
			return
		}
		defer btx.Rollback()
		sub.btx, sub.t = btx, newReadTx(btx)
		for _, step := range steps {
			if sub.err != nil {
				break
			}
			step(sub)
		}
	})
	return g
}

// partPool runs the parts of a check (start) on at most size goroutines,
// in the order they were started. Each part was a goroutine of its own,
// some twenty at once on a machine of two cores: each held its
// transaction, cursors and counters from the start, and the scheduler
// sliced the cores between them. In start order, the longest parts,
// started first, run first, and the short ones fill in behind them.
type partPool struct {
	size   int
	onPart func(running int) // CheckOptions.onPart

	mu      sync.Mutex
	queue   []func() // the parts not yet begun
	workers int      // the goroutines taking parts from queue
	running int      // the parts running, for onPart
}

// run queues part, and starts a goroutine to run it and those after it
// unless size of them are already at it. A goroutine ends when the queue
// is empty: the pool needs no closing.
func (p *partPool) run(part func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue = append(p.queue, part)
	if p.workers < max(p.size, 1) {
		p.workers++
		go p.work()
	}
}

func (p *partPool) work() {
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.workers--
			p.mu.Unlock()
			return
		}
		part := p.queue[0]
		p.queue = p.queue[1:]
		p.running++
		if p.onPart != nil {
			p.onPart(p.running)
		}
		p.mu.Unlock()
		part()
		p.mu.Lock()
		p.running--
		p.mu.Unlock()
	}
}

// wait waits for the part's steps to end.
func (g *checkPart) wait() { <-g.done }

// join waits for each of parts in turn, reporting the progress of its
// reading meanwhile, and takes what it found into c.
func (c *checker) join(parts ...*checkPart) {
	for _, g := range parts {
		c.joinPart(g)
	}
}

func (c *checker) joinPart(g *checkPart) {
	if c.progress != nil {
		// Ticks more often than reports are due, so that none comes late
		// by a whole period.
		tick := time.NewTicker(max(c.progress.every/4, 100*time.Millisecond))
		defer tick.Stop()
	waiting:
		for {
			select {
			case <-g.done:
				break waiting
			case <-tick.C:
				// A part that has not reached its first bucket has
				// nothing to name (it may wait for a goroutine of the
				// pool): the report names a part that has, or waits for
				// the next tick.
				if bucket := c.readingNow(g); bucket != "" {
					c.progress.report([]byte(bucket), c.readSoFar(), false)
				}
			}
		}
	}
	g.wait()
	sub := g.sub
	c.running = slices.DeleteFunc(c.running, func(p *checkPart) bool { return p == g })
	c.records += sub.records
	// What the part read counts now, whatever this goroutine reads next.
	if bucket, _ := g.seen.bucket.Load().(string); bucket != "" {
		c.progress.report([]byte(bucket), c.readSoFar(), false)
	}
	c.res.addCounts(sub.res.CheckSummary)
	if sub.res.AuditHeadHash != nil { // the part that read the log
		c.res.AuditHeadHash = sub.res.AuditHeadHash
	}
	for _, p := range sub.res.Problems {
		if len(c.res.Problems) >= MaxProblems {
			c.res.Omitted++
			continue
		}
		c.res.Problems = append(c.res.Problems, p)
	}
	c.res.Omitted += sub.res.Omitted
	for index, n := range sub.found {
		if p := c.found[index]; p != nil {
			*p += *n
		} else {
			c.found[index] = n
		}
	}
	// What the reports' and cases' passes found for the steps after them.
	c.reportLinks += sub.reportLinks
	c.reportLinkN += sub.reportLinkN
	c.maxCaseID = max(c.maxCaseID, sub.maxCaseID)
	c.statSum.merge(sub.statSum)
	c.storedStatSum.merge(sub.storedStatSum)
	c.storedStatsOdd = c.storedStatsOdd || sub.storedStatsOdd
	c.caseLinks += sub.caseLinks
	c.caseLinkN += sub.caseLinkN
	for year, seq := range sub.caseSeqs {
		c.caseSeqs[year] = max(c.caseSeqs[year], seq)
	}
	for bucket, n := range sub.caseEntries {
		c.caseEntries[bucket] += n
	}
	maps.Copy(c.scopeEntries, sub.scopeEntries)
	maps.Copy(c.scopeKeys, sub.scopeKeys)
	maps.Copy(c.scopeSums, sub.scopeSums)
	for index, s := range sub.expected {
		if p := c.expected[index]; p != nil {
			p.n += s.n
			p.sum += s.sum
		} else {
			c.expected[index] = s
		}
	}
	c.recordsOdd = c.recordsOdd || sub.recordsOdd
	c.err = cmp.Or(c.err, sub.err)
}

// readingNow names the bucket that g, or else the first part running
// that has reached one, reads, or "" when none has.
func (c *checker) readingNow(g *checkPart) string {
	if bucket, _ := g.seen.bucket.Load().(string); bucket != "" {
		return bucket
	}
	for _, p := range c.running {
		if bucket, _ := p.seen.bucket.Load().(string); bucket != "" {
			return bucket
		}
	}
	return ""
}

// addCounts adds the record counts of a part of the check, which counted
// only what it read.
func (r *CheckResult) addCounts(s CheckSummary) {
	r.Reports += s.Reports
	r.Cases += s.Cases
	r.Users += s.Users
	r.Tokens += s.Tokens
	r.PoliceUnits += s.PoliceUnits
	r.DataKeys += s.DataKeys
	r.Idempotency += s.Idempotency
	r.AuditEvents += s.AuditEvents
	r.AuditHeadSeq = max(r.AuditHeadSeq, s.AuditHeadSeq)
	r.AuditUnindexed += s.AuditUnindexed
	r.CaseEvents += s.CaseEvents
	r.Timers += s.Timers
	r.Notifications += s.Notifications
}

// checkLayout checks the schema version and the set of buckets, and
// reports whether every bucket of the layout is there.
func (c *checker) checkLayout() bool {
	// A file of version 2 to 5 not yet migrated (a backup) is checked in
	// its own layout, with each index in a bucket of its own (tx.keys);
	// one of before version 4 has no scope and queue indexes yet
	// (scopeIndexes), and a file of version 2 is issue 10's "both
	// versions" that check must understand. One of version 6 has no
	// statistics counters yet (checkStats skips them).
	layout := allBuckets
	meta := c.btx.Bucket(bucketMeta)
	if meta != nil {
		if raw := meta.Get(keySchemaVersion); len(raw) == 4 {
			switch v := be.Uint32(raw); {
			case v < bucketVersion(bucketIndex):
				// Version 1 lacks the index of idempotency records,
				// which its check needs; it is reported missing.
				layout = layoutBuckets(max(v, bucketVersion(bucketIdempotencyByTime)))
			case v < bucketVersion(bucketStats):
				layout = layoutBuckets(bucketVersion(bucketStats) - 1)
			}
		}
	}
	complete := true
	for _, name := range layout {
		if c.btx.Bucket(name) == nil && !optionalBucket(name) {
			c.problem(name, "", "the bucket is missing")
			complete = false
		}
	}
	_ = c.btx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		if !slices.ContainsFunc(layout, func(b []byte) bool { return bytes.Equal(b, name) }) {
			c.problem(name, "", "a bucket the layout does not have")
		}
		return nil
	})
	if meta == nil {
		return false
	}
	c.checkIndexTags()
	c.each(bucketMeta, func(k, v []byte) {
		switch {
		case bytes.Equal(k, keySchemaVersion):
			if len(v) != 4 {
				c.problem(bucketMeta, string(k), "damaged: %s, want 4", counted(len(v), "byte"))
				return
			}
			version := be.Uint32(v)
			c.res.SchemaVersion = version
			switch {
			case version > SchemaVersion:
				c.problem(bucketMeta, string(k), "version %d is newer than this binary knows (%d)", version, SchemaVersion)
			case version < SchemaVersion:
				c.problem(bucketMeta, string(k), "version %d is older than this binary's (%d) and was not migrated: the first start on the file migrates it", version, SchemaVersion)
			}
		case bytes.Equal(k, keyAuditHead):
			if len(v) != auditHeadLen {
				c.problem(bucketMeta, string(k), "damaged: %s, want %d", counted(len(v), "byte"), auditHeadLen)
			}
		case bytes.Equal(k, keyClearTextPending):
			if len(v) != 0 {
				c.problem(bucketMeta, string(k), "damaged: %s, want none", counted(len(v), "byte"))
			}
		case bytes.Equal(k, keyAuditByTimeFrom):
			if len(v) == 0 {
				c.problem(bucketMeta, string(k), "damaged: no key of the log")
			}
		case bytes.Equal(k, keySearchIndexedUnder):
			if len(v) == 0 {
				c.problem(bucketMeta, string(k), "damaged: no master key id")
			}
		default:
			c.problem(bucketMeta, readable(k), "a key the layout does not have")
		}
	})
	if meta.Get(keySchemaVersion) == nil {
		c.problem(bucketMeta, string(keySchemaVersion), "missing: the file has no schema version")
	}
	return complete
}

// checkIndexTags reports keys of the index bucket behind a tag no index
// has, which no index's check would read. It reads one key per tag.
func (c *checker) checkIndexTags() {
	b := c.btx.Bucket(bucketIndex)
	if b == nil {
		return
	}
	cur := b.Cursor()
	for k, _ := cur.First(); k != nil; {
		c.tick(bucketIndex)
		if _, ok := indexOfTag(k[0]); !ok {
			c.problem(bucketIndex, readable(k), "an entry of no index: no index has tag %d", k[0])
		}
		end := storekey.PrefixEnd(k[:1])
		if end == nil {
			return
		}
		k, _ = cur.Seek(end)
	}
}

// each calls fn with every key and value of a bucket, and reports nested
// buckets, which the layout does not have.
func (c *checker) each(name []byte, fn func(k, v []byte)) { c.walk(name, keyRange{}, true, fn) }

// eachIn is each over the keys of r only.
func (c *checker) eachIn(name []byte, r keyRange, fn func(k, v []byte)) { c.walk(name, r, true, fn) }

// eachRecord is each for a bucket read again, whose nested buckets were
// reported the first time.
func (c *checker) eachRecord(name []byte, fn func(k, v []byte)) { c.walk(name, keyRange{}, false, fn) }

func (c *checker) walk(name []byte, r keyRange, nestedProblems bool, fn func(k, v []byte)) {
	b := c.t.keys(name)
	cur := b.Cursor()
	k, v := cur.First()
	if r.from != nil {
		k, v = cur.Seek(r.from)
	}
	for ; k != nil && c.err == nil && (r.to == nil || bytes.Compare(k, r.to) < 0); k, v = cur.Next() {
		c.tick(name)
		if v == nil && b.nested(k) {
			if nestedProblems {
				c.problem(name, readable(k), "a nested bucket the layout does not have")
			}
			continue
		}
		fn(k, v)
	}
	if c.err == nil {
		c.err = c.ctx.Err()
	}
}

// readSoFar counts the keys read so far, by this checker and the parts it
// started and has not joined yet.
func (c *checker) readSoFar() int {
	n := c.records
	for _, g := range c.running {
		n += int(g.seen.records.Load())
	}
	return n
}

// tick counts a key read from bucket name; every 1024 keys it looks at
// ctx, and reports progress when it is time to.
func (c *checker) tick(name []byte) {
	if c.records++; c.records%1024 == 0 {
		c.err = c.ctx.Err()
		if c.progress != nil {
			c.progress.report(name, c.readSoFar(), false)
		}
		if c.seen != nil {
			c.seen.seen.bucket.Store(string(name))
			c.seen.seen.records.Store(int64(c.records))
		}
	}
}

// get is bbolt's Bucket.Get through one cursor per bucket, kept for the
// whole check: in a read transaction, bbolt allocates a Bucket each time
// one is opened and a Cursor for each Get, and a check looks up several
// keys per record.
//
// The cursor keeps the key it looked up last and what it found: the
// passes often look up the same key twice in a row (a report's case
// number, then its case by that number; a case's first report for its
// statistics, then each of its reports), and a seek from the root is
// most of a look-up.
func (c *checker) get(bucket, key []byte) []byte {
	cur := c.cursors[string(bucket)]
	if cur == nil {
		b := c.t.keys(bucket)
		if b == nil {
			return nil
		}
		cur = &getCursor{c: b.Cursor()}
		c.cursors[string(bucket)] = cur
	}
	if cur.looked && bytes.Equal(cur.key, key) {
		return cur.value
	}
	k, v := cur.c.Seek(key)
	if !bytes.Equal(k, key) {
		v = nil
	}
	cur.key, cur.value, cur.looked = append(cur.key[:0], key...), v, true
	return v // nil for a nested bucket, as Get
}

// getCursor is a cursor of get's, and the look-up it made last.
type getCursor struct {
	c          *keyCursor
	key, value []byte
	looked     bool
}

func (c *checker) has(bucket, key []byte) bool { return c.get(bucket, key) != nil }

// entryKey is the index key id, 0x00, rest (stringPrefix), built in a
// buffer the next call reuses: for a look-up, which keeps no key.
func (c *checker) entryKey(id string, rest []byte) []byte {
	c.keyBuf = append(append(append(c.keyBuf[:0], id...), 0), rest...)
	return c.keyBuf
}

// hasEntry looks up the entry a record must have in an index, and counts
// it when it is there, for indexMatches.
func (c *checker) hasEntry(index, key []byte) bool {
	if !c.has(index, key) {
		return false
	}
	c.countFound(index)
	return true
}

// hasEntryInOrder is hasEntry through hasInOrder.
func (c *checker) hasEntryInOrder(index, key []byte, suffix int) bool {
	if !c.hasInOrder(index, key, suffix) {
		return false
	}
	c.countFound(index)
	return true
}

// hasInOrder is has for an index whose keys are a prefix and the key of a
// record, suffix bytes long, looked up by a pass that walks the records in
// key order: the keys of each prefix are then asked for in ascending
// order, mostly each the one after the last. One cursor per prefix steps
// on to the key asked for, and seeks only when it is more than a few
// keys on or behind: a seek from the root was a fifth of a check at a
// million cases.
func (c *checker) hasInOrder(index, key []byte, suffix int) bool {
	const maxSteps = 4
	if len(key) < suffix {
		return c.has(index, key)
	}
	c.seqKey = append(append(append(c.seqKey[:0], index...), 0), key[:len(key)-suffix]...)
	cur := c.seqCursors[string(c.seqKey)]
	if cur == nil {
		b := c.t.keys(index)
		if b == nil {
			return false
		}
		cur = &seqCursor{c: b.Cursor()}
		c.seqCursors[string(c.seqKey)] = cur
	}
	if cur.at != nil && bytes.Compare(cur.at, key) <= 0 {
		for step := 0; step <= maxSteps; step++ {
			switch cmp := bytes.Compare(cur.at, key); {
			case cmp == 0:
				return cur.value != nil // nil for a nested bucket, as Get
			case cmp > 0:
				return false // the key after the last one below it
			}
			if step == maxSteps {
				break // still below: seek
			}
			if cur.at, cur.value = cur.c.Next(); cur.at == nil {
				return false // the last key is below it
			}
		}
	}
	cur.at, cur.value = cur.c.Seek(key)
	return cur.at != nil && bytes.Equal(cur.at, key) && cur.value != nil
}

// seqCursor is a cursor of hasInOrder's, and the key it is at (nil
// before its first seek, or past the end).
type seqCursor struct {
	c         *keyCursor
	at, value []byte
}

// countFound counts one entry of index found (hasEntry).
func (c *checker) countFound(index []byte) {
	if p := c.found[string(index)]; p != nil {
		*p++
		return
	}
	n := 1
	c.found[string(index)] = &n
}

// indexMatches walks the keys of an index, without reading its records,
// and reports whether it holds exactly the entries the records' pass
// found (hasEntry): each of those is there, so as many entries as that
// means nothing else is, and no entry is dangling, malformed or stale.
// Only when the counts differ does the index's own check read every entry
// and its record to name what is wrong. It also returns the count.
func (c *checker) indexMatches(name []byte) (bool, int) {
	b := c.t.keys(name)
	cur := b.Cursor()
	n, nested := 0, false
	for k, v := cur.First(); k != nil && c.err == nil; k, v = cur.Next() {
		c.tick(name)
		if v == nil && b.nested(k) {
			nested = true // for the index's own check to report
			continue
		}
		n++
	}
	if c.err == nil {
		c.err = c.ctx.Err()
	}
	found := 0
	if p := c.found[string(name)]; p != nil {
		found = *p
	}
	return c.err == nil && !nested && n == found, n
}

// indexSum is the count of an index's keys and the sum of a keyed hash
// of each (see expectEntry).
type indexSum struct {
	n   int
	sum uint64
}

// expectEntry adds key, an entry a record must have in index, to the sum
// of the entries expected there (expected), instead of looking it up:
// indexSumMatches then walks the index in key order, which its count
// needed anyway, and compares the sums. A seek or a cursor's steps per
// entry were a third of the time of the audit log's part of a check,
// which is the longest of the parts that run side by side.
func (c *checker) expectEntry(index, key []byte) {
	s := c.expected[string(index)]
	if s == nil {
		s = &indexSum{}
		c.expected[string(index)] = s
	}
	s.n++
	s.sum += maphash.Bytes(c.linkSeed, key)
}

// indexSumMatches walks the keys of an index, without reading its
// records, and reports whether they are exactly the entries the records
// expected (expectEntry): as many, with the same sum of their hashes. Two
// sets that differ have the same count and sum by chance once in 2^64,
// as linkHash's. When it reports false, the index's check looks each
// expected entry up, to name those missing, and reads every entry.
func (c *checker) indexSumMatches(name []byte) bool {
	b := c.t.keys(name)
	if b == nil {
		return false
	}
	var got indexSum
	cur := b.Cursor()
	for k, v := cur.First(); k != nil && c.err == nil; k, v = cur.Next() {
		c.tick(name)
		if v == nil && b.nested(k) {
			return false // for the index's own check to report
		}
		got.n++
		got.sum += maphash.Bytes(c.linkSeed, k)
	}
	if c.err == nil {
		c.err = c.ctx.Err()
	}
	want := indexSum{}
	if s := c.expected[string(name)]; s != nil {
		want = *s
	}
	return c.err == nil && got == want
}

// linkHash hashes a (report, case number) pair. The sums over the pairs
// the reports name and the cases list are equal, with as many pairs, when
// the two sides agree; only when they differ are the records read again
// to say which (checkReportCaseLinks).
func (c *checker) linkHash(report []byte, caseNumber string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.linkSeed)
	h.Write(report)
	h.WriteByte(0)
	h.WriteString(caseNumber)
	return h.Sum64()
}

// checkSealed reports sealed data whose data key is missing: it could
// never be opened again.
func (c *checker) checkSealed(bucket []byte, key, what string, s model.Sealed) {
	if s.KeyID == "" && len(s.Data) == 0 {
		return
	}
	if s.KeyID == "" || !c.has(bucketDataKeys, []byte(s.KeyID)) {
		c.problem(bucket, key, "%s is sealed under data key %q, which is missing: it cannot be opened", what, s.KeyID)
	}
}

// ---------------------------------------------------------------------------
// Reports

func reportString(k []byte) string {
	if len(k) == reportKeyLen {
		return uuid.UUID(k).String()
	}
	return "0x" + hex.EncodeToString(k)
}

func (c *checker) report(k []byte) (model.StoredReport, bool) {
	raw := c.get(bucketReports, k)
	if raw == nil {
		return model.StoredReport{}, false
	}
	r, err := decodeAs[model.StoredReport](raw)
	return r, err == nil // a record that does not decode is reported with the records
}

// checkReports checks the reports of r, a part of the bucket that run
// gives a goroutine (split).
func (c *checker) checkReports(r keyRange) {
	c.eachIn(bucketReports, r, func(k, v []byte) {
		c.res.Reports++
		id := reportString(k)
		if len(k) != reportKeyLen {
			c.problem(bucketReports, id, "malformed key: %s, want %d", counted(len(k), "byte"), reportKeyLen)
			return
		}
		r, err := decodeAs[model.StoredReport](v)
		if err != nil {
			c.problem(bucketReports, id, "the record does not decode: %v", err)
			return
		}
		if r.ID != id {
			c.problem(bucketReports, id, "the record holds report id %q", r.ID)
		}
		// The entries are summed, not looked up (expectEntry): the
		// indexes' checks compare the sums (checkCallTypeIndex, ...).
		c.expectEntry(bucketReportsByCallType, callTypeIndexKey(r.CallType, k))
		if r.TakenBy != "" {
			c.expectEntry(bucketReportsByTaker, c.entryKey(r.TakenBy, k))
		}
		if r.CaseNumber != "" {
			if c.get(bucketCaseNumbers, []byte(r.CaseNumber)) == nil {
				c.problem(bucketReports, id, "names case %s, which does not exist", r.CaseNumber)
			} else {
				// Whether the case lists it is settled with the cases
				// (checkReportCaseLinks).
				c.reportLinks += c.linkHash(k, r.CaseNumber)
				c.reportLinkN++
			}
		}
		c.expectReportEntries(k, r)
		tally.CountReport(r, c.countStat)
		c.checkSealed(bucketReports, id, "its private part", r.Private)
		c.checkSealed(bucketReports, id, "its reporter", r.Reporter)
	})
	c.recordsOdd = c.recordsOdd || len(c.res.Problems) > 0 || c.res.Omitted > 0
}

// findReportEntries looks up the entry in index (reports_by_call_type,
// reports_by_taker or report_scope) of every report, reports those
// missing and counts the others, for the index's check to compare with
// its keys: the reports' pass only summed them, and the sums differed.
// It decodes the reports again, which only a damaged file pays for.
func (c *checker) findReportEntries(index []byte) {
	c.eachRecord(bucketReports, func(k, v []byte) {
		if len(k) != reportKeyLen {
			return // reported with the reports
		}
		r, err := decodeAs[model.StoredReport](v)
		if err != nil {
			return // reported with the reports
		}
		id := reportString(k)
		switch {
		case bytes.Equal(index, bucketReportsByCallType):
			if !c.hasEntryInOrder(index, callTypeIndexKey(r.CallType, k), reportKeyLen) {
				c.problem(index, fmt.Sprintf("call type %d, report %s", r.CallType, id), "missing: report %s has no entry", id)
			}
		case bytes.Equal(index, bucketReportsByTaker):
			if r.TakenBy != "" && !c.hasEntryInOrder(index, c.entryKey(r.TakenBy, k), reportKeyLen) {
				c.problem(index, fmt.Sprintf("taker %q, report %s", r.TakenBy, id), "missing: report %s has no entry", id)
			}
		default:
			c.checkReportEntries(k, r)
		}
	})
}

func (c *checker) checkCallTypeIndex() {
	if c.indexSumMatches(bucketReportsByCallType) || c.err != nil {
		return
	}
	c.findReportEntries(bucketReportsByCallType)
	if ok, _ := c.indexMatches(bucketReportsByCallType); ok || c.err != nil {
		return
	}
	c.each(bucketReportsByCallType, func(k, _ []byte) {
		if len(k) != 4+reportKeyLen {
			c.problem(bucketReportsByCallType, readable(k), "malformed key: %s, want %d", counted(len(k), "byte"), 4+reportKeyLen)
			return
		}
		ct, rk := be.Uint32(k[:4]), k[4:]
		key := fmt.Sprintf("call type %d, report %s", ct, reportString(rk))
		if !c.has(bucketReports, rk) {
			c.problem(bucketReportsByCallType, key, "dangling: report %s does not exist", reportString(rk))
			return
		}
		if r, ok := c.report(rk); ok && uint32(r.CallType) != ct {
			c.problem(bucketReportsByCallType, key, "report %s has call type %d", r.ID, r.CallType)
		}
	})
}

// splitIndexKey splits "id, 0x00, fixed-length suffix" from the end: the
// suffix is idLen bytes and the id holds no 0x00.
func splitIndexKey(k []byte, idLen int) (id string, rest []byte, ok bool) {
	if len(k) < idLen+2 || k[len(k)-idLen-1] != 0 {
		return "", nil, false
	}
	head := k[:len(k)-idLen-1]
	if bytes.IndexByte(head, 0) >= 0 {
		return "", nil, false
	}
	return string(head), k[len(k)-idLen:], true
}

func (c *checker) checkTakerIndex() {
	if c.indexSumMatches(bucketReportsByTaker) || c.err != nil {
		return
	}
	c.findReportEntries(bucketReportsByTaker)
	if ok, _ := c.indexMatches(bucketReportsByTaker); ok || c.err != nil {
		return
	}
	c.each(bucketReportsByTaker, func(k, _ []byte) {
		taker, rk, ok := splitIndexKey(k, reportKeyLen)
		if !ok {
			c.problem(bucketReportsByTaker, readable(k), "malformed key: want taker id, 0x00, report uuid")
			return
		}
		key := fmt.Sprintf("taker %q, report %s", taker, reportString(rk))
		if !c.has(bucketReports, rk) {
			c.problem(bucketReportsByTaker, key, "dangling: report %s does not exist", reportString(rk))
			return
		}
		if r, ok := c.report(rk); ok && r.TakenBy != taker {
			c.problem(bucketReportsByTaker, key, "report %s was taken by %q", r.ID, r.TakenBy)
		}
	})
}

// ---------------------------------------------------------------------------
// Cases

func (c *checker) caseRecord(k []byte) (model.Case, bool) {
	raw := c.get(bucketCases, k)
	if raw == nil {
		return model.Case{}, false
	}
	cs, err := decodeAs[model.Case](raw)
	return cs, err == nil
}

func caseString(k []byte) string {
	if len(k) == caseKeyLen {
		return "id " + strconv.FormatUint(be.Uint64(k), 10)
	}
	return "0x" + hex.EncodeToString(k)
}

// caseNumberPattern is the form intake gives case numbers; the sequence
// check below applies to those only.
var caseNumberPattern = regexp.MustCompile(`^HN-([0-9]{4})-([0-9]+)$`)

// checkCases checks the cases of r, a part of the bucket that run gives
// a goroutine; checkCaseIDs then compares the largest id with the
// bucket's sequence.
func (c *checker) checkCases(r keyRange) {
	c.eachIn(bucketCases, r, func(k, v []byte) {
		c.res.Cases++
		if len(k) != caseKeyLen {
			c.problem(bucketCases, caseString(k), "malformed key: %s, want %d", counted(len(k), "byte"), caseKeyLen)
			return
		}
		id := be.Uint64(k)
		c.maxCaseID = max(c.maxCaseID, id)
		cs, err := decodeAs[model.Case](v)
		if err != nil {
			c.problem(bucketCases, caseString(k), "the record does not decode: %v", err)
			return
		}
		key := fmt.Sprintf("id %d (%s)", id, cs.Number)
		if cs.ID != id {
			c.problem(bucketCases, key, "the record holds case id %d", cs.ID)
		}
		switch got := c.get(bucketCaseNumbers, []byte(cs.Number)); {
		case got == nil:
			c.problem(bucketCaseNumbers, readable([]byte(cs.Number)), "missing: case id %d has no entry", id)
		case !bytes.Equal(got, k):
			c.problem(bucketCaseNumbers, readable([]byte(cs.Number)), "points at case %s, but case id %d has this number", caseString(got), id)
		default:
			c.countFound(bucketCaseNumbers)
		}
		// Summed, not looked up (expectEntry), as the reports' entries.
		c.expectEntry(bucketCasesByUnit, append(unitPrefix(cs.ResponsibleUnit), k...))
		c.expectEntry(bucketCasesByStatus, append(u32(uint32(cs.Status)), k...))
		scope := c.expectCaseEntries(cs)
		tally.CountCase(cs, c.firstReport(cs), c.countStat)
		for i, rid := range cs.ReportIDs {
			rk, err := reportKey(rid)
			if err != nil || !c.has(bucketReports, rk) {
				c.problem(bucketCases, key, "lists report %s, which does not exist", rid)
				continue
			}
			if !slices.Contains(cs.ReportIDs[:i], rid) {
				// Whether the report names this case is settled with
				// the reports' side (checkReportCaseLinks).
				c.caseLinks += c.linkHash(rk, cs.Number)
				c.caseLinkN++
				c.expectCaseReportEntries(scope, rk)
			}
		}
		c.checkSealed(bucketCases, key, "its dossier", cs.Dossier)
		c.checkSealed(bucketCases, key, "its free text", cs.Texts)
		for _, d := range cs.Deadlines {
			if !d.Open() || d.NextFire.IsZero() {
				continue
			}
			tk, err := timerKey(model.Timer{At: d.NextFire, CaseID: id, DeadlineID: d.ID})
			if err != nil {
				c.problem(bucketCases, key, "deadline %d: %v", d.ID, err)
				continue
			}
			if !c.hasEntry(bucketTimers, tk) {
				c.problem(bucketTimers, timerString(tk), "missing: open deadline %d of case %s fires then but has no timer, so it would never fire", d.ID, cs.Number)
			}
		}
		if m := caseNumberPattern.FindStringSubmatch(cs.Number); m != nil {
			year, _ := strconv.ParseUint(m[1], 10, 16)
			if seq, err := strconv.ParseUint(m[2], 10, 64); err == nil {
				c.caseSeqs[uint16(year)] = max(c.caseSeqs[uint16(year)], seq)
			}
		}
	})
	c.recordsOdd = c.recordsOdd || len(c.res.Problems) > 0 || c.res.Omitted > 0
}

// findCaseEntries looks up the entry or entries in index (cases_by_unit,
// cases_by_status, case_scope or case_queue) of every case, reports
// those missing and counts the others, for the index's check to compare
// with its keys: the cases' pass only summed them, and the sums differed.
// It decodes the cases again, which only a damaged file pays for.
func (c *checker) findCaseEntries(index []byte) {
	c.eachRecord(bucketCases, func(k, v []byte) {
		if len(k) != caseKeyLen {
			return // reported with the cases
		}
		cs, err := decodeAs[model.Case](v)
		if err != nil {
			return // reported with the cases
		}
		id := be.Uint64(k)
		switch {
		case bytes.Equal(index, bucketCasesByUnit):
			if !c.hasEntryInOrder(index, append(unitPrefix(cs.ResponsibleUnit), k...), caseKeyLen) {
				c.problem(index, fmt.Sprintf("unit %s, case id %d", cs.ResponsibleUnit, id), "missing: case %s has no entry", cs.Number)
			}
		case bytes.Equal(index, bucketCasesByStatus):
			if !c.hasEntryInOrder(index, append(u32(uint32(cs.Status)), k...), caseKeyLen) {
				c.problem(index, fmt.Sprintf("status %d, case id %d", cs.Status, id), "missing: case %s has no entry", cs.Number)
			}
		default:
			scope, queue, err := c.caseIndexKeys(cs)
			switch {
			case err != nil:
				return // reported with the cases
			case bytes.Equal(index, bucketCaseQueue):
				// A queue's entries are in order of due time, not of case.
				c.findEntries(index, queue, 0, "case "+cs.Number)
			default:
				c.findEntries(index, scope, storekey.ScopeSuffixLen, "case "+cs.Number)
			}
		}
	})
}

// checkCaseIDs checks the cases' sequence against the largest case id
// the cases' parts read.
func (c *checker) checkCaseIDs() {
	if seq := c.btx.Bucket(bucketCases).Sequence(); seq < c.maxCaseID {
		c.problem(bucketCases, "", "the bucket's sequence %d is behind the largest case id %d: a new case would take an id in use", seq, c.maxCaseID)
	}
}

// firstReport is the first report of cs for its statistics, nil when
// there is none. It is read here, not kept from the reports' pass: the
// cases' pass runs beside it (run). A report whose record does not
// decode, or holds another id, counts as none, as it did when the
// reports' pass kept them by their id.
func (c *checker) firstReport(cs model.Case) *model.StoredReport {
	id := tally.FirstReportID(cs)
	if id == "" {
		return nil
	}
	rk, err := reportKey(id)
	if err != nil {
		return nil
	}
	if r, ok := c.report(rk); ok && r.ID == id {
		return &r
	}
	return nil
}

// checkReportCaseLinks checks that every report that names a case is
// listed by it, and every case lists only reports that name it: both
// sides were hashed as their records were read, so the records are read
// again only when the sums differ.
func (c *checker) checkReportCaseLinks() {
	if c.reportLinks == c.caseLinks && c.reportLinkN == c.caseLinkN {
		return
	}
	c.each(bucketReports, func(k, v []byte) {
		r, err := decodeAs[model.StoredReport](v)
		if err != nil || r.CaseNumber == "" {
			return // reported with the reports
		}
		ck := c.get(bucketCaseNumbers, []byte(r.CaseNumber))
		if ck == nil {
			return // reported with the reports
		}
		if cs, ok := c.caseRecord(ck); ok && !slices.Contains(cs.ReportIDs, r.ID) {
			c.problem(bucketReports, reportString(k), "names case %s, which does not list it", r.CaseNumber)
		}
	})
	c.each(bucketCases, func(k, v []byte) {
		cs, err := decodeAs[model.Case](v)
		if err != nil || len(k) != caseKeyLen {
			return // reported with the cases
		}
		key := fmt.Sprintf("id %d (%s)", be.Uint64(k), cs.Number)
		for _, rid := range cs.ReportIDs {
			rk, err := reportKey(rid)
			if err != nil {
				continue // reported with the cases
			}
			if r, ok := c.report(rk); ok && r.CaseNumber != cs.Number {
				c.problem(bucketCases, key, "lists report %s, which names case %q", rid, r.CaseNumber)
			}
		}
	})
}

func (c *checker) checkCaseNumbers() {
	ok, _ := c.indexMatches(bucketCaseNumbers)
	c.caseNumbersMatch = ok
	if ok || c.err != nil {
		return
	}
	c.each(bucketCaseNumbers, func(k, v []byte) {
		number := readable(k)
		if len(v) != caseKeyLen {
			c.problem(bucketCaseNumbers, number, "malformed value: %s, want a case id of %d", counted(len(v), "byte"), caseKeyLen)
			return
		}
		if !c.has(bucketCases, v) {
			c.problem(bucketCaseNumbers, number, "dangling: case %s does not exist", caseString(v))
			return
		}
		if cs, ok := c.caseRecord(v); ok && cs.Number != string(k) {
			c.problem(bucketCaseNumbers, number, "points at case %s, whose number is %s", caseString(v), cs.Number)
		}
	})
}

func (c *checker) checkUnitIndex() {
	if c.indexSumMatches(bucketCasesByUnit) || c.err != nil {
		return
	}
	c.findCaseEntries(bucketCasesByUnit)
	if ok, _ := c.indexMatches(bucketCasesByUnit); ok || c.err != nil {
		return
	}
	c.each(bucketCasesByUnit, func(k, _ []byte) {
		unit, ck, ok := splitIndexKey(k, caseKeyLen)
		if !ok {
			c.problem(bucketCasesByUnit, readable(k), "malformed key: want unit, 0x00, case id")
			return
		}
		key := fmt.Sprintf("unit %s, case %s", unit, caseString(ck))
		if !c.has(bucketCases, ck) {
			c.problem(bucketCasesByUnit, key, "dangling: case %s does not exist", caseString(ck))
			return
		}
		if cs, ok := c.caseRecord(ck); ok && cs.ResponsibleUnit.String() != unit {
			c.problem(bucketCasesByUnit, key, "case %s is the responsibility of %s", cs.Number, cs.ResponsibleUnit)
		}
	})
}

func (c *checker) checkStatusIndex() {
	if c.indexSumMatches(bucketCasesByStatus) || c.err != nil {
		return
	}
	c.findCaseEntries(bucketCasesByStatus)
	if ok, _ := c.indexMatches(bucketCasesByStatus); ok || c.err != nil {
		return
	}
	c.each(bucketCasesByStatus, func(k, _ []byte) {
		if len(k) != 4+caseKeyLen {
			c.problem(bucketCasesByStatus, readable(k), "malformed key: %s, want %d", counted(len(k), "byte"), 4+caseKeyLen)
			return
		}
		status, ck := be.Uint32(k[:4]), k[4:]
		key := fmt.Sprintf("status %d, case %s", status, caseString(ck))
		if !c.has(bucketCases, ck) {
			c.problem(bucketCasesByStatus, key, "dangling: case %s does not exist", caseString(ck))
			return
		}
		if cs, ok := c.caseRecord(ck); ok && uint32(cs.Status) != status {
			c.problem(bucketCasesByStatus, key, "case %s has status %d", cs.Number, cs.Status)
		}
	})
}

func (c *checker) checkCaseSequences() {
	stored := map[uint16]uint64{}
	c.each(bucketCaseSequences, func(k, v []byte) {
		if len(k) != 2 || len(v) != 8 {
			c.problem(bucketCaseSequences, readable(k), "malformed: key of %s (want 2), value of %s (want 8)", counted(len(k), "byte"), counted(len(v), "byte"))
			return
		}
		stored[be.Uint16(k)] = be.Uint64(v)
	})
	years := make([]uint16, 0, len(c.caseSeqs))
	for y := range c.caseSeqs {
		years = append(years, y)
	}
	slices.Sort(years)
	for _, y := range years {
		if used := c.caseSeqs[y]; stored[y] < used {
			c.problem(bucketCaseSequences, fmt.Sprintf("year %d", y), "is %d, behind case number sequence %d already in use: the next case of that year would be refused", stored[y], used)
		}
	}
}

func (c *checker) checkIdempotency() {
	c.each(bucketIdempotency, func(k, v []byte) {
		c.res.Idempotency++
		r, err := decodeAs[model.IdempotencyRecord](v)
		if err != nil {
			c.problem(bucketIdempotency, readable(k), "the record does not decode: %v", err)
			return
		}
		if r.Key != string(k) {
			c.problem(bucketIdempotency, readable(k), "the record holds key %q", r.Key)
		}
		if !c.hasEntry(bucketIdempotencyByTime, idempotencyTimeKey(r.CreateTime, string(k))) {
			c.problem(bucketIdempotencyByTime, readable(k), "missing: the record (created %s) has no entry, so it would never expire",
				r.CreateTime.UTC().Format(time.RFC3339Nano))
		}
	})
}

func (c *checker) checkIdempotencyIndex() {
	if ok, _ := c.indexMatches(bucketIdempotencyByTime); ok || c.err != nil {
		return
	}
	c.each(bucketIdempotencyByTime, func(k, _ []byte) {
		if len(k) <= 8 {
			c.problem(bucketIdempotencyByTime, readable(k), "malformed key: want create time(8), request key")
			return
		}
		key := fmt.Sprintf("created %s, request %s", time.Unix(0, int64(be.Uint64(k[:8]))).UTC().Format(time.RFC3339Nano), readable(k[8:]))
		raw := c.get(bucketIdempotency, k[8:])
		if raw == nil {
			c.problem(bucketIdempotencyByTime, key, "dangling: the record does not exist")
			return
		}
		if r, err := decodeAs[model.IdempotencyRecord](raw); err == nil && idempotencyNanos(r.CreateTime) != be.Uint64(k[:8]) {
			c.problem(bucketIdempotencyByTime, key, "the record was created at another time (%s)", r.CreateTime.UTC().Format(time.RFC3339Nano))
		}
	})
}

// ---------------------------------------------------------------------------
// Identity

func (c *checker) checkUsers() {
	c.each(bucketUsers, func(k, v []byte) {
		c.res.Users++
		u, err := decodeAs[model.User](v)
		if err != nil {
			c.problem(bucketUsers, readable(k), "the record does not decode: %v", err)
			return
		}
		if u.ID != string(k) {
			c.problem(bucketUsers, readable(k), "the record holds user id %q", u.ID)
		}
		if !c.usersByUnit {
			return
		}
		for _, e := range storekey.UserUnitKeys(u) {
			if !c.hasEntry(bucketUsersByUnit, e) {
				c.problem(bucketUsersByUnit, fmt.Sprintf("unit %q, role %d, user %q", u.Unit, u.Role, u.ID),
					"missing: active user %q has no entry", u.ID)
			}
		}
	})
}

// checkUserUnitIndex checks users_by_unit against the users: each entry
// is well formed and names an active user of its unit and role. The
// users' pass has checked the other way (every active user has its
// entry); a file of a version before 12 has none to check.
func (c *checker) checkUserUnitIndex() {
	if !c.usersByUnit {
		return
	}
	if ok, _ := c.indexMatches(bucketUsersByUnit); ok || c.err != nil {
		return
	}
	c.each(bucketUsersByUnit, func(k, _ []byte) {
		unit, role, id, ok := storekey.ParseUserUnitKey(k)
		if !ok {
			c.problem(bucketUsersByUnit, readable(k), "malformed key: want unit, 0x00, role(1), user id")
			return
		}
		key := fmt.Sprintf("unit %q, role %d, user %q", unit, role, id)
		raw := c.get(bucketUsers, []byte(id))
		if raw == nil {
			c.problem(bucketUsersByUnit, key, "dangling: user %q does not exist", id)
			return
		}
		u, err := decodeAs[model.User](raw)
		switch {
		case err != nil:
			return // the users' pass reports it
		case u.Disabled():
			c.problem(bucketUsersByUnit, key, "dangling: user %q is disabled", id)
		case u.Unit != unit || u.Role != role:
			c.problem(bucketUsersByUnit, key, "user %q is of unit %q, role %d", id, u.Unit, u.Role)
		}
	})
}

func (c *checker) checkTokens() {
	c.each(bucketTokens, func(k, v []byte) {
		c.res.Tokens++
		tok, err := decodeAs[model.Token](v)
		if err != nil {
			c.problem(bucketTokens, readable(k), "the record does not decode: %v", err)
			return
		}
		if tok.ID != string(k) {
			c.problem(bucketTokens, readable(k), "the record holds token id %q", tok.ID)
		}
		if !c.has(bucketUsers, []byte(tok.UserID)) {
			c.problem(bucketTokens, readable(k), "belongs to user %q, who does not exist", tok.UserID)
		}
		if !c.hasEntry(bucketTokensByUser, tokenIndexKey(tok.UserID, tok.ID)) {
			c.problem(bucketTokensByUser, fmt.Sprintf("user %q, token %q", tok.UserID, tok.ID), "missing: token %q has no entry", tok.ID)
		}
	})
}

func (c *checker) checkTokenIndex() {
	c.checkOwnerIndex(ownerIndex{
		index: bucketTokensByUser, records: bucketTokens, owner: "user", record: "token", owns: "belongs to user",
		ownerOf: func(raw []byte) (string, error) {
			tok, err := decodeAs[model.Token](raw)
			return tok.UserID, err
		},
	})
}

// ownerIndex describes an index whose keys are an owner's id, 0x00, and
// the key of a record that names that owner (tokens by user, data keys by
// master key).
type ownerIndex struct {
	index, records []byte
	owner, record  string // what the two ids are, for the problems
	owns           string // the relation, as in "token %q belongs to user %q"
	ownerOf        func(raw []byte) (string, error)
}

// checkOwnerIndex checks such an index against its records: each entry is
// well formed, its record exists and names its owner. The records' pass
// has checked the other way.
func (c *checker) checkOwnerIndex(ix ownerIndex) {
	if ok, _ := c.indexMatches(ix.index); ok || c.err != nil {
		return
	}
	c.each(ix.index, func(k, _ []byte) {
		owner, id, ok := bytes.Cut(k, []byte{0})
		if !ok || len(owner) == 0 || len(id) == 0 {
			c.problem(ix.index, readable(k), "malformed key: want %s id, 0x00, %s id", ix.owner, ix.record)
			return
		}
		key := fmt.Sprintf("%s %q, %s %q", ix.owner, owner, ix.record, id)
		raw := c.get(ix.records, id)
		if raw == nil {
			c.problem(ix.index, key, "dangling: %s %q does not exist", ix.record, id)
			return
		}
		if got, err := ix.ownerOf(raw); err == nil && got != string(owner) {
			c.problem(ix.index, key, "%s %q %s %q", ix.record, id, ix.owns, got)
		}
	})
}

func (c *checker) checkPoliceUnits() {
	c.each(bucketPoliceUnits, func(k, v []byte) {
		c.res.PoliceUnits++
		p, err := decodeAs[model.PoliceUnit](v)
		if err != nil {
			c.problem(bucketPoliceUnits, readable(k), "the record does not decode: %v", err)
			return
		}
		if p.ID != string(k) {
			c.problem(bucketPoliceUnits, readable(k), "the record holds police unit id %q", p.ID)
		}
	})
}

func (c *checker) checkDataKeys() {
	unknown := map[string]int{} // data keys by master, of the masters not at hand
	c.each(bucketDataKeys, func(k, v []byte) {
		c.res.DataKeys++
		w, err := decodeAs[keys.WrappedKey](v)
		if err != nil {
			c.problem(bucketDataKeys, readable(k), "the record does not decode: %v", err)
			return
		}
		if w.MasterID == "" || len(w.Sealed) == 0 {
			c.problem(bucketDataKeys, readable(k), "the wrapped key is empty")
		} else if c.masters != nil && !c.masters[w.MasterID] {
			unknown[w.MasterID]++
		}
		if c.t.bucket(bucketDataKeysByMaster) != nil && !c.hasEntry(bucketDataKeysByMaster, dataKeyMasterKey(w.MasterID, string(k))) {
			c.problem(bucketDataKeysByMaster, fmt.Sprintf("master %q, data key %q", w.MasterID, k),
				"missing: data key %q has no entry, so the check of the master key at start would pass over it", k)
		}
	})
	// Once per master: a million data keys under one unknown master are
	// one finding.
	for _, id := range slices.Sorted(maps.Keys(unknown)) {
		c.problem(bucketDataKeys, fmt.Sprintf("master %q", id),
			"%s under this master, which no key file at hand holds (the key file, or the .next and .retired-%s files beside it): what they seal cannot be opened",
			counted(unknown[id], "data key"), id)
	}
}

// mastersAtHand is the set of CheckOptions.Masters, nil for none.
func mastersAtHand(ids []string) map[string]bool {
	if len(ids) == 0 {
		return nil
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set
}

// checkDataKeyIndex checks data_keys_by_master, when the file has it (Open
// builds it when it is missing).
func (c *checker) checkDataKeyIndex() {
	if c.btx.Bucket(bucketDataKeysByMaster) == nil {
		return
	}
	c.checkOwnerIndex(ownerIndex{
		index: bucketDataKeysByMaster, records: bucketDataKeys, owner: "master", record: "data key", owns: "is wrapped by master",
		ownerOf: func(raw []byte) (string, error) {
			w, err := decodeAs[keys.WrappedKey](raw)
			return w.MasterID, err
		},
	})
}

// ---------------------------------------------------------------------------
// Audit

func seqString(k []byte) string {
	if len(k) == seqKeyLen {
		return "seq " + strconv.FormatUint(be.Uint64(k), 10)
	}
	return "0x" + hex.EncodeToString(k)
}

// checkAudit checks every event and, as it reads them, runs
// audit.VerifyHead over them against the stored head, so that each event
// is decoded once; checkAuditChain reports what the chain came to.
func (c *checker) checkAudit() {
	headSeq, headHash, headErr := c.t.AuditHead()
	c.res.AuditHeadSeq, c.res.AuditHeadHash = headSeq, headHash
	// chain is whether VerifyHead still takes events: it stops at the
	// first break, and the events' own checks go on without it.
	chain, walked := headErr == nil, false
	// Before the index by time is recorded complete (a store written
	// before it, IndexAuditByTime not yet done), events may lack entries.
	byTime := c.t.auditTimeIndexed()
	if byTime {
		c.expectEntry(bucketAuditByTime, auditByTimeComplete) // the record itself, which the index's sum counts
	}
	// The events of reads that a crash, or a hot backup, caught before
	// their entries were written (at most auditTailWalk, the log's last:
	// audittail.go) have none yet; the next start writes them.
	tail := c.t.unindexedFrom()
	events := func(yield func(audit.Event, error) bool) {
		walked = true
		c.each(bucketAudit, func(k, v []byte) {
			c.res.AuditEvents++
			key := func() string { return seqString(k) } // made only for a problem
			if len(k) == seqKeyLen {
				c.auditLastSeq = be.Uint64(k)
			}
			if len(k) != seqKeyLen {
				c.problem(bucketAudit, key(), "malformed key: %s, want %d", counted(len(k), "byte"), seqKeyLen)
				if chain { // what AuditEvents yields
					yield(audit.Event{}, fmt.Errorf("audit events: malformed key %x after seq 1", k))
					chain = false
				}
				return
			}
			e, err := audit.Decode(v)
			if err != nil {
				c.problem(bucketAudit, key(), "the event does not decode: %v", err)
				if chain {
					yield(audit.Event{}, fmt.Errorf("audit event at key seq %d: %w", be.Uint64(k), err))
					chain = false
				}
				return
			}
			if e.Seq != be.Uint64(k) {
				c.problem(bucketAudit, key(), "the event holds seq %d", e.Seq)
			}
			if c.notedSeq != 0 && e.Seq == c.notedSeq && c.notedSeen == nil {
				c.notedSeen = bytes.Clone(e.Hash)
			}
			// The entries the event must have are summed, not looked up
			// (expectEntry): checkAuditIndex and checkAuditTimeIndex
			// compare the sums with the indexes' own.
			switch {
			case tail != 0 && e.Seq >= tail:
				c.res.AuditUnindexed++
			default:
				if e.Case != "" {
					c.expectEntry(bucketAuditByCase, c.entryKey(e.Case, k))
				}
				if e.Actor != "" {
					c.expectEntry(bucketAuditByActor, c.entryKey(e.Actor, k))
				}
				if byTime {
					c.expectEntry(bucketAuditByTime, storekey.AuditTimeKey(e.Time, be.Uint64(k)))
				}
			}
			if chain {
				chain = yield(e, nil)
			}
		})
	}
	if headErr != nil {
		c.chainErr, c.chainHead = headErr, true
		events(func(audit.Event, error) bool { return true })
		return
	}
	_, c.chainProblem, c.chainErr = audit.VerifyHead(events, headSeq, headHash)
	if !walked { // VerifyHead read nothing: the events still need their checks
		chain = false
		events(func(audit.Event, error) bool { return true })
	}
	if c.chainErr != nil {
		c.chainErr = fmt.Errorf("the hash chain could not be verified to the end: %w", c.chainErr)
	}
}

// checkAuditIndex checks audit_by_case or audit_by_actor.
func (c *checker) checkAuditIndex(bucket []byte) func() {
	what := "case"
	if bytes.Equal(bucket, bucketAuditByActor) {
		what = "actor"
	}
	return func() {
		if c.indexSumMatches(bucket) || c.err != nil {
			return
		}
		c.findAuditEntries(bucket)
		if ok, _ := c.indexMatches(bucket); ok || c.err != nil {
			return
		}
		c.each(bucket, func(k, _ []byte) {
			name, sk, ok := splitIndexKey(k, seqKeyLen)
			if !ok {
				c.problem(bucket, readable(k), "malformed key: want %s, 0x00, seq", what)
				return
			}
			key := fmt.Sprintf("%s %q, %s", what, name, seqString(sk))
			raw := c.get(bucketAudit, sk)
			if raw == nil {
				c.problem(bucket, key, "dangling: event %d does not exist", be.Uint64(sk))
				return
			}
			e, err := audit.Decode(raw)
			if err != nil {
				return // reported with the events
			}
			got := e.Case
			if what == "actor" {
				got = e.Actor
			}
			if got != name {
				c.problem(bucket, key, "event %d has %s %q", be.Uint64(sk), what, got)
			}
		})
	}
}

// checkAuditTimeIndex checks audit_by_time: each entry is an event's time
// and seq, of an event that exists at that time. That every event has its
// entry is checkAudit's.
func (c *checker) checkAuditTimeIndex() {
	if c.t.keys(bucketAuditByTime) == nil {
		return // a file of a version before 6, with no index bucket
	}
	if c.indexSumMatches(bucketAuditByTime) || c.err != nil {
		return
	}
	c.findAuditEntries(bucketAuditByTime)
	if ok, _ := c.indexMatches(bucketAuditByTime); ok || c.err != nil {
		return
	}
	c.each(bucketAuditByTime, func(k, _ []byte) {
		if len(k) == len(auditByTimeComplete) {
			return // the record that the index is complete
		}
		if len(k) != storekey.AuditTimeKeyLen {
			c.problem(bucketAuditByTime, readable(k), "malformed key: want time(8), seq(8)")
			return
		}
		at, sk := time.Unix(0, int64(be.Uint64(k[:8]))).UTC(), k[8:]
		key := fmt.Sprintf("time %s, %s", at.Format(time.RFC3339Nano), seqString(sk))
		raw := c.get(bucketAudit, sk)
		if raw == nil {
			c.problem(bucketAuditByTime, key, "dangling: event %d does not exist", be.Uint64(sk))
			return
		}
		e, err := audit.Decode(raw)
		if err != nil {
			return // reported with the events
		}
		if !bytes.Equal(storekey.AuditTimeKey(e.Time, be.Uint64(sk)), k) {
			c.problem(bucketAuditByTime, key, "event %d has time %s", be.Uint64(sk), e.Time.UTC().Format(time.RFC3339Nano))
		}
	})
}

// findAuditEntries looks up the entry in bucket (audit_by_case,
// audit_by_actor or audit_by_time) of every event, reports those missing
// and counts the others (countFound), for indexMatches: the walk of
// checkAudit only summed them, and the sums said the index holds other
// entries than the events need. It decodes the events again, which only
// a damaged file pays for; the events' own problems were reported then.
func (c *checker) findAuditEntries(bucket []byte) {
	if bytes.Equal(bucket, bucketAuditByTime) {
		if !c.t.auditTimeIndexed() {
			return // before it is complete, events may lack entries
		}
		c.countFound(bucketAuditByTime) // the record itself, which indexMatches counts
	}
	c.eachRecord(bucketAudit, func(k, v []byte) {
		if len(k) != seqKeyLen {
			return // reported with the events
		}
		e, err := audit.Decode(v)
		if err != nil {
			return // reported with the events
		}
		seq := be.Uint64(k)
		switch {
		case bytes.Equal(bucket, bucketAuditByCase):
			if e.Case != "" && !c.hasEntryInOrder(bucket, c.entryKey(e.Case, k), seqKeyLen) {
				c.problem(bucket, fmt.Sprintf("case %q, %s", e.Case, seqString(k)), "missing: event %d has no entry", seq)
			}
		case bytes.Equal(bucket, bucketAuditByActor):
			if e.Actor != "" && !c.hasEntryInOrder(bucket, c.entryKey(e.Actor, k), seqKeyLen) {
				c.problem(bucket, fmt.Sprintf("actor %q, %s", e.Actor, seqString(k)), "missing: event %d has no entry", seq)
			}
		default:
			// Whole keys in seq order, mostly rising: one cursor steps
			// along the index (hasInOrder).
			if !c.hasEntryInOrder(bucket, storekey.AuditTimeKey(e.Time, seq), storekey.AuditTimeKeyLen) {
				c.problem(bucket, fmt.Sprintf("time %s, %s", e.Time.Format(time.RFC3339Nano), seqString(k)), "missing: event %d has no entry", seq)
			}
		}
	})
}

// checkAuditChain reports what audit.VerifyHead found in checkAudit.
func (c *checker) checkAuditChain() {
	switch {
	case c.chainErr != nil && c.chainHead:
		c.problem(bucketMeta, string(keyAuditHead), "%v", c.chainErr)
	case c.chainErr != nil:
		c.problem(bucketAudit, "", "%v", c.chainErr)
	case c.chainProblem != nil:
		c.problem(bucketAudit, fmt.Sprintf("seq %d", c.chainProblem.Seq), "the hash chain is broken: %s", c.chainProblem.Reason)
	}
	// Besides a broken link, which may come before it: a check lists
	// every problem it finds, and a tail cut back to a whole chain is
	// found by the noted head alone.
	if c.notedSeq != 0 {
		// The log ends at its last event, before the stored head when
		// events were cut from the end and the head left: the noted
		// event is then missing, not rewritten.
		end := min(c.res.AuditHeadSeq, c.auditLastSeq)
		if p := audit.NotedProblem(end, c.notedSeq, c.notedHash, c.notedSeen); p != nil {
			c.problem(bucketAudit, fmt.Sprintf("seq %d", p.Seq), "%s", p.Reason)
		}
	}
}

// ---------------------------------------------------------------------------
// Process

func timerString(k []byte) string {
	tm, err := parseTimerKey(k)
	if err != nil {
		return "0x" + hex.EncodeToString(k)
	}
	return fmt.Sprintf("at %s, case id %d, deadline %d", tm.At.Format(time.RFC3339Nano), tm.CaseID, tm.DeadlineID)
}

func (c *checker) checkCaseEvents() {
	var prevCase, prevSeq uint64
	c.each(bucketCaseEvents, func(k, v []byte) {
		c.res.CaseEvents++
		if len(k) != caseEventKeyLen {
			c.problem(bucketCaseEvents, readable(k), "malformed key: %s, want %d", counted(len(k), "byte"), caseEventKeyLen)
			return
		}
		caseID, seq := be.Uint64(k[:8]), be.Uint64(k[8:])
		// Made only for a problem: most events have none.
		key := func() string { return fmt.Sprintf("case id %d, seq %d", caseID, seq) }
		if !c.has(bucketCases, k[:8]) {
			c.problem(bucketCaseEvents, key(), "belongs to case id %d, which does not exist", caseID)
		}
		// Decoded only when it cannot be read in place, to say why.
		if !readsInPlace(v, caseEventMessage) {
			if _, err := decodeAs[model.CaseEvent](v); err != nil {
				c.problem(bucketCaseEvents, key(), "the event does not decode: %v", err)
			}
		}
		want := uint64(1)
		if caseID == prevCase && prevSeq > 0 {
			want = prevSeq + 1
		}
		if seq != want {
			c.problem(bucketCaseEvents, key(), "the case's timeline should go on with seq %d here: events are missing", want)
		}
		prevCase, prevSeq = caseID, seq
	})
}

func (c *checker) checkTimers() {
	ok, n := c.indexMatches(bucketTimers)
	if ok || c.err != nil {
		c.res.Timers = n
		return
	}
	c.each(bucketTimers, func(k, _ []byte) {
		c.res.Timers++
		tm, err := parseTimerKey(k)
		if err != nil {
			c.problem(bucketTimers, readable(k), "%v", err)
			return
		}
		key := timerString(k)
		raw := c.get(bucketCases, u64(tm.CaseID))
		if raw == nil {
			c.problem(bucketTimers, key, "dangling: case id %d does not exist", tm.CaseID)
			return
		}
		cs, err := decodeAs[model.Case](raw)
		if err != nil {
			return // reported with the cases
		}
		switch d := cs.Deadline(tm.DeadlineID); {
		case d == nil:
			c.problem(bucketTimers, key, "dangling: case %s has no deadline %d", cs.Number, tm.DeadlineID)
		case !d.Open():
			c.problem(bucketTimers, key, "stale: deadline %d of case %s is no longer open", d.ID, cs.Number)
		case !d.NextFire.Equal(tm.At):
			c.problem(bucketTimers, key, "stale: deadline %d of case %s next fires at %s", d.ID, cs.Number, d.NextFire.UTC().Format(time.RFC3339Nano))
		}
	})
}

func (c *checker) checkOutbox() {
	var last uint64
	c.each(bucketOutbox, func(k, v []byte) {
		c.res.Notifications++
		if len(k) != seqKeyLen {
			c.problem(bucketOutbox, seqString(k), "malformed key: %s, want %d", counted(len(k), "byte"), seqKeyLen)
			return
		}
		last = be.Uint64(k)
		// Decoded only when it cannot be read in place, to say why.
		if !readsInPlace(v, notificationMessage) {
			if _, err := decodeAs[model.Notification](v); err != nil {
				c.problem(bucketOutbox, seqString(k), "the entry does not decode: %v", err)
			}
		}
	})
	if seq := c.btx.Bucket(bucketOutbox).Sequence(); seq < last {
		c.problem(bucketOutbox, "", "the bucket's sequence %d is behind the last entry %d: a new entry would be refused", seq, last)
	}
}

func (c *checker) checkCursors() {
	c.each(bucketCursors, func(k, v []byte) {
		if len(v) != 8 {
			c.problem(bucketCursors, readable(k), "damaged: %s, want 8", counted(len(v), "byte"))
		}
	})
}

// readable returns a key as text when it is printable, else as hex.
func readable(k []byte) string {
	if utf8.Valid(k) && bytes.IndexFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return strconv.Quote(string(k))
	}
	return "0x" + hex.EncodeToString(k)
}

// ---------------------------------------------------------------------------
// Case scope and queue indexes

// caseIndexKeys is storekey.CaseIndexKeys as the file's schema version
// has them: a file of before version 14 has no queue entries under a
// holder's key (the first start puts them), so check neither expects
// them nor takes their absence for damage.
func (c *checker) caseIndexKeys(cs model.Case) (scope, queue [][]byte, err error) {
	scope, queue, err = storekey.CaseIndexKeys(cs)
	if err == nil && !c.holderEntries {
		queue = storekey.WithoutHolderEntries(queue)
	}
	return scope, queue, err
}

// expectCaseEntries sums the case's scope and queue entries
// (expectEntry), and returns its scope entries.
func (c *checker) expectCaseEntries(cs model.Case) [][]byte {
	if !c.scopeIndexes {
		return nil // a file of before schema version 4, with no such index
	}
	scope, queue, err := c.caseIndexKeys(cs)
	if err != nil {
		c.problem(bucketCases, fmt.Sprintf("id %d (%s)", cs.ID, cs.Number), "its index entries cannot be written: %v", err)
		return nil
	}
	for _, k := range scope {
		c.expectEntry(bucketCaseScope, k)
	}
	for _, k := range queue {
		c.expectEntry(bucketCaseQueue, k)
	}
	return scope
}

// expectCaseReportEntries sums the entries in report_scope that the
// report at rk, listed by a case whose scope entries are scope, owes to
// the case: its entry under each of the case's scope keys (the others,
// under its taker, the reports' pass sums). Each is the case's scope
// entry with the report's key in place of the case's id. Reading the
// report's case from the reports' pass decoded a case per report, three
// quarters of that pass; the cases' pass has it at hand.
func (c *checker) expectCaseReportEntries(scope [][]byte, rk []byte) {
	for _, e := range scope {
		c.keyBuf = append(append(c.keyBuf[:0], e[:len(e)-storekey.ScopeSuffixLen]...), rk...)
		c.expectEntry(bucketReportScope, c.keyBuf)
	}
}

// expectReportEntries sums the report's scope entries that are its own,
// under its taker and the taker's unit (storekey.ReportIndexKeys without
// a case); those it owes to its case the cases' pass sums
// (expectCaseReportEntries). A report whose entries cannot be written
// makes the index's check look every report's entries up
// (checkReportEntries), which says so.
func (c *checker) expectReportEntries(rk []byte, r model.StoredReport) {
	if !c.scopeIndexes {
		return // a file of before schema version 4, with no such index
	}
	keys, err := storekey.ReportIndexKeys(rk, r, nil)
	if err != nil {
		c.recordsOdd = true
		return
	}
	for _, k := range keys {
		c.expectEntry(bucketReportScope, k)
	}
}

// indexEntry splits an entry of case_scope, case_queue or report_scope
// into its key (scope key, or queue key and queue), the key of the record
// it points at, and that record's bucket.
func indexEntry(bucket, k []byte) (key string, recordKey, records []byte, ok bool) {
	switch {
	case bytes.Equal(bucket, bucketReportScope):
		key, rk, ok := splitIndexKey(k, reportKeyLen)
		return key, rk, bucketReports, ok
	case bytes.Equal(bucket, bucketCaseScope):
		key, ck, ok := splitIndexKey(k, storekey.ScopeSuffixLen)
		return key, ck, bucketCases, ok
	}
	key, rest, ok := splitIndexKey(k, 1+storekey.QueueSuffixLen)
	if !ok {
		return "", nil, nil, false
	}
	return fmt.Sprintf("%s queue %d", key, rest[0]), u64(^be.Uint64(rest[9:])), bucketCases, true
}

func indexEntryString(bucket, k []byte) string {
	key, rk, records, ok := indexEntry(bucket, k)
	switch {
	case !ok:
		return readable(k)
	case bytes.Equal(records, bucketReports):
		return fmt.Sprintf("%q, report %s", key, reportString(rk))
	}
	return fmt.Sprintf("%q, case %s", key, caseString(rk))
}

// expectedEntries returns the entries in bucket that the record at rk
// must have, and false when it cannot be read (reported with the records).
func (c *checker) expectedEntries(bucket, rk []byte) ([][]byte, bool) {
	if bytes.Equal(bucket, bucketReportScope) {
		r, ok := c.report(rk)
		if !ok {
			return nil, false
		}
		rc, ok := c.reportCase(r)
		if !ok {
			return nil, false
		}
		keys, err := storekey.ReportIndexKeys(rk, r, rc)
		return keys, err == nil
	}
	cs, ok := c.caseRecord(rk)
	if !ok {
		return nil, false
	}
	scope, queue, err := c.caseIndexKeys(cs)
	if bytes.Equal(bucket, bucketCaseQueue) {
		return queue, err == nil
	}
	return scope, err == nil
}

// reportCase is tx.reportCase through the checker's cursors (get): the
// case r's CaseNumber names, nil while there is none; false when its
// record does not decode.
func (c *checker) reportCase(r model.StoredReport) (*model.Case, bool) {
	if r.CaseNumber == "" {
		return nil, true
	}
	ck := c.get(bucketCaseNumbers, []byte(r.CaseNumber))
	if ck == nil {
		return nil, true // the case is stored after its first report
	}
	raw := c.get(bucketCases, ck)
	if raw == nil {
		return nil, true
	}
	cs, err := decodeAs[model.Case](raw)
	if err != nil {
		return nil, false
	}
	return &cs, true
}

// checkReportEntries checks that the report's scope entries are there,
// and counts them.
func (c *checker) checkReportEntries(rk []byte, r model.StoredReport) {
	if !c.scopeIndexes {
		return // a file of before schema version 4, with no such index
	}
	rc, ok := c.reportCase(r)
	if !ok {
		return // its case does not decode: reported with the cases
	}
	keys, err := storekey.ReportIndexKeys(rk, r, rc)
	if err != nil {
		c.problem(bucketReports, r.ID, "its index entries cannot be written: %v", err)
		return
	}
	c.findEntries(bucketReportScope, keys, reportKeyLen, "report "+r.ID)
}

// findEntries reports the keys missing from bucket, and counts the others.
// The keys end in the record's key, of suffix bytes (hasInOrder); 0 is
// for an index in another order.
func (c *checker) findEntries(bucket []byte, keys [][]byte, suffix int, of string) {
	for _, k := range keys {
		if (suffix > 0 && c.hasInOrder(bucket, k, suffix)) || (suffix == 0 && c.has(bucket, k)) {
			c.caseEntries[string(bucket)]++
			continue
		}
		c.problem(bucket, indexEntryString(bucket, k), "missing: %s has no entry", of)
	}
}

// checkScopeIndex checks every entry of a scope or queue index the other
// way: well formed, and pointing at a record that exists. Each record's
// expected entries were found by checkCases or checkReports, each a key
// of its own; an index that holds as many keys as those (countScopeIndex)
// holds nothing else. Only when it holds more does it read every entry
// again (walkScopeIndex), looking up its record to name those malformed
// or dangling, and if it still holds more than expected, a second walk
// names the ones no record expects (it decodes a record per entry, so it
// runs only then).
func (c *checker) checkScopeIndex(bucket []byte) func() {
	return func() {
		if !c.scopeIndexes {
			return // a file of before schema version 4, with no such index
		}
		if c.scopeSumMatches(bucket) || c.err != nil {
			return
		}
		if bytes.Equal(bucket, bucketReportScope) {
			c.findReportEntries(bucket)
		} else {
			c.findCaseEntries(bucket)
		}
		if n := c.scopeKeys[string(bucket)]; (n >= 0 && n == c.caseEntries[string(bucket)]) || c.err != nil {
			return
		}
		walkScopeIndex(bucket)(c)
		if n := c.scopeEntries[string(bucket)]; n <= c.caseEntries[string(bucket)] || c.err != nil {
			return
		}
		c.each(bucket, func(k, _ []byte) {
			_, rk, _, ok := indexEntry(bucket, k)
			if !ok {
				return
			}
			want, ok := c.expectedEntries(bucket, rk)
			if ok && !slices.ContainsFunc(want, func(w []byte) bool { return bytes.Equal(w, k) }) {
				c.problem(bucket, indexEntryString(bucket, k), "stale: its record has no such entry")
			}
		})
	}
}

// scopeSumMatches reports whether a scope or queue index holds exactly
// the entries the records' passes summed (expectEntry), as many with the
// same sum of their hashes (countScopeIndex summed its keys). For
// report_scope, the sum of the entries a report owes to its case was
// taken from the cases' side (expectCaseReportEntries): it is the
// reports' own only when each report names the case that lists it, and
// case_numbers finds it, with no record found wrong on either side.
func (c *checker) scopeSumMatches(bucket []byte) bool {
	n := c.scopeKeys[string(bucket)]
	if n < 0 {
		return false // a nested bucket, for walkScopeIndex to report
	}
	if bytes.Equal(bucket, bucketReportScope) &&
		(c.recordsOdd || !c.caseNumbersMatch || c.reportLinks != c.caseLinks || c.reportLinkN != c.caseLinkN) {
		return false
	}
	want := indexSum{}
	if s := c.expected[string(bucket)]; s != nil {
		want = *s
	}
	return indexSum{n: n, sum: c.scopeSums[string(bucket)]} == want
}

// countScopeIndex counts the keys of a scope or queue index (scopeKeys)
// for checkScopeIndex to compare with the entries the records expect and
// found. It needs nothing the records' passes find, so it runs beside
// them (run); looking up the record of each entry here cost a seventh of
// a check at a million cases, and is done only when the counts differ.
func countScopeIndex(bucket []byte) func(*checker) {
	return func(c *checker) {
		if !c.scopeIndexes {
			return // a file of before schema version 4, with no such index
		}
		b := c.t.keys(bucket)
		cur := b.Cursor()
		n, sum := 0, uint64(0)
		for k, v := cur.First(); k != nil && c.err == nil; k, v = cur.Next() {
			c.tick(bucket)
			if v == nil && b.nested(k) {
				n = -1 // for walkScopeIndex to report
				break
			}
			n++
			sum += maphash.Bytes(c.linkSeed, k) // as indexSumMatches
		}
		c.scopeKeys[string(bucket)], c.scopeSums[string(bucket)] = n, sum
	}
}

// walkScopeIndex reads every entry of a scope or queue index, reports
// those malformed or dangling, and counts the others (scopeEntries) for
// checkScopeIndex to compare with what the records expect.
func walkScopeIndex(bucket []byte) func(*checker) {
	return func(c *checker) {
		n := 0
		c.each(bucket, func(k, _ []byte) {
			_, rk, records, ok := indexEntry(bucket, k)
			switch {
			case !ok:
				c.problem(bucket, readable(k), "malformed key")
			case !c.has(records, rk):
				c.problem(bucket, indexEntryString(bucket, k), "dangling: the record it points at does not exist")
			default:
				n++
			}
		})
		c.scopeEntries[string(bucket)] = n
	}
}

// ---------------------------------------------------------------------------
// Search index

// checkSearchIndex checks the blind index both ways: every entry belongs
// to a stored case and each of its tokens has its posting in
// search_tokens; and search_tokens holds nothing else, no posting of a
// token its case's entry lacks, of a case without an entry, or of the
// wrong width. Tokens are opaque here: whether they are the right ones
// for the case only the key can tell.
func (c *checker) checkSearchIndex() {
	if c.btx.Bucket(bucketSearchByCase) == nil || c.btx.Bucket(bucketSearchTokens) == nil {
		return // a file written before the index, not yet opened read-write
	}
	size := searchTokenSize(c.btx)
	agree := c.searchIndexAgrees(size)
	if c.err != nil {
		return
	}
	if !agree {
		c.checkSearchEntries(size)
	}
	// A case marked pending is one whose entry a later transaction
	// writes: its entry may be missing or older than the case, which the
	// tokens, opaque here, cannot show anyway. Once the index is recorded
	// complete, every other case has an entry: a start indexes only the
	// marked ones.
	if c.btx.Bucket(bucketSearchPending) != nil {
		if meta := c.btx.Bucket(bucketMeta); meta != nil && meta.Get(keySearchIndexedUnder) != nil {
			cur := c.btx.Bucket(bucketCases).Cursor()
			for k, _ := cur.First(); k != nil && c.err == nil; k, _ = cur.Next() {
				if len(k) == caseKeyLen && !c.has(bucketSearchByCase, k) && !c.has(bucketSearchPending, k) {
					c.problem(bucketSearchByCase, caseString(k), "missing: the index is recorded complete, and the case has neither an entry nor a mark")
				}
			}
		}
		c.each(bucketSearchPending, func(k, v []byte) {
			switch {
			case len(k) != 8:
				c.problem(bucketSearchPending, readable(k), "malformed key: %s, want a case id of 8", counted(len(k), "byte"))
			case len(v) != 0:
				c.problem(bucketSearchPending, caseString(k), "damaged: %s, want none", counted(len(v), "byte"))
			case !c.has(bucketCases, k):
				c.problem(bucketSearchPending, caseString(k), "a mark of a case that does not exist")
			}
		})
	}
	if !agree {
		c.checkSearchPostings(size)
	}
}

// searchIndexAgrees reports whether the search index's entries and
// postings are certainly right: every entry is of a stored case, well
// formed, with tokens of size bytes, and the postings are exactly the
// (token, case) pairs the entries list. It reads each bucket once in key
// order, adding a keyed hash of every pair on both sides (as linkHash
// does for the links of reports and cases), where looking each posting
// up would seek tens of millions of times at a million cases. Two sets
// that differ have the same count and sum by chance once in 2^64. When it
// reports false, checkSearchEntries and checkSearchPostings read the
// index again to name each problem.
func (c *checker) searchIndexAgrees(size int) bool {
	var entrySum, postingSum uint64
	var entryN, postingN int
	var key []byte
	entries := c.t.keys(bucketSearchByCase)
	cur := entries.Cursor()
	for k, v := cur.First(); k != nil && c.err == nil; k, v = cur.Next() {
		c.tick(bucketSearchByCase)
		if len(k) != 8 || v == nil || !c.has(bucketCases, k) {
			return false
		}
		ok := true
		err := searchEntryTokens(v, func(tok []byte) {
			if len(tok) != size {
				ok = false
			}
			key = be.AppendUint64(append(key[:0], tok...), be.Uint64(k))
			entrySum += maphash.Bytes(c.linkSeed, key)
			entryN++
		})
		if err != nil || !ok {
			return false
		}
	}
	postings := c.t.keys(bucketSearchTokens)
	cur = postings.Cursor()
	for k, v := cur.First(); k != nil && c.err == nil; k, v = cur.Next() {
		c.tick(bucketSearchTokens)
		if len(k) != size+8 || (v == nil && postings.nested(k)) {
			return false
		}
		postingSum += maphash.Bytes(c.linkSeed, k)
		postingN++
	}
	if c.err == nil {
		c.err = c.ctx.Err()
	}
	return entryN == postingN && entrySum == postingSum
}

// checkSearchEntries checks every search entry and looks each of its
// postings up.
func (c *checker) checkSearchEntries(size int) {
	c.each(bucketSearchByCase, func(k, v []byte) {
		if len(k) != 8 {
			c.problem(bucketSearchByCase, readable(k), "malformed key: %s, want a case id of 8", counted(len(k), "byte"))
			return
		}
		id := be.Uint64(k)
		if !c.has(bucketCases, k) {
			c.problem(bucketSearchByCase, caseString(k), "an entry of a case that does not exist")
		}
		err := searchEntryTokens(v, func(tok []byte) {
			if len(tok) != size {
				c.problem(bucketSearchByCase, caseString(k), "a token of %s, want %d", counted(len(tok), "byte"), size)
				return
			}
			c.keyBuf = be.AppendUint64(append(c.keyBuf[:0], tok...), id)
			if !c.hasEntry(bucketSearchTokens, c.keyBuf) {
				c.problem(bucketSearchTokens, fmt.Sprintf("token %x, %s", tok, caseString(k)), "missing: the case's entry lists the token")
			}
		})
		if err != nil {
			c.problem(bucketSearchByCase, caseString(k), "damaged record: %v", err)
		}
	})
}

// checkSearchPostings reports the postings that no entry lists, after
// checkSearchEntries has counted those they list.
func (c *checker) checkSearchPostings(size int) {
	if ok, _ := c.indexMatches(bucketSearchTokens); ok || c.err != nil {
		return
	}
	c.each(bucketSearchTokens, func(k, _ []byte) {
		if len(k) != size+8 {
			c.problem(bucketSearchTokens, readable(k), "malformed key: %s, want a token of %d and a case id of 8", counted(len(k), "byte"), size)
			return
		}
		tok, id := k[:size], k[size:]
		raw := c.get(bucketSearchByCase, id)
		if raw == nil {
			c.problem(bucketSearchTokens, fmt.Sprintf("token %x, %s", tok, caseString(id)), "stale: the case has no search entry")
			return
		}
		e, err := decodeAs[datastore.SearchEntry](raw)
		if err != nil {
			return // reported with the entry
		}
		if !slices.ContainsFunc(e.Tokens, func(t []byte) bool { return bytes.Equal(t, tok) }) {
			c.problem(bucketSearchTokens, fmt.Sprintf("token %x, %s", tok, caseString(id)), "stale: the case's entry does not list the token")
		}
	})
}

// countStatEvent is the checker's tally.Counter: it adds the hash of each
// count an event adds to each of its cells to statSum (statHash), leaving
// out the cells by day of a file that has none yet.
//
// Each cell's key is hashed once per event, and each count once, not
// each key with each count: an event counts several things in several
// cells (by month and by day, with and without dimensions), and a key
// built and hashed for every one of them was a tenth of a check.
func (c *checker) countStatEvent(keys []tally.Key, inc func(*tally.Tally)) {
	resetTally(&c.statTally)
	inc(&c.statTally)
	c.statKeys = c.statKeys[:0]
	for _, k := range keys {
		if k.Kind.Daily() && !c.dailyStats {
			continue
		}
		c.statKeyBuf = appendStatKey(c.statKeyBuf[:0], k)
		c.statKeys = append(c.statKeys, maphash.Bytes(c.linkSeed, c.statKeyBuf))
	}
	c.statTally.EachCount(func(n tally.Count) {
		if n.N == 0 {
			return
		}
		count := c.countHash(n)
		for _, cell := range c.statKeys {
			c.statSum.add(c.statHash(cell, count), n.N)
		}
	})
}

// resetTally zeroes t and keeps its maps, for the next event: most events
// of a case count a deadline, whose maps would otherwise be made anew.
func resetTally(t *tally.Tally) {
	deadlines, esc, outcomes, d3, d3Due := t.Deadlines, t.Escalations, t.PoliceOutcomes, t.EmergencyD3, t.D3OpenDue
	for _, d := range deadlines {
		clear(d.Late)
		clear(d.OpenDue)
		*d = tally.DeadlineTally{Late: d.Late, OpenDue: d.OpenDue}
	}
	clear(esc)
	clear(outcomes)
	clear(d3)
	clear(d3Due)
	*t = tally.Tally{Deadlines: deadlines, Escalations: esc, PoliceOutcomes: outcomes, EmergencyD3: d3, D3OpenDue: d3Due}
}

// statHash is a keyed hash of a count of a cell, from the keyed hash of
// the cell's stored key (cell) and that of what it counts (count,
// countHash). Added to a countSum times its number, over every count of
// every cell, the stored counters and the recount give the same sum when
// they agree, and differ but once in 2^64 when they do not (as
// linkHash's sums).
func (c *checker) statHash(cell, count uint64) uint64 {
	var b [16]byte
	be.PutUint64(b[:8], cell)
	be.PutUint64(b[8:], count)
	return maphash.Bytes(c.linkSeed, b[:])
}

// countSum sums hashes each times a count, modulo 2^128. Modulo 2^64, a
// count off by 2^63 (its top bit flipped) added 2^63 times the hash, which
// is 0 for every even hash: half the checks passed such a file, and two
// counts off so in two cells cancelled as often. A 64-bit hash times a
// difference of counts below 2^64 is never a multiple of 2^128 but 0.
type countSum struct{ hi, lo uint64 }

// add adds h times n, n signed.
func (s *countSum) add(h uint64, n int64) {
	hi, lo := bits.Mul64(h, uint64(n))
	if n < 0 {
		hi -= h // uint64(n) is n + 2^64
	}
	s.merge(countSum{hi: hi, lo: lo})
}

// merge adds o.
func (s *countSum) merge(o countSum) {
	var carry uint64
	s.lo, carry = bits.Add64(s.lo, o.lo, 0)
	s.hi, _ = bits.Add64(s.hi, o.hi, carry)
}

// countHash is a keyed hash of what a count counts, its number aside.
func (c *checker) countHash(n tally.Count) uint64 {
	b := append(c.statBuf[:0], n.Field)
	b = be.AppendUint32(b, uint32(len(n.Kind)))
	b = append(b, n.Kind...)
	b = be.AppendUint32(b, uint32(len(n.Name)))
	b = append(b, n.Name...)
	b = be.AppendUint64(b, uint64(n.Num))
	c.statBuf = b
	return maphash.Bytes(c.linkSeed, b)
}

// hashStoredStats sums the hash of every stored count (statHash) into
// storedStatSum, and notes a cell the sums cannot judge (storedStatsOdd):
// checkStats then reads every cell again, and says what is wrong. It
// reads no record, so it runs beside the records' passes (run).
func (c *checker) hashStoredStats() {
	b := c.t.keys(bucketStats)
	if b == nil {
		return // a file of before schema version 7 (checkLayout reports it)
	}
	cur := b.Cursor()
	for k, v := cur.First(); k != nil && c.err == nil; k, v = cur.Next() {
		c.tick(bucketStats)
		if _, err := parseStatKey(k); err != nil || v == nil {
			c.storedStatsOdd = true
			continue
		}
		sum, odd := c.hashStoredCell(k, v)
		c.storedStatSum.merge(sum)
		c.storedStatsOdd = c.storedStatsOdd || odd
	}
	if c.err == nil {
		c.err = c.ctx.Err()
	}
}

// checkStats compares the statistics counters with their recount from
// the reports and cases read. When the sums of their hashes agree
// (statSum, storedStatSum), so do they; otherwise it counts the records
// again, cell by cell, and reports every cell whose stored counts differ,
// is missing or should not be there.
func (c *checker) checkStats() {
	if c.btx.Bucket(bucketStats) == nil {
		return // a file of before schema version 7 (checkLayout reports it)
	}
	if !c.storedStatsOdd && c.statSum == c.storedStatSum {
		return
	}
	want := c.recountStats()
	if c.err != nil {
		return
	}
	if !c.dailyStats {
		// A file of version 7 or 8 not yet migrated (a backup) has no cells by
		// day: the migration builds them.
		maps.DeleteFunc(want, func(k tally.Key, _ *tally.Tally) bool { return k.Kind.Daily() })
	}
	c.each(bucketStats, func(k, v []byte) {
		key, err := parseStatKey(k)
		if err != nil {
			c.problem(bucketStats, readable(k), "malformed key: %v", err)
			return
		}
		got, err := decodeAs[tally.Tally](v)
		if err != nil {
			c.problem(bucketStats, key.String(), "damaged record: %v", err)
			return
		}
		w := want[key]
		delete(want, key)
		if w == nil {
			c.problem(bucketStats, key.String(), "stale: stored %s, the records count nothing there", &got)
			return
		}
		if !got.Equal(w) {
			c.problem(bucketStats, key.String(), "stored %s, the records give %s", &got, w)
		}
	})
	for _, k := range slices.SortedFunc(maps.Keys(want), tally.Compare) {
		c.problem(bucketStats, k.String(), "missing: the records give %s", want[k])
	}
}

// recountStats counts the reports and cases again, cell by cell, as the
// records' passes counted them (checkReports, checkCases): those whose
// key or record is damaged, reported there, count nothing.
func (c *checker) recountStats() tally.Cells {
	cells := tally.Cells{}
	c.eachRecord(bucketReports, func(k, v []byte) {
		if len(k) != reportKeyLen {
			return
		}
		if r, err := decodeAs[model.StoredReport](v); err == nil {
			cells.AddReport(r)
		}
	})
	c.eachRecord(bucketCases, func(k, v []byte) {
		if len(k) != caseKeyLen {
			return
		}
		if cs, err := decodeAs[model.Case](v); err == nil {
			cells.AddCase(cs, c.firstReport(cs))
		}
	})
	return cells
}
