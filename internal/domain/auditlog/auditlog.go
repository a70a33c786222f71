// Package auditlog records and reads the audit trail kept in storage:
// events of reads (appended before the data is returned, so no read goes
// unrecorded), failed authentications, and the queries and verification
// auditors run. Writes of case data append their events themselves, in the
// transaction that makes the change.
package auditlog

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vault"
)

// Log appends to and reads the audit trail.
type Log struct {
	store datastore.Store
	vault *vault.Vault // opens the reasons for auditors; nil leaves them sealed
}

// New returns the log kept in store.
func New(store datastore.Store) *Log { return &Log{store: store} }

// WithVault returns the log with List opening the sealed reasons of the
// events it returns. Only auditors list events.
func (l *Log) WithVault(v *vault.Vault) *Log { return &Log{store: l.store, vault: v} }

// Record appends events durably. Concurrent calls share a commit. A caller
// that fails to record a read must not return the data.
func (l *Log) Record(ctx context.Context, events ...audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	err := l.store.Batch(ctx, func(tx datastore.Tx) error {
		_, err := tx.AppendAudit(events...)
		return err
	})
	if err != nil {
		return fmt.Errorf("record audit events: %w", err)
	}
	return nil
}

// Outcome is the outcome of a read that ended with err, for its event: a
// record out of scope is recorded as one that does not exist, as the
// caller was answered.
func Outcome(err error) string {
	switch {
	case err == nil:
		return audit.OutcomeOK
	case errors.Is(err, model.ErrNotFound):
		return audit.OutcomeNotFound
	default:
		return audit.OutcomeError
	}
}

// Query selects the audit events List returns. It is the store's query,
// named here so that transport need not import the store contract.
type Query = datastore.AuditQuery

// List returns events matching q, newest first, with their reasons opened
// when the log has the vault, for the auditor p at now. An opened event no
// longer matches its hash: it is for reading, Verify checks the stored
// form.
//
// The listing is itself audited ("audit.list", on the case it was
// filtered by, its filters in the reason) before the events are returned:
// the log says who was seen doing what, and who looked is part of that.
// The page shows the log as it was read; its own event comes after.
func (l *Log) List(ctx context.Context, p access.Principal, now time.Time, q Query) (events []audit.Event, next string, err error) {
	// The events of reads may be committed before their index entries:
	// the listing has them written first, so that it sees every event.
	err = l.store.IndexAuditEvents(ctx)
	if err == nil {
		err = l.store.View(ctx, func(tx datastore.ReadTx) error {
			events, next, err = tx.ListAuditEvents(q)
			if err != nil || l.vault == nil {
				return err
			}
			for i := range events {
				if events[i].Reason, err = l.vault.OpenReason(tx, events[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	e := p.Event(now, "audit.list", auditResource, q.Case, Outcome(err))
	e.Reason = describe(q)
	if rerr := l.Record(ctx, e); rerr != nil {
		return nil, "", rerr
	}
	return events, next, err
}

// auditResource names the audit log in its own events.
const auditResource = "auditEvents"

// describe says what a listing asked for, in the API's names, for its
// audit event: ids, case names and times, never case content.
func describe(q Query) string {
	var parts []string
	if q.Case != "" {
		parts = append(parts, "case="+q.Case)
	}
	if q.Actor != "" {
		parts = append(parts, "actor=users/"+q.Actor)
	}
	if q.Action != "" {
		parts = append(parts, "action="+q.Action)
	}
	if !q.From.IsZero() {
		parts = append(parts, "start_time="+q.From.UTC().Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		parts = append(parts, "end_time="+q.To.UTC().Format(time.RFC3339Nano))
	}
	if q.After != "" {
		parts = append(parts, "a later page")
	}
	if len(parts) == 0 {
		return "every event"
	}
	return strings.Join(parts, "; ")
}

// Result is the outcome of a verification.
type Result struct {
	Checked  uint64         // events whose links held
	HeadSeq  uint64         // the stored head
	HeadHash []byte         // the stored head's hash: with HeadSeq, what an auditor notes (see Head)
	Problem  *audit.Problem // the first broken link, or nil when the chain is whole
}

// Head is a head of the log as a verification answered it: the seq of its
// last event and that event's hash. The chain and the head stored beside
// it cannot show events cut from the end by someone who also set the
// stored head back (the service then appends on, and the seq grows
// again); a head the auditor noted earlier, kept out of the database's
// reach, can: the log must still hold that event, with that hash.
type Head struct {
	Seq  uint64
	Hash []byte
}

// String is the head as the auditor notes it and ParseHead reads it:
// "seq:hash", the hash in hex.
func (h Head) String() string {
	return fmt.Sprintf("%d:%x", h.Seq, h.Hash)
}

// ParseHead reads a head noted as Head.String writes it.
func ParseHead(s string) (Head, error) {
	seqText, hashText, ok := strings.Cut(s, ":")
	if !ok {
		return Head{}, fmt.Errorf("%q is not SEQ:HASH, the head seq and hash a verification printed", s)
	}
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil || seq == 0 {
		return Head{}, fmt.Errorf("%q: the seq %q is not a number from 1 up", s, seqText)
	}
	hash, err := hex.DecodeString(hashText)
	if err != nil || len(hash) != audit.HashSize {
		return Head{}, fmt.Errorf("%q: the hash %q is not %d hex digits", s, hashText, 2*audit.HashSize)
	}
	return Head{Seq: seq, Hash: hash}, nil
}

// Verify checks the whole chain against the stored head, in one snapshot,
// and reports the first broken link, or the first event an index of the
// listings lacks (indexGaps), whichever comes first in the log. It writes nothing: the offline
// command runs it on the file of a stopped server.
func (l *Log) Verify(ctx context.Context) (Result, error) {
	return l.VerifyNoted(ctx, Head{})
}

// VerifyNoted is Verify that also checks the log against a head noted
// earlier (none when noted.Seq is 0): a log that ends before noted.Seq
// lost its newest events, one that goes on past noted.Seq without that
// event lost it, and one whose event noted.Seq has another hash was
// rewritten there or before. Each is reported as a broken link, at
// the first event cut or at noted.Seq, unless the chain breaks before it.
func (l *Log) VerifyNoted(ctx context.Context, noted Head) (Result, error) {
	return l.verifyTail(ctx, math.MaxUint64, noted) // a tail as long as any log
}

// VerifyFor is VerifyNoted for the auditor p at now, through the service:
// the verification is on the record ("audit.verify", naming the noted
// head when there is one) before the chain is read, so the chain it
// checks ends with its own event. When the event cannot be recorded the
// verification fails, unless the chain is broken: a log that takes no
// more events because it was tampered with (an event stored beyond its
// head) must still be reported, not hidden behind an error.
func (l *Log) VerifyFor(ctx context.Context, p access.Principal, now time.Time, noted Head) (Result, error) {
	e := p.Event(now, "audit.verify", auditResource, "", audit.OutcomeOK)
	if noted.Seq != 0 {
		e.Reason = fmt.Sprintf("against the head noted at seq %d, hash %x", noted.Seq, noted.Hash)
	}
	recordErr := l.Record(ctx, e)
	res, err := l.VerifyNoted(ctx, noted)
	switch {
	case err != nil:
		return Result{}, err
	case recordErr != nil && res.Problem == nil:
		return Result{}, recordErr
	}
	return res, nil
}

// Head reads the stored head of the log, in a snapshot of its own.
func (l *Log) Head(ctx context.Context) (Head, error) {
	var h Head
	err := l.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		h.Seq, h.Hash, err = tx.AuditHead()
		return err
	})
	if err != nil {
		return Head{}, fmt.Errorf("audit head: %w", err)
	}
	return h, nil
}

// VerifyTail checks the newest n events (all of them when there are no
// more) against the stored head, in one snapshot: a bounded check for the
// service's start. Result.Checked counts the events of the tail that held.
func (l *Log) VerifyTail(ctx context.Context, n uint64) (Result, error) {
	return l.verifyTail(ctx, n, Head{})
}

func (l *Log) verifyTail(ctx context.Context, n uint64, noted Head) (Result, error) {
	var res Result
	err := l.store.View(ctx, func(tx datastore.ReadTx) error {
		seq, hash, err := tx.AuditHead()
		if err != nil {
			return err
		}
		res.HeadSeq, res.HeadHash = seq, hash
		from := uint64(1)
		if seq > n {
			from = seq - n + 1
		}
		gaps := indexGaps{tx: tx}
		anchor := notedCheck{noted: noted}
		res.Checked, res.Problem, err = audit.VerifyTail(anchor.watch(gaps.watch(tx.AuditEvents(from))), from, seq, hash)
		if err != nil {
			return err
		}
		if err := gaps.check(); err != nil {
			return err
		}
		// The first problem in the log's order: an event hidden from a
		// listing, or a noted head the log no longer holds, before a
		// broken link is reported first; at the same seq, the broken
		// link.
		for _, p := range []*audit.Problem{gaps.problem, anchor.problem(seq)} {
			if p != nil && (res.Problem == nil || p.Seq < res.Problem.Seq) {
				res.Checked, res.Problem = p.Seq-from, p
			}
		}
		return nil
	})
	return res, err
}

// notedCheck keeps, among the events a verification walks, the hash of
// the one at the noted head's seq, to compare with the noted hash.
type notedCheck struct {
	noted Head
	found []byte // the hash of event noted.Seq, once walked
}

// watch passes events on, keeping the noted event's hash.
func (c *notedCheck) watch(events iter.Seq2[audit.Event, error]) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		for e, err := range events {
			if err == nil && c.noted.Seq != 0 && e.Seq == c.noted.Seq && c.found == nil {
				c.found = bytes.Clone(e.Hash)
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

// problem says how the log, whose stored head is headSeq, differs from
// the noted head, or nil when it holds it (or none was noted).
func (c *notedCheck) problem(headSeq uint64) *audit.Problem {
	if c.noted.Seq == 0 {
		return nil
	}
	return audit.NotedProblem(headSeq, c.noted.Seq, c.noted.Hash, c.found)
}

// indexGapBatch is how many events indexGaps looks up at once: on etcd,
// one round trip for their entries.
const indexGapBatch = 256

// indexGaps finds, among the events a verification walks, the first one
// an index of the listings lacks (datastore.AuditIndexGap). The chain
// cannot show it: the event is whole and linked, but a listing by its
// case, its actor or its time leaves it out, so an auditor asking who saw
// a case would not be shown it.
type indexGaps struct {
	tx      datastore.ReadTx
	pending []audit.Event
	problem *audit.Problem
	err     error
}

// watch passes events on, keeping each to be checked, a batch at a time.
func (g *indexGaps) watch(events iter.Seq2[audit.Event, error]) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		for e, err := range events {
			if err == nil && g.problem == nil && g.err == nil {
				g.pending = append(g.pending, e)
				if len(g.pending) == indexGapBatch {
					g.err = g.check()
				}
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

// check looks up the entries of the events kept since the last check.
func (g *indexGaps) check() error {
	if g.err != nil || g.problem != nil || len(g.pending) == 0 {
		g.pending = g.pending[:0]
		return g.err
	}
	at, index, err := g.tx.AuditIndexGap(g.pending)
	if err != nil {
		return fmt.Errorf("audit log: look up the index entries: %w", err)
	}
	if at >= 0 {
		g.problem = &audit.Problem{Seq: g.pending[at].Seq, Reason: "missing from " + index + ": a listing through it leaves the event out"}
	}
	g.pending = g.pending[:0]
	return nil
}

// HeadSeq returns the seq of the newest audit event, 0 when the log is
// empty: how many events were ever written, for the metrics, read from
// the stored head without walking the chain.
func (l *Log) HeadSeq(ctx context.Context) (uint64, error) {
	var seq uint64
	err := l.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		seq, _, err = tx.AuditHead()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read the audit head: %w", err)
	}
	return seq, nil
}

// indexBatch is how many events IndexByTime gives their entries per
// transaction: short enough that the appends it is serialised with wait
// little and that a commit of its entries stays well inside what an etcd
// store takes in one (10,000 operations by default), long enough that a
// log of millions takes a few thousand commits.
const indexBatch = 1000

// IndexByTime gives the events a store holds from before its index of the
// log by time their entries, a batch per transaction, until the index is
// complete or ctx ends; listings by time walk the log until then. It
// returns how many events it walked: none when the index was complete.
func (l *Log) IndexByTime(ctx context.Context) (int, error) {
	// Read first: a write transaction is refused on a full database, even
	// one that would write nothing, and most starts find the index done.
	var indexed bool
	err := l.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		indexed, err = tx.AuditIndexedByTime()
		return err
	})
	if err != nil || indexed {
		return 0, err
	}
	total, limit := 0, indexBatch
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var n int
		var done bool
		limit, err = datastore.FitBatch(limit, func(limit int) error {
			return l.store.Update(ctx, func(tx datastore.Tx) error {
				var err error
				n, done, err = tx.IndexAuditByTime(limit)
				return err
			})
		})
		if err != nil {
			return total, fmt.Errorf("index the audit log by time: %w", err)
		}
		total += n
		if done {
			return total, nil
		}
	}
}
