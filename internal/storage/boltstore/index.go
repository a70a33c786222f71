package boltstore

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage"
)

// The scope and queue indexes (schema version 4) turn every list of cases
// into prefix scans. Their entries are pure functions of the case
// (access.ScopeKeys, access.QueueEntries), rewritten with it in the same
// transaction:
//
//	case_scope: scope key, 0x00, case id (8)             -> empty
//	case_queue: queue key, 0x00, queue (1), due (8), ^id (8) -> empty
//
// The inverted id sorts the newest case first among equal due times, and a
// case without a due time in its queue is due at math.MaxUint64, last.

// Lengths of what follows the 0x00 of an index key.
const (
	scopeSuffixLen = caseKeyLen
	queueSuffixLen = 8 + caseKeyLen // the queue byte ends the prefix
)

func caseScopeKey(scope string, id uint64) []byte {
	return be.AppendUint64(stringPrefix(scope), id)
}

func caseQueuePrefix(key string, q access.Queue) []byte {
	return append(stringPrefix(key), byte(q))
}

func caseQueueKey(e access.QueueEntry, id uint64) []byte {
	k := caseQueuePrefix(e.Key, e.Queue)
	k = be.AppendUint64(k, dueNanos(e.Due))
	return be.AppendUint64(k, ^id)
}

// dueNanos orders due times: Unix nanoseconds, held to 1970..2262 as
// idempotencyNanos does, and no due time after every other.
func dueNanos(due time.Time) uint64 {
	if due.IsZero() {
		return math.MaxUint64
	}
	return idempotencyNanos(due)
}

// caseIndexKeys returns the keys of c's entries in case_scope and
// case_queue.
func caseIndexKeys(c model.Case) (scope, queue [][]byte, err error) {
	for _, k := range access.ScopeKeys(c) {
		if err := checkID("case scope key", k, false); err != nil {
			return nil, nil, fmt.Errorf("case %s: %w", c.Number, err)
		}
		scope = append(scope, caseScopeKey(k, c.ID))
	}
	for _, e := range access.QueueEntries(c) {
		if err := checkID("case queue key", e.Key, false); err != nil {
			return nil, nil, fmt.Errorf("case %s: %w", c.Number, err)
		}
		queue = append(queue, caseQueueKey(e, c.ID))
	}
	return scope, queue, nil
}

// putCaseIndexes writes c's scope and queue entries and deletes those of
// prev (nil for a new case) that c no longer has.
func (t *tx) putCaseIndexes(prev *model.Case, c model.Case) error {
	scope, queue, err := caseIndexKeys(c)
	if err != nil {
		return err
	}
	var oldScope, oldQueue [][]byte
	if prev != nil {
		if oldScope, oldQueue, err = caseIndexKeys(*prev); err != nil {
			// An entry the old case could not have had is not there to delete.
			oldScope, oldQueue = nil, nil
		}
	}
	if err := syncEntries(t.bucket(bucketCaseScope), oldScope, scope); err != nil {
		return fmt.Errorf("%s: %w", bucketCaseScope, err)
	}
	if err := syncEntries(t.bucket(bucketCaseQueue), oldQueue, queue); err != nil {
		return fmt.Errorf("%s: %w", bucketCaseQueue, err)
	}
	// A new case's reports are stored after it (and skipped), unless a
	// report named it first.
	var before model.Case
	if prev != nil {
		before = *prev
	}
	return t.moveReportEntries(before, c)
}

// errNoIndex is returned by a list that needs an index a file opened
// read-only has not been migrated to.
var errNoIndex = errors.New("the database predates the case indexes (schema version 4): open it read-write once to migrate it")

// listCasesInScope serves ListCases without a unit but with scope keys:
// the merge of those keys' entries, newest first.
func (t *tx) listCasesInScope(q storage.CaseQuery, take func(id []byte, take bool) error) (string, error) {
	b := t.bucket(bucketCaseScope)
	if b == nil {
		return "", errNoIndex
	}
	prefixes := make([][]byte, 0, len(q.Scopes))
	for _, s := range q.Scopes {
		prefixes = append(prefixes, stringPrefix(s))
	}
	return scanMerged(b, prefixes, scopeSuffixLen, true, q.After, q.Limit, take)
}

// ListQueue merges the entries of q.Keys in q.Queue by due time.
func (t *tx) ListQueue(q storage.QueueQuery) ([]model.Case, string, error) {
	b := t.bucket(bucketCaseQueue)
	if b == nil {
		return nil, "", errNoIndex
	}
	prefixes := make([][]byte, 0, len(q.Keys))
	for _, k := range q.Keys {
		prefixes = append(prefixes, caseQueuePrefix(k, q.Queue))
	}
	var until uint64
	if !q.Until.IsZero() {
		until = dueNanos(q.Until)
	}
	var out []model.Case
	next, err := scanMerged(b, prefixes, queueSuffixLen, false, q.After, q.Limit, func(s []byte, take bool) error {
		if until != 0 && be.Uint64(s[:8]) >= until {
			return errEndScan
		}
		c, err := t.caseByKey(u64(^be.Uint64(s[8:])))
		if err != nil {
			return fmt.Errorf("queue index points at a missing case: %w", err)
		}
		if q.Match != nil && !q.Match(c) {
			return errSkip
		}
		if take {
			out = append(out, c)
		}
		return nil
	})
	return out, next, err
}

// errEndScan, returned by a scanMerged callback, ends the walk there, as if
// no key followed.
var errEndScan = errors.New("end of scan")

// scanMerged walks the keys of b under each of prefixes at once, every
// prefix followed by a suffix of suffixLen bytes, in order of suffix
// (descending if desc), each suffix once however many prefixes hold it.
// It is scanDesc over several prefixes: fn is called as there, and the
// cursor is the hex of the last suffix taken, valid for any set of
// prefixes. A page costs the entries it returns plus one cursor seek per
// prefix.
func scanMerged(b *bolt.Bucket, prefixes [][]byte, suffixLen int, desc bool, cursor string, limit int, fn func(suffix []byte, take bool) error) (string, error) {
	if limit <= 0 {
		return "", fmt.Errorf("list limit %d: must be positive", limit)
	}
	var after []byte
	if cursor != "" {
		var err error
		if after, err = hex.DecodeString(cursor); err != nil || len(after) != suffixLen {
			return "", storage.ErrBadCursor
		}
	}
	type head struct {
		c      *bolt.Cursor
		prefix []byte
		k      []byte
	}
	// settle moves h past keys of another length (a longer key sharing the
	// prefix) and marks it done when it leaves its prefix.
	settle := func(h *head, k []byte) {
		for ; k != nil && bytes.HasPrefix(k, h.prefix); k = step(h.c, desc) {
			if len(k) == len(h.prefix)+suffixLen {
				h.k = k
				return
			}
		}
		h.k = nil
	}
	heads := make([]*head, 0, len(prefixes))
	for _, p := range prefixes {
		h := &head{c: b.Cursor(), prefix: p}
		heads = append(heads, h)
		var k []byte
		switch {
		case desc && after != nil:
			k = seekBefore(h.c, append(bytes.Clone(p), after...))
		case desc:
			k = seekBefore(h.c, prefixEnd(p))
		case after != nil:
			from := append(bytes.Clone(p), after...)
			if k, _ = h.c.Seek(from); bytes.Equal(k, from) {
				k, _ = h.c.Next()
			}
		default:
			k, _ = h.c.Seek(p)
		}
		settle(h, k)
	}
	accepted := 0
	var last []byte
	for {
		var best []byte
		for _, h := range heads {
			if h.k == nil {
				continue
			}
			s := h.k[len(h.prefix):]
			if c := bytes.Compare(s, best); best == nil || (desc && c > 0) || (!desc && c < 0) {
				best = s
			}
		}
		if best == nil {
			return "", nil
		}
		suffix := bytes.Clone(best)
		for _, h := range heads {
			if h.k != nil && bytes.Equal(h.k[len(h.prefix):], suffix) {
				settle(h, step(h.c, desc))
			}
		}
		switch err := fn(suffix, accepted < limit); {
		case errors.Is(err, errSkip):
			continue
		case errors.Is(err, errEndScan):
			return "", nil
		case err != nil:
			return "", err
		}
		if accepted == limit {
			return hex.EncodeToString(last), nil
		}
		accepted++
		last = suffix
	}
}

// step moves a cursor one key on, down if desc.
func step(c *bolt.Cursor, desc bool) []byte {
	var k []byte
	if desc {
		k, _ = c.Prev()
	} else {
		k, _ = c.Next()
	}
	return k
}

// seekBefore moves c to the last key before k.
func seekBefore(c *bolt.Cursor, k []byte) []byte {
	if found, _ := c.Seek(k); found == nil {
		last, _ := c.Last()
		return last
	}
	prev, _ := c.Prev()
	return prev
}

// inScope reports whether c carries one of the scope keys.
func inScope(c model.Case, scopes []string) bool {
	for _, k := range access.ScopeKeys(c) {
		if slices.Contains(scopes, k) {
			return true
		}
	}
	return false
}

// The report scope index (schema version 4) lists reports by
// access.ReportScopeKeys, newest first:
//
//	report_scope: scope key, 0x00, report uuid (16) -> empty
//
// A report's entries hold its case's scope keys while its CaseNumber
// names the case: CreateReport and UpdateReport read the case, and
// UpdateCase moves the entries of the reports linked to it when its keys
// change.

func reportScopeKey(scope string, rk []byte) []byte {
	return append(stringPrefix(scope), rk...)
}

// reportCase returns the case r belongs to, or nil.
func (t *tx) reportCase(r model.StoredReport) (*model.Case, error) {
	if r.CaseNumber == "" {
		return nil, nil
	}
	c, err := t.CaseByNumber(r.CaseNumber)
	if errors.Is(err, model.ErrNotFound) {
		return nil, nil // the case is stored after its first report
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// reportIndexKeys returns the keys of r's entries in report_scope.
func reportIndexKeys(rk []byte, r model.StoredReport, c *model.Case) ([][]byte, error) {
	var out [][]byte
	for _, k := range access.ReportScopeKeys(r, c) {
		if err := checkID("report scope key", k, false); err != nil {
			return nil, fmt.Errorf("report %s: %w", r.ID, err)
		}
		out = append(out, reportScopeKey(k, rk))
	}
	return out, nil
}

// putReportIndex writes r's scope entries and deletes those of prev (nil
// for a new report) that r no longer has.
func (t *tx) putReportIndex(rk []byte, prev *model.StoredReport, r model.StoredReport) error {
	c, err := t.reportCase(r)
	if err != nil {
		return err
	}
	keys, err := reportIndexKeys(rk, r, c)
	if err != nil {
		return err
	}
	var old [][]byte
	if prev != nil {
		pc, err := t.reportCase(*prev)
		if err != nil {
			return err
		}
		if old, err = reportIndexKeys(rk, *prev, pc); err != nil {
			old = nil // entries it could not have had are not there
		}
	}
	return syncEntries(t.bucket(bucketReportScope), old, keys)
}

// moveReportEntries follows a change of a case's scope keys in the
// entries of the reports linked to it.
func (t *tx) moveReportEntries(prev, c model.Case) error {
	before, after := access.ScopeKeys(prev), access.ScopeKeys(c)
	if slices.Equal(before, after) && slices.Equal(prev.ReportIDs, c.ReportIDs) {
		return nil
	}
	b := t.bucket(bucketReportScope)
	for _, id := range c.ReportIDs {
		rk, err := reportKey(id)
		if err != nil {
			continue // Check reports a case listing a report that cannot exist
		}
		r, err := t.reportByKey(rk)
		if errors.Is(err, model.ErrNotFound) || (err == nil && r.CaseNumber != c.Number) {
			continue // linked later in this transaction, by UpdateReport
		}
		if err != nil {
			return err
		}
		var old, keys [][]byte
		for _, k := range before {
			old = append(old, reportScopeKey(k, rk))
		}
		for _, k := range after {
			keys = append(keys, reportScopeKey(k, rk))
		}
		if err := syncEntries(b, old, keys); err != nil {
			return err
		}
	}
	return nil
}

// syncEntries deletes the keys of old that are not in keys, and puts keys.
func syncEntries(b *bolt.Bucket, old, keys [][]byte) error {
	for _, k := range old {
		if !slices.ContainsFunc(keys, func(n []byte) bool { return bytes.Equal(n, k) }) {
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("delete index entry: %w", err)
			}
		}
	}
	for _, k := range keys {
		if err := b.Put(k, nil); err != nil {
			return fmt.Errorf("put index entry: %w", err)
		}
	}
	return nil
}
