package storekey

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/keys"
)

// The scope and queue indexes turn every list of cases into prefix scans.
// Their entries are pure functions of the case (access.ScopeKeys,
// access.QueueEntries), rewritten with it in the same transaction:
//
//	case scope:   scope key, 0x00, case id (8)                -> empty
//	case queue:   queue key, 0x00, queue (1), due (8), ^id (8) -> empty
//	report scope: scope key, 0x00, report uuid (16)            -> empty
//
// The inverted id sorts the newest case first among equal due times, and a
// case without a due time in its queue is due at math.MaxUint64, last.

// Lengths of what follows the prefix of an index key.
const (
	ScopeSuffixLen = CaseKeyLen
	QueueSuffixLen = 8 + CaseKeyLen // the queue byte ends the prefix
)

// CaseScopeKey is a case's entry under one of its scope keys.
func CaseScopeKey(scope string, id uint64) []byte {
	return be.AppendUint64(StringPrefix(scope), id)
}

// CaseQueuePrefix is the prefix of the entries of one queue of a key.
func CaseQueuePrefix(key string, q access.Queue) []byte {
	return append(StringPrefix(key), byte(q))
}

// CaseQueueKey is a case's entry in a queue.
func CaseQueueKey(e access.QueueEntry, id uint64) []byte {
	k := CaseQueuePrefix(e.Key, e.Queue)
	k = be.AppendUint64(k, dueNanos(e.Due))
	return be.AppendUint64(k, ^id)
}

// dueNanos orders due times: Unix nanoseconds, held to 1970..2262 as
// IdempotencyNanos does, and no due time after every other.
func dueNanos(due time.Time) uint64 {
	if due.IsZero() {
		return math.MaxUint64
	}
	return IdempotencyNanos(due)
}

// CaseIndexKeys returns the keys of c's scope and queue entries, or
// refuses a case whose keys a store cannot hold.
func CaseIndexKeys(c model.Case) (scope, queue [][]byte, err error) {
	for _, k := range access.ScopeKeys(c) {
		if err := CheckID("case scope key", k, false); err != nil {
			return nil, nil, fmt.Errorf("case %s: %w", c.Number, err)
		}
		scope = append(scope, CaseScopeKey(k, c.ID))
	}
	for _, e := range access.QueueEntries(c) {
		if err := CheckID("case queue key", e.Key, false); err != nil {
			return nil, nil, fmt.Errorf("case %s: %w", c.Number, err)
		}
		queue = append(queue, CaseQueueKey(e, c.ID))
	}
	return scope, queue, nil
}

// CaseHolderQueueKey is c's entry under its holder's key in the queue
// index (access.HolderQueueEntry), nil when it has none: what the
// migration to schema version 14 adds to every case.
func CaseHolderQueueKey(c model.Case) ([]byte, error) {
	e, ok := access.HolderQueueEntry(c)
	if !ok {
		return nil, nil
	}
	if err := CheckID("case queue key", e.Key, false); err != nil {
		return nil, fmt.Errorf("case %s: %w", c.Number, err)
	}
	return CaseQueueKey(e, c.ID), nil
}

// WithoutHolderEntries returns queue (CaseIndexKeys' queue entries)
// without the entries under a holder's key (access.IsHolderQueueKey), as
// a store of before schema version 14 holds them.
func WithoutHolderEntries(queue [][]byte) [][]byte {
	return slices.DeleteFunc(queue, func(k []byte) bool { return access.IsHolderQueueKey(string(k)) })
}

// InScope reports whether c carries one of the scope keys.
func InScope(c model.Case, scopes []string) bool {
	for _, k := range access.ScopeKeys(c) {
		if slices.Contains(scopes, k) {
			return true
		}
	}
	return false
}

// InListScope reports whether c is in the scope of a list
// (datastore.CaseQuery): it carries one of the scope keys, or one of the
// units held holds it.
func InListScope(c model.Case, scopes []string, held []units.Key) bool {
	return slices.Contains(held, c.ResponsibleUnit) || InScope(c, scopes)
}

// UnitInScopes reports whether every case of unit (none when it is zero)
// carries one of the scope keys, so that a list of the unit's cases by
// its own index passes over none out of those scopes.
func UnitInScopes(unit units.Key, scopes []string) bool {
	return !unit.IsZero() && slices.Contains(scopes, access.HandlerScopeKey(unit))
}

// UnitInListScope is UnitInScopes for a list that also keeps the cases
// the units held hold: every case unit holds is then in it.
func UnitInListScope(unit units.Key, scopes []string, held []units.Key) bool {
	return UnitInScopes(unit, scopes) || !unit.IsZero() && slices.Contains(held, unit)
}

// ListScopePrefixes are the prefixes a list walks (ScanMerged) for scope
// keys scopes, in the scope index, and the units held, in the index of
// cases by unit: the scopes' first, in the order of scopes.
func ListScopePrefixes(scopes []string, held []units.Key) (scopePrefixes, heldPrefixes [][]byte) {
	heldPrefixes = make([][]byte, 0, len(held))
	for _, u := range held {
		heldPrefixes = append(heldPrefixes, UnitPrefix(u))
	}
	return ScopePrefixes(scopes), heldPrefixes
}

// ReportScopeKey is a report's entry (rk is its key) under a scope key.
func ReportScopeKey(scope string, rk []byte) []byte {
	return append(StringPrefix(scope), rk...)
}

// ReportIndexKeys returns the keys of r's scope entries, c being the case
// its CaseNumber names (nil while there is none), or refuses a report
// whose keys a store cannot hold.
func ReportIndexKeys(rk []byte, r model.StoredReport, c *model.Case) ([][]byte, error) {
	var out [][]byte
	for _, k := range access.ReportScopeKeys(r, c) {
		if err := CheckID("report scope key", k, false); err != nil {
			return nil, fmt.Errorf("report %s: %w", r.ID, err)
		}
		out = append(out, ReportScopeKey(k, rk))
	}
	return out, nil
}

// ScopePrefixes are the index prefixes of scope keys.
func ScopePrefixes(scopes []string) [][]byte {
	out := make([][]byte, 0, len(scopes))
	for _, s := range scopes {
		out = append(out, StringPrefix(s))
	}
	return out
}

// ListQueue serves datastore.ReadTx.ListQueue from the queue index: open
// returns a new cursor over its keys, load reads a case by id.
func ListQueue(open func() Cursor, q datastore.QueueQuery, load func(id uint64) (model.Case, error)) ([]model.Case, string, error) {
	var out []model.Case
	next, err := scanQueue(open, q, func(id uint64, take bool) error {
		c, err := load(id)
		if err != nil {
			return fmt.Errorf("queue index points at a missing case: %w", err)
		}
		if q.Match != nil && !q.Match(c) {
			return ErrOutOfScope
		}
		if q.Filter != nil && !q.Filter(c) {
			return ErrSkip
		}
		if take {
			out = append(out, c)
		}
		return nil
	})
	return out, next, err
}

// QueueCaseIDs serves datastore.ReadTx.QueueCaseIDs from the queue index
// alone (open as for ListQueue).
func QueueCaseIDs(open func() Cursor, q datastore.QueueQuery) ([]uint64, string, error) {
	var out []uint64
	next, err := scanQueue(open, q, func(id uint64, take bool) error {
		if take {
			out = append(out, id)
		}
		return nil
	})
	return out, next, err
}

// scanQueue walks the queue index entries q selects, in ListQueue's order,
// calling fn with each entry's case id as ScanMerged calls its fn.
func scanQueue(open func() Cursor, q datastore.QueueQuery, fn func(id uint64, take bool) error) (string, error) {
	queues := append([]access.Queue{q.Queue}, q.Also...)
	prefixes := make([][]byte, 0, len(q.Keys)*len(queues))
	for _, k := range q.Keys {
		for _, queue := range queues {
			prefixes = append(prefixes, CaseQueuePrefix(k, queue))
		}
	}
	// An Until before 1970 is held to 0 (timeNanos), which every entry is
	// at or after: the list ends at once, as it must, not without a bound.
	bounded, until := !q.Until.IsZero(), dueNanos(q.Until)
	return ScanMerged(open, prefixes, QueueSuffixLen, false, q.After, q.Limit, func(s []byte, take bool) error {
		if bounded && be.Uint64(s[:8]) >= until {
			return ErrEndScan
		}
		return fn(^be.Uint64(s[8:]), take)
	})
}

// ErrEndScan, returned by a ScanMerged callback, ends the walk there, as if
// no key followed.
var ErrEndScan = errors.New("end of scan")

// ScanMerged walks the keys under each of prefixes at once (open returns a
// new cursor over them, one per prefix), every prefix followed by a suffix
// of suffixLen bytes, in order of suffix (descending if desc), each suffix
// once however many prefixes hold it. It is ScanDesc over several
// prefixes: fn is called as there, and the cursor is the hex of the last
// suffix taken, valid for any set of prefixes. A page costs the entries it
// returns, those it leaves out (at most MaxSkipped), and one cursor seek
// per prefix.
func ScanMerged(open func() Cursor, prefixes [][]byte, suffixLen int, desc bool, cursor string, limit int, fn func(suffix []byte, take bool) error) (string, error) {
	return ScanMergedOver(func(int) Cursor { return open() }, prefixes, suffixLen, desc, cursor, limit, fn)
}

// ScanMergedOver is ScanMerged over prefixes that lie in more than one
// index: open(i) returns a new cursor over the index of prefixes[i] (a
// list's scope entries and the cases a unit holds, ListScopePrefixes).
// Every prefix is followed by the same suffix, a case's key.
func ScanMergedOver(open func(i int) Cursor, prefixes [][]byte, suffixLen int, desc bool, cursor string, limit int, fn func(suffix []byte, take bool) error) (string, error) {
	if limit <= 0 {
		return "", fmt.Errorf("list limit %d: must be positive", limit)
	}
	var after []byte
	if cursor != "" {
		var err error
		if after, err = hex.DecodeString(cursor); err != nil || len(after) != suffixLen {
			return "", model.ErrBadCursor
		}
	}
	type head struct {
		c      Cursor
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
	for i, p := range prefixes {
		h := &head{c: open(i), prefix: p}
		heads = append(heads, h)
		// Each head walks its prefix only: an etcd cursor told so reads
		// (and has the member count) that prefix's keys, not every key of
		// the index beyond it, as its seek of the prefix's end (desc) or
		// start (asc) would.
		setFloor(h.c, p)
		setCeiling(h.c, p)
		var k []byte
		switch {
		case desc && after != nil:
			k = seekBefore(h.c, append(bytes.Clone(p), after...))
		case desc:
			k = seekBefore(h.c, PrefixEnd(p))
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
	pg := page{limit: limit}
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
		err := fn(suffix, pg.more())
		if errors.Is(err, ErrEndScan) {
			return "", nil
		}
		if end, next, err := pg.judge(err, suffix); end {
			return next, err
		}
	}
}

// step moves a cursor one key on, down if desc.
func step(c Cursor, desc bool) []byte {
	var k []byte
	if desc {
		k, _ = c.Prev()
	} else {
		k, _ = c.Next()
	}
	return k
}

// seekBefore moves c to the last key before k.
func seekBefore(c Cursor, k []byte) []byte {
	if found, _ := c.Seek(k); found == nil {
		last, _ := c.Last()
		return last
	}
	prev, _ := c.Prev()
	return prev
}

// FirstDataKeyPerMaster walks data key records in order of id (c over
// id -> record, decode reading a record) and returns the first key of
// each master, in order of master id: DataKeyPerMaster the slow way, for a
// store without an index by master.
func FirstDataKeyPerMaster(c Cursor, decode func([]byte) (keys.WrappedKey, error)) ([]datastore.DataKey, error) {
	first := map[string]datastore.DataKey{}
	for k, v := c.First(); k != nil; k, v = c.Next() {
		w, err := decode(v)
		if err != nil {
			return nil, fmt.Errorf("data key %q: %w", k, err)
		}
		if _, seen := first[w.MasterID]; !seen {
			first[w.MasterID] = datastore.DataKey{ID: string(k), Wrapped: w}
		}
	}
	out := make([]datastore.DataKey, 0, len(first))
	for _, m := range slices.Sorted(maps.Keys(first)) {
		out = append(out, first[m])
	}
	return out, nil
}
