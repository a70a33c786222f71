// Package datastore is the domain's contract with a database: what the
// domain needs to read and write reports, cases, identities, audit events,
// the outbox, idempotency records and data keys inside transactions. The
// domain owns it; internal/storage implements it (boltstore on a file,
// memstore in memory, storekey holds what they share) and
// internal/storage/storagetest pins the contract both keep. It is made of
// small role interfaces, one reader and one writer per aggregate, composed
// into ReadTx and Tx, so that a domain service can ask for no more than it
// uses. It is interfaces, and one helper for the batches of long jobs
// (FitBatch): it must not hold process logic, and no
// package outside internal/domain, internal/storage and the wiring in
// internal/app may import it (internal/archtest checks this).
//
// Transaction bodies: View runs fn once per call; Update and Batch may run
// it more than once (a store that shares one transaction among callers
// re-runs the others when one fails, etcd runs a body again when another
// writer committed first, and memstore always runs it twice). Each run
// starts from the committed state and sees nothing of an earlier run. So
// a write body must do nothing but read and write through its
// transaction, and must compute what it writes afresh each run; only the
// result of the run that committed is returned (see Store).
//
// Errors: methods return model.ErrNotFound, model.ErrAlreadyExists,
// model.ErrConflict or model.ErrBadCursor (wrapped) as documented on each
// method; Update and Batch return model.ErrFull (wrapped) when a write
// cannot be committed for lack of space; anything else is an internal
// failure.
package datastore

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/stats/tally"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/keys"
)

// ErrSchemaTooNew is returned by Open when the database was written by a
// newer version of childcase.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary supports")

// Store is a transactional store.
//
// Writes are group-committed: concurrent Update calls (and, apart from
// them, concurrent Batch calls) may share one transaction and one fsync,
// each fn seeing the writes of those that ran before it in the shared
// transaction. So a write body (the fn given to Update or Batch) may run
// more than once: when a shared transaction fails, it is rolled back, the
// fn that failed runs again alone and the others run again together. A
// store whose reads are network round trips (etcd) also runs the bodies
// of a shared transaction ahead of it, at the same time as each other,
// each on a transaction of its own whose writes are thrown away, to make
// their reads at once. Every body must therefore be safe to re-run, and
// to run beside the others:
//
//   - no side effects outside the transaction (no sends, no caches, no
//     changes to shared state); do them after Update returns nil;
//   - every variable the body sets for its caller is set afresh at its
//     start, since the run that counts is the last one;
//   - an error it returns concerns its own request only: it fails only its
//     own call, never the others that shared its transaction;
//   - it returns: it must not block on other writers or end its goroutine
//     (runtime.Goexit, t.FailNow), since it runs on the store's.
//
// A panic in a body is raised again in its caller's goroutine, and the
// others are committed without it. Neither Update nor Batch returns before
// the commit that holds its fn's writes is on disk.
type Store interface {
	// View runs fn in a read-only transaction. Values returned by the
	// transaction stay valid after it ends.
	View(ctx context.Context, fn func(ReadTx) error) error
	// Update runs fn in a read-write transaction, which it may share with
	// concurrent Updates (see Store), and commits it durably if fn returns
	// nil; if fn returns an error nothing fn wrote is kept. Update returns
	// only after the commit is on disk. A write that does not fit fails with
	// model.ErrFull; nothing of it is kept, and what was committed before
	// stays readable. A store may keep a reserve that Batch may use and
	// Update may not, so that Update fails with model.ErrFull first.
	Update(ctx context.Context, fn func(Tx) error) error
	// Batch is Update for the small writes that must succeed when ordinary
	// writes no longer can (audit events of reads, failed sign-ins, and a
	// console session's sign-in and sign-out):
	// concurrent calls may share one transaction and one fsync, never with
	// an Update. Batch returns only after the commit is on disk. Batch may
	// use the room a store keeps back from Update, so that a full database
	// still records reads and answers them: use it only for such audit
	// events, never for case data.
	Batch(ctx context.Context, fn func(Tx) error) error
	// IndexAuditEvents writes the index entries (by case, by actor, by
	// time) of the audit events whose commit left them for later, so
	// that a listing that reads an index after it sees every event
	// committed before it. A store may leave them for the audit events of
	// Batch only, and only while they are the log's last events; one that
	// never leaves them returns nil.
	IndexAuditEvents(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// ReadTx reads within one consistent snapshot: every reader role at once.
type ReadTx interface {
	ReportReader
	CaseReader
	IdentityReader
	AuditReader
	OutboxReader
	IdempotencyReader
	KeyReader
	SearchIndexReader
	StatsReader
	Prefetcher
}

// Tx reads and writes within one transaction: every role at once.
type Tx interface {
	ReadTx
	ReportWriter
	CaseWriter
	IdentityWriter
	AuditWriter
	OutboxWriter
	IdempotencyWriter
	KeyWriter
	SearchIndexWriter
}

// IdempotencyTx reads and writes idempotency records within a
// transaction: all that the idempotency helpers need.
type IdempotencyTx interface {
	IdempotencyReader
	IdempotencyWriter
}

// KeyTx reads and writes data keys within a transaction: all that the
// vault needs.
type KeyTx interface {
	KeyReader
	KeyWriter
}

// ReportReader reads the reports hotline takers record.
type ReportReader interface {
	// Report returns the report with that id, or model.ErrNotFound.
	Report(id string) (model.StoredReport, error)
	// ListReports returns up to q.Limit reports, newest first, and a cursor
	// for the next page ("" when there is none). A page ends short, even
	// empty, with a cursor after it has passed over storekey.MaxSkipped
	// reports the filters (CallType) leave out, never for those out of the
	// caller's scope (Scopes, Match). A cursor it did not issue for the
	// same filters gives model.ErrBadCursor.
	ListReports(q ReportQuery) ([]model.StoredReport, string, error)
}

// ReportWriter writes reports.
type ReportWriter interface {
	// CreateReport stores a new report. It returns model.ErrAlreadyExists if
	// a report with that id exists.
	CreateReport(r model.StoredReport) error
	// UpdateReport replaces a stored report. It returns model.ErrNotFound if
	// there is none with that id. The taker cannot change. CreateReport and
	// UpdateReport keep the report's scope keys (access.ReportScopeKeys,
	// with the case its CaseNumber names) indexed, and UpdateCase moves
	// those of the reports linked to the case when its scope keys change.
	UpdateReport(r model.StoredReport) error
}

// CaseReader reads cases and their process: timelines, queues and timers.
type CaseReader interface {
	// CaseByNumber returns the case with that case number, or model.ErrNotFound.
	CaseByNumber(number string) (model.Case, error)
	// CaseByID returns the case with that internal id, or model.ErrNotFound.
	CaseByID(id uint64) (model.Case, error)
	// LastCaseID returns the highest id a case has been given, 0 before
	// the first: ids are given in order from 1, so a walk by id down from
	// it meets every case, one read each, where a list that stops at a
	// case it cannot read goes no further (the sealing of clear text
	// passes over such a case).
	LastCaseID() (uint64, error)
	// ClearTextPending reports whether cases may still hold free text in
	// the clear: true from the migration of a file written before case
	// text was sealed (schema version 3) until ClearTextSealed. It lets a
	// start skip looking for such cases on every later start.
	ClearTextPending() (bool, error)
	// ListCases returns up to q.Limit cases, newest first, and a cursor for
	// the next page, as ListReports. With a unit it reads only that unit's
	// cases through an index; without one but with scope keys it reads only
	// the cases of those keys through another, so that a page costs about
	// q.Limit cases however many the store holds.
	ListCases(q CaseQuery) ([]model.Case, string, error)
	// ListQueue returns up to q.Limit cases of the work queues q names, in
	// order of their due time in that queue (access.QueueEntry; cases
	// without one last), newest first among equals, and a cursor for the
	// next page, as ListReports. It reads the queue index, so that a page
	// costs about q.Limit cases however many the store holds.
	ListQueue(q QueueQuery) ([]model.Case, string, error)
	// QueueCaseIDs is ListQueue without q.Match, answering the ids of the
	// cases from the queue index alone: it reads no case, so that a case
	// on a damaged page of the file does not stop the list of the others.
	QueueCaseIDs(q QueueQuery) ([]uint64, string, error)
	// CaseEvents returns up to limit timeline events of a case with a seq
	// greater than after, oldest first.
	CaseEvents(caseID uint64, after uint64, limit int) ([]model.CaseEvent, error)
	// CaseEventsNewestFirst returns up to limit timeline events of a case
	// with a seq less than before (0: from the newest), newest first: the
	// end of a long timeline costs a page, not the whole timeline.
	CaseEventsNewestFirst(caseID uint64, before uint64, limit int) ([]model.CaseEvent, error)
	// DueTimers returns up to limit timers with At at or before until,
	// earliest first.
	DueTimers(until time.Time, limit int) ([]model.Timer, error)
	// NextTimer returns the earliest timer, and false when there is none.
	NextTimer() (model.Timer, bool, error)
}

// CaseWriter writes cases and their process.
type CaseWriter interface {
	// NextCaseSequence returns the next case sequence number of a year,
	// starting at 1.
	NextCaseSequence(year int) (uint64, error)
	// CreateCase stores a new case, assigning c.ID. It returns
	// model.ErrAlreadyExists if the case number is taken.
	CreateCase(c *model.Case) error
	// CreateCase and UpdateCase keep the case's scope keys
	// (access.ScopeKeys) and queue entries (access.QueueEntries) indexed
	// in the same transaction.
	//
	// UpdateCase replaces a stored case and its index entries. It returns
	// model.ErrNotFound if the case does not exist and model.ErrConflict if
	// the stored revision is not c.Revision-1.
	UpdateCase(c model.Case) error
	// ClearTextSealed records that no case holds free text in the clear
	// any more (see ClearTextPending).
	ClearTextSealed() error
	// AppendCaseEvents appends timeline events to a case, assigning each
	// the next seq of that case (from 1), and returns them.
	AppendCaseEvents(caseID uint64, events ...model.CaseEvent) ([]model.CaseEvent, error)
	// PutTimer stores a scheduler timer. Storing the same timer twice is
	// harmless.
	PutTimer(t model.Timer) error
	// DeleteTimer removes a timer; removing one that does not exist is not
	// an error.
	DeleteTimer(t model.Timer) error
}

// StatsReader reads the statistics counters (package tally) that a store
// keeps with the records: the sum of every report's and case's
// contribution (tally.OfReport, tally.OfCase with the case's first
// report), kept in the transaction of each write of one of them.
type StatsReader interface {
	// StatCells calls fn with every non-zero cell of the kind whose month
	// is in [from, to) ("2026-01", "2027-01"), in order of key. fn must
	// not keep t past its return.
	StatCells(kind tally.Kind, from, to string, fn func(k tally.Key, t *tally.Tally) error) error
}

// UnitRole names the users of one role in one unit (a user's Unit and
// Role), as ListActiveUsersOf takes them.
type UnitRole struct {
	Unit string
	Role model.Role
}

// IdentityReader reads users, their tokens and police units.
type IdentityReader interface {
	// User returns the user with that id, or model.ErrNotFound.
	User(id string) (model.User, error)
	// ListUsers returns up to limit users in order of id, after the cursor,
	// and a cursor for the next page as ListReports.
	ListUsers(after string, limit int) ([]model.User, string, error)
	// ListActiveUsersOf returns up to limit users who are not disabled and
	// whose unit and role are one of of, in order of id after the cursor
	// (ListUsers' cursor: a page token of either goes on from the same
	// user), and a cursor for the next page ("" on the last, so a page
	// is short only when it is the last). A store reads an index of
	// active users by unit and role: a page costs the users it returns,
	// not the users the service has. A cursor of another shape gives
	// model.ErrBadCursor.
	ListActiveUsersOf(of []UnitRole, after string, limit int) ([]model.User, string, error)
	// CountUsers returns how many users exist, disabled ones included.
	CountUsers() (int, error)
	// Token returns the token with that id, or model.ErrNotFound.
	Token(id string) (model.Token, error)
	// TokensOfUser returns the user's tokens in order of id.
	TokensOfUser(userID string) ([]model.Token, error)
	// TokensOfUserPage returns up to limit of the user's tokens that keep
	// accepts (nil keeps all), in order of id after the cursor, and a
	// cursor for the next page ("" when there is none). A page ends short,
	// even empty, with a cursor after it has passed over
	// storekey.MaxSkipped tokens keep refuses (a user's console sessions
	// among their API tokens). A cursor of another shape gives
	// model.ErrBadCursor.
	TokensOfUserPage(userID, after string, limit int, keep func(model.Token) bool) ([]model.Token, string, error)
	// PoliceUnit returns the police unit with that id, or model.ErrNotFound.
	PoliceUnit(id string) (model.PoliceUnit, error)
	// ListPoliceUnits returns every police unit in order of id.
	ListPoliceUnits() ([]model.PoliceUnit, error)
	// ListPoliceUnitsPage returns up to limit police units in order of id,
	// after the cursor, and a cursor for the next page as ListUsers.
	ListPoliceUnitsPage(after string, limit int) ([]model.PoliceUnit, string, error)
}

// IdentityWriter writes users, tokens and police units.
type IdentityWriter interface {
	// CreateUser stores a new user; model.ErrAlreadyExists if the id is taken.
	CreateUser(u model.User) error
	// UpdateUser replaces a stored user; model.ErrNotFound if there is none.
	UpdateUser(u model.User) error
	// CreateToken stores a new token; model.ErrAlreadyExists if the id is
	// taken, model.ErrNotFound if its user does not exist.
	CreateToken(t model.Token) error
	// UpdateToken replaces a stored token; model.ErrNotFound if there is
	// none. The user cannot change.
	UpdateToken(t model.Token) error
	// DeleteToken removes a token (a console session or set-password link
	// long ended: identity prunes them); model.ErrNotFound if there is
	// none. It is gone from Token and the user's tokens alike.
	DeleteToken(id string) error
	// CreatePoliceUnit stores a new police unit; model.ErrAlreadyExists if
	// the id is taken.
	CreatePoliceUnit(p model.PoliceUnit) error
}

// AuditReader reads the sealed audit chain.
type AuditReader interface {
	// AuditHead returns the seq and hash of the last audit event, or 0 and
	// nil when the log is empty.
	AuditHead() (seq uint64, hash []byte, err error)
	// AuditEvents yields the stored audit events in order of seq from seq
	// from (1 for all), as they are stored, for verification; a record that
	// cannot be decoded is yielded as an error and ends the sequence. The
	// sequence is valid only inside its transaction.
	AuditEvents(from uint64) iter.Seq2[audit.Event, error]
	// ListAuditEvents returns up to q.Limit events matching every set
	// field of q, newest first, and a cursor for the next page. With a case
	// or an actor it reads an index instead of the whole log, newest seq
	// first. With a time range and neither, it reads the index by time
	// once that is complete (IndexAuditByTime), newest time first and the
	// higher seq first within an instant; until then it walks the log,
	// newest seq first.
	ListAuditEvents(q AuditQuery) ([]audit.Event, string, error)
	// AuditIndexedByTime reports whether the index of the log by time is
	// complete (IndexAuditByTime), so that a store which needs no entries
	// is not written to find it out.
	AuditIndexedByTime() (bool, error)
	// AuditIndexGap returns the position in events of the first one that
	// an index ListAuditEvents reads lacks the entry of (by case for an
	// event with a case, by actor for one with an actor, by time once that
	// index is complete), and the index, in words ("the index by case"):
	// the listing through it would leave the event out. It returns -1
	// when every event has its entries. A store that lists without
	// indexes has none to miss; the log's last events whose entries wait
	// for Store.IndexAuditEvents are not missing them.
	AuditIndexGap(events []audit.Event) (at int, index string, err error)
}

// AuditWriter appends to the audit chain.
type AuditWriter interface {
	// AppendAudit seals events onto the end of the audit chain (from the
	// stored head, inside this transaction), stores them with their index
	// entries and the new head, and returns them as sealed.
	AppendAudit(events ...audit.Event) ([]audit.Event, error)
	// IndexAuditByTime gives up to limit events stored before the index
	// of the log by time existed their entries in it, from where the last
	// call stopped (AppendAudit writes the entries of new events), and
	// records the index complete once every event has its entry. indexed
	// is how many events it walked; done reports that the index is
	// complete (a store created with the index is, and walks none).
	IndexAuditByTime(limit int) (indexed int, done bool, err error)
}

// OutboxReader reads the notification outbox and its delivery cursors.
type OutboxReader interface {
	// Notifications returns up to limit outbox entries with a seq greater
	// than after, oldest first.
	Notifications(after uint64, limit int) ([]model.Notification, error)
	// OutboxHead returns the seq of the last outbox entry, 0 when empty.
	OutboxHead() (uint64, error)
	// OutboxTail returns the seq of the oldest outbox entry kept, 0 when
	// empty: every seq from it to OutboxHead is kept, those below it were
	// pruned (PruneNotifications) or never written.
	OutboxTail() (uint64, error)
	// Cursor returns a named delivery cursor (a webhook's last delivered
	// outbox seq), 0 when never set.
	Cursor(name string) (uint64, error)
}

// OutboxWriter appends to the outbox and moves delivery cursors.
type OutboxWriter interface {
	// AppendNotifications appends entries to the outbox, assigning each
	// the next seq (from 1), and returns them.
	AppendNotifications(ns ...model.Notification) ([]model.Notification, error)
	// PruneNotifications removes the oldest outbox entries, up to limit of
	// them (limit must be positive), none with a seq above through, and
	// never the last entry, so that OutboxHead and the seqs
	// AppendNotifications assigns go on as before. It returns how many it
	// removed.
	PruneNotifications(through uint64, limit int) (int, error)
	// PutCursor stores a named delivery cursor.
	PutCursor(name string, seq uint64) error
}

// IdempotencyReader reads the records that make retried requests safe.
type IdempotencyReader interface {
	// Idempotency returns the record stored under key, or model.ErrNotFound.
	Idempotency(key string) (model.IdempotencyRecord, error)
}

// IdempotencyWriter writes and expires idempotency records.
type IdempotencyWriter interface {
	// PutIdempotency stores an idempotency record. It returns
	// model.ErrAlreadyExists if the key is taken.
	PutIdempotency(r model.IdempotencyRecord) error
	// DeleteIdempotencyBefore deletes up to limit (which must be positive)
	// idempotency records whose CreateTime is strictly before before,
	// oldest first, and returns how many it deleted; fewer than limit
	// means none older is left. It reads an index by CreateTime, so its
	// cost is proportional to what it deletes. A CreateTime before 1970
	// counts as 1970.
	DeleteIdempotencyBefore(before time.Time, limit int) (int, error)
}

// KeyReader reads the wrapped data keys that seal confidential fields.
type KeyReader interface {
	// DataKey returns the wrapped data key with that id, or
	// model.ErrNotFound.
	DataKey(id string) (keys.WrappedKey, error)
	// ListDataKeys returns up to limit data keys in order of id, after the
	// cursor ("" for the start), and a cursor for the next page ("" at the
	// end). Key rotation walks them in pages.
	ListDataKeys(after string, limit int) ([]DataKey, string, error)
	// DataKeyPerMaster returns one data key (the first by id) of every
	// master key that wraps a data key, in order of master id. It reads
	// one key per master, however many data keys there are: the check of
	// the master key at start must not grow with the database.
	DataKeyPerMaster() ([]DataKey, error)
}

// KeyWriter writes wrapped data keys.
type KeyWriter interface {
	// PutDataKey stores or replaces a wrapped data key.
	PutDataKey(id string, w keys.WrappedKey) error
}

// Prefetcher is told what a transaction is about to read, so that a store
// whose reads are network round trips (etcd) fetches it all in one
// instead of one round trip a read.
type Prefetcher interface {
	// Prefetch is a hint and nothing more: the reads it names answer the
	// same without it, a store that reads memory (a bbolt file) ignores
	// it, and it never fails (a store that could not fetch reads as it
	// would have).
	Prefetch(p Prefetch)
}

// Prefetch names the reads a transaction is about to make. A search
// makes them in three steps, each named once its ids are known: the
// tokens of a tier of its query, the tie-breaking tokens among the cases
// found, the cases it ranked first.
type Prefetch struct {
	// CaseIDs: CaseByID of each.
	CaseIDs []uint64
	// Tokens: CasesWithToken(token, TokenLimit) of each.
	Tokens     [][]byte
	TokenLimit int
	// AmongTokens: CasesWithTokenAmong(token, AmongCaseIDs) of each.
	AmongTokens  [][]byte
	AmongCaseIDs []uint64
}

// SearchIndexReader reads the blind search index (internal/domain/search):
// for each case, the keyed tokens of its normalised names, dates, phones
// and communes, and for each token the cases that carry it. Tokens are
// opaque bytes to storage; no plain value is ever given to it.
type SearchIndexReader interface {
	// CasesWithToken returns the ids of up to limit (which must be
	// positive) cases indexed under token, newest (highest id) first. It
	// reads one prefix of the index from its end, so its cost grows with
	// the matches up to limit, not with the store: a search reads a
	// token that thousands of cases share only as far as its newest.
	CasesWithToken(token []byte, limit int) ([]uint64, error)
	// CasesWithTokenInScopes is CasesWithToken of the cases that carry at
	// least one of scopes (access.ScopeKeys) alone: the newest limit of
	// them, newest first. It walks the token's postings and the scopes'
	// entries in the scope index together, each seeking past what the
	// other skips, so its cost grows with the smaller of the two, not
	// with the cases of the token out of those scopes. held, as
	// CaseQuery.HeldBy, keeps the cases those units hold as well, walked
	// in the index of cases by unit beside the scope entries: a social
	// work centre's supervisor searches the cases the city holds, not
	// every case the city handled (access.Policy.SearchScope).
	CasesWithTokenInScopes(token []byte, scopes []string, held []units.Key, limit int) ([]uint64, error)
	// CasesWithTokenAmong returns those of caseIDs (given in ascending
	// order) that are indexed under token, in the same order: one look-up
	// each, whatever the token's number of cases.
	CasesWithTokenAmong(token []byte, caseIDs []uint64) ([]uint64, error)
	// SearchEntry returns the index entry of a case, or model.ErrNotFound
	// when the case has none.
	SearchEntry(caseID uint64) (SearchEntry, error)
	// ListSearchEntries returns up to limit (which must be positive)
	// entries in order of case id, those after the case id after (0 for
	// the start), and the case id to pass for the next page (0 at the
	// end). A rebuild of the index walks them in pages.
	ListSearchEntries(after uint64, limit int) ([]SearchEntry, uint64, error)
	// SearchPending returns the ids of up to limit (which must be
	// positive) cases marked by MarkSearchPending and not indexed since,
	// in order of id, those after the case id after (0 for the start):
	// what a crash left between a write and its index entry. Its cost
	// grows with the marked cases, not with the store.
	SearchPending(after uint64, limit int) ([]uint64, error)
	// SearchIndexedUnder returns the id of the master key under whose
	// index key every case has its entry, pending ones aside (as
	// SetSearchIndexedUnder recorded it), or "" when none was recorded.
	SearchIndexedUnder() (string, error)
}

// SearchIndexWriter writes the blind search index.
type SearchIndexWriter interface {
	// PutSearchEntry replaces the index entry of e.CaseID, in the same
	// transaction indexing the case under each of e's tokens and no longer
	// under the old entry's others. It returns model.ErrNotFound if the
	// case does not exist. Tokens must be of one length,
	// search.TokenSize.
	// PutSearchEntry also clears the case's MarkSearchPending mark: the
	// entry is made from the case as the transaction sees it.
	PutSearchEntry(e SearchEntry) error
	// MarkSearchPending marks a case whose entry is yet to be written (or
	// rewritten) after the transaction that changed it: one small key,
	// so that a crash before the entry is written loses nothing. It
	// returns model.ErrNotFound if the case does not exist.
	MarkSearchPending(caseID uint64) error
	// SetSearchIndexedUnder records that every case has its entry under
	// the index key of master keyID, pending ones aside.
	SetSearchIndexedUnder(keyID string) error
}

// SearchEntry is what the search index holds of a case: its tokens, and
// the id of the master key whose index key made them with the index's
// format (search.EntryKeyID), so that a rotation, or a new format, knows
// which cases it has yet to index again.
type SearchEntry struct {
	CaseID uint64
	KeyID  string
	Tokens [][]byte // sorted, distinct
}

// SearchTokenSize is the length of every token (search.TokenSize): storage
// keys its postings by it, fixed width. It was 16 up to boltstore's
// schema version 7.
const SearchTokenSize = 8

// DataKey is a wrapped data key and its id.
type DataKey struct {
	ID      string
	Wrapped keys.WrappedKey
}

// AuditQuery selects audit events.
type AuditQuery struct {
	Case  string    // "cases/{number}": events whose Case is this one
	Actor string    // user id
	From  time.Time // inclusive
	To    time.Time // exclusive
	// Action, if set, keeps the events of this action only; no index
	// holds them by action, so it filters within the index the others
	// choose (a page passes over at most storekey.MaxSkipped others).
	Action string
	After  string // cursor from a previous page
	Limit  int    // must be positive
}

// ReportQuery selects reports.
type ReportQuery struct {
	CallType model.CallType // 0 for any
	// TakenBy, if set, reads only the reports that user recorded, through
	// an index.
	TakenBy string
	// Scopes, if not nil and without TakenBy, reads only the reports that
	// carry one of these scope keys (access.ReportScopeKeys), through an
	// index; empty reads none. A cursor is the last report's id, valid
	// whether or not Scopes is set. The keys are not checked again on each
	// report: callers pass Match too.
	Scopes []string
	// Match, if set, keeps only the reports for which it returns true (the
	// caller's scope); the others are skipped as if absent.
	Match func(model.StoredReport) bool
	After string // cursor from a previous page
	Limit int    // must be positive
}

// CaseQuery selects cases.
type CaseQuery struct {
	ResponsibleUnit units.Key        // zero for any
	Status          model.CaseStatus // 0 for any
	// Scopes, if not nil, keeps only the cases that carry at least one of
	// these scope keys (access.ScopeKeys); empty keeps none. The list then
	// reads them through the scope index, so that a page never reads the
	// cases of a unit out of the caller's scope, unless the unit named is
	// wholly in it (storekey.UnitInScopes: its own index then). A
	// cursor is the last case's id, so it stays valid whether or not
	// Scopes is set.
	Scopes []string
	// HeldBy, with Scopes, keeps the cases these units hold
	// (ResponsibleUnit) as well, read through the index of cases by unit
	// (access.Policy.ListScope): a social work centre's supervisor sees
	// the cases the city holds, which no scope key singles out, since
	// the city stays a handler of every case escalated to it.
	HeldBy []units.Key
	// Match, if set, keeps only the cases for which it returns true (the
	// caller's scope); the others are skipped as if absent. A store calls
	// it on every case the list reads, before its own check of Scopes and
	// HeldBy, so that its calls count what a page read (the tests of
	// O(page) lists count them).
	Match func(model.Case) bool
	// Filter, if set, keeps only the cases for which it returns true; the
	// others are left out as the unit and status filters leave theirs
	// (they count toward storekey.MaxSkipped, which bounds a page).
	Filter func(model.Case) bool
	After  string // cursor from a previous page
	Limit  int    // must be positive
}

// QueueQuery selects the cases of work queues: the entries
// (access.QueueEntry) of that queue kind under any of Keys, merged in
// order of due time, each case once.
type QueueQuery struct {
	Queue access.Queue
	// Also are more queues of the same keys, their entries merged with
	// Queue's in one order of due time; a case due at the same time in
	// several of them comes once.
	Also []access.Queue
	// Keys are the entries' keys: the unit's name, or for QueueNone the
	// principal's scope keys. Empty selects nothing.
	Keys []string
	// Until, if set, ends the list before the first case due at or after
	// it.
	Until time.Time
	// Match, if set, keeps only the cases for which it returns true (the
	// caller's scope); the others are skipped as if absent.
	Match func(model.Case) bool
	// Filter, if set, keeps only the cases for which it returns true (the
	// request's filters, as due_before): a page ends short, with a cursor,
	// after it has passed over storekey.MaxSkipped cases Filter leaves
	// out, never for those Match refuses.
	Filter func(model.Case) bool
	After  string // cursor from a previous page
	Limit  int    // must be positive
}
