package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage/kv"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// The scope and queue indexes (schema version 4) turn every list of cases
// into prefix scans: case_scope and case_queue hold the entries
// storekey.CaseIndexKeys gives, report_scope those of
// storekey.ReportIndexKeys.

// putCaseIndexes writes c's scope and queue entries and deletes those of
// prev (nil for a new case) that c no longer has.
func (t *tx) putCaseIndexes(prev *model.Case, c model.Case) error {
	scope, queue, err := storekey.CaseIndexKeys(c)
	if err != nil {
		return err
	}
	var oldScope, oldQueue [][]byte
	if prev != nil {
		if oldScope, oldQueue, err = storekey.CaseIndexKeys(*prev); err != nil {
			// An entry the old case could not have had is not there to delete.
			oldScope, oldQueue = nil, nil
		}
	}
	if err := t.syncEntries(t.keys(bucketCaseScope), oldScope, scope); err != nil {
		return fmt.Errorf("%s: %w", bucketCaseScope, err)
	}
	if err := t.syncEntries(t.keys(bucketCaseQueue), oldQueue, queue); err != nil {
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

// listCasesInScope serves ListCases with scope keys, a unit named or not:
// the merge of those keys' entries, newest first.
func (t *tx) listCasesInScope(q datastore.CaseQuery, take func(id []byte, take bool) error) (string, error) {
	b, byUnit := t.keys(bucketCaseScope), t.keys(bucketCasesByUnit)
	if b == nil || byUnit == nil {
		return "", errNoIndex
	}
	// The units held (q.HeldBy) are walked in the index of cases by
	// unit, whose entries end in the case's key as the scope index's do.
	scopes, held := storekey.ListScopePrefixes(q.Scopes, q.HeldBy)
	open := func(i int) storekey.Cursor {
		if i < len(scopes) {
			return b.Cursor()
		}
		return byUnit.Cursor()
	}
	return storekey.ScanMergedOver(open, slices.Concat(scopes, held), storekey.ScopeSuffixLen, true, q.After, q.Limit, take)
}

// ListQueue merges the entries of q.Keys in q.Queue by due time.
func (t *tx) ListQueue(q datastore.QueueQuery) ([]model.Case, string, error) {
	b := t.keys(bucketCaseQueue)
	if b == nil {
		return nil, "", errNoIndex
	}
	return storekey.ListQueue(cursorOf(b), q, func(id uint64) (model.Case, error) { return t.caseByKey(u64(id)) })
}

// QueueCaseIDs reads the queue index ListQueue reads, and no case.
func (t *tx) QueueCaseIDs(q datastore.QueueQuery) ([]uint64, string, error) {
	b := t.keys(bucketCaseQueue)
	if b == nil {
		return nil, "", errNoIndex
	}
	return storekey.QueueCaseIDs(cursorOf(b), q)
}

// cursorOf opens cursors over b, one for each prefix storekey.ScanMerged
// walks.
func cursorOf(b *keyspace) func() storekey.Cursor {
	return func() storekey.Cursor { return b.Cursor() }
}

// A report's entries in report_scope hold its case's scope keys while its
// CaseNumber names the case: CreateReport and UpdateReport read the case,
// and UpdateCase moves the entries of the reports linked to it when its
// keys change.

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

// putReportIndex writes r's scope entries and deletes those of prev (nil
// for a new report) that r no longer has; c is r's case (reportCase).
func (t *tx) putReportIndex(rk []byte, prev *model.StoredReport, r model.StoredReport, c *model.Case) error {
	keys, err := storekey.ReportIndexKeys(rk, r, c)
	if err != nil {
		return err
	}
	var old [][]byte
	if prev != nil {
		pc, err := t.reportCase(*prev)
		if err != nil {
			return err
		}
		if old, err = storekey.ReportIndexKeys(rk, *prev, pc); err != nil {
			old = nil // entries it could not have had are not there
		}
	}
	return t.syncEntries(t.keys(bucketReportScope), old, keys)
}

// moveReportEntries follows a change of a case's scope keys in the
// entries of the reports linked to it.
func (t *tx) moveReportEntries(prev, c model.Case) error {
	before, after := access.ScopeKeys(prev), access.ScopeKeys(c)
	if slices.Equal(before, after) && slices.Equal(prev.ReportIDs, c.ReportIDs) {
		return nil
	}
	b := t.keys(bucketReportScope)
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
			old = append(old, storekey.ReportScopeKey(k, rk))
		}
		for _, k := range after {
			keys = append(keys, storekey.ReportScopeKey(k, rk))
		}
		if err := t.syncEntries(b, old, keys); err != nil {
			return err
		}
	}
	return nil
}

// entrySetter is where index entries go: a keyspace of the index bucket,
// or a bucket of its own (the search index).
type entrySetter interface {
	Get(k []byte) []byte
	Put(k, v []byte) error
	Delete(k []byte) error
}

// syncEntries deletes the keys of old that are not in keys, and puts keys.
func (t *tx) syncEntries(b entrySetter, old, keys [][]byte) error {
	for _, k := range old {
		if !slices.ContainsFunc(keys, func(n []byte) bool { return bytes.Equal(n, k) }) {
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("delete index entry: %w", err)
			}
		}
	}
	for _, k := range keys {
		had := slices.ContainsFunc(old, func(o []byte) bool { return bytes.Equal(o, k) })
		if err := t.putEntry(b, k, had); err != nil {
			return fmt.Errorf("put index entry: %w", err)
		}
	}
	return nil
}

// putEntry puts an index entry (a key to empty) that may be stored
// already: a write puts every entry of its record, so that an update
// cannot leave one out. bbolt copies the leaf of every key put, the same
// value or not, and the branch pages above it, at the commit: a process
// step that leaves a case's scope as it was rewrote a dozen pages of
// entries it did not change (TestUnchangedEntriesWriteNoPage). Where a
// read costs nothing (a bbolt file's, from its map), an entry stored
// already is left alone; an engine whose reads are round trips
// (kv.Prefetcher: etcd) gets the put, as before, which costs it less than
// a read. An entry put earlier in the same transaction reads as missing
// (bbolt keeps the nil value put), and is put again: the same entry.
//
// stored says whether the record had the entry before this write. Only
// then can it be there: an entry of a new record, or one its record did
// not have, is put without the read, which would miss (in an intact index
// no entry stands for no record; were one there, the put writes it as it
// was). Every report and new case paid a read for each of its entries.
func (t *tx) putEntry(b entrySetter, k []byte, stored bool) error {
	if !stored {
		return b.Put(k, nil)
	}
	if _, remote := t.kt.(kv.Prefetcher); !remote && b.Get(k) != nil {
		return nil
	}
	return b.Put(k, nil)
}

// CasesWithTokenInScopes walks the token's postings and each scope key's
// entries (and each held unit's, in the index of cases by unit) down from
// the newest, each seeking to the other's id: a case in both is found
// where they meet.
func (t *tx) CasesWithTokenInScopes(token []byte, scopes []string, held []units.Key, limit int) ([]uint64, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("cases with token in scopes: limit %d must be positive", limit)
	}
	postings, index := t.bucket(bucketSearchTokens), t.keys(bucketCaseScope)
	if postings == nil || len(token) != datastore.SearchTokenSize {
		return nil, nil // a file opened read-only before the index: nothing indexed
	}
	if index == nil {
		return nil, errNoIndex
	}
	tc := postings.Cursor()
	kv.SetFloor(tc, token)
	kv.SetCeiling(tc, prefixEnd(token))
	kv.SetKeysOnly(tc)
	walks := []idWalk{{c: tc, prefix: token}}
	for _, scope := range scopes {
		c := index.Cursor()
		prefix := storekey.StringPrefix(scope)
		c.SetFloor(prefix)
		c.SetCeiling(prefixEnd(prefix))
		kv.SetKeysOnly(c.c)
		walks = append(walks, idWalk{c: c, prefix: prefix})
	}
	// The held units' entries end in the case's key as the scope
	// index's do (storekey.ListScopePrefixes).
	_, heldPrefixes := storekey.ListScopePrefixes(nil, held)
	var byUnit *keyspace
	if len(heldPrefixes) > 0 {
		if byUnit = t.keys(bucketCasesByUnit); byUnit == nil {
			return nil, errNoIndex
		}
	}
	for _, prefix := range heldPrefixes {
		c := byUnit.Cursor()
		c.SetFloor(prefix)
		c.SetCeiling(prefixEnd(prefix))
		kv.SetKeysOnly(c.c)
		walks = append(walks, idWalk{c: c, prefix: prefix})
	}
	var out []uint64
	for at := uint64(math.MaxUint64); len(out) < limit; {
		id, ok := walks[0].atOrBelow(at)
		if !ok {
			break
		}
		// The newest entry of any scope at or below the token's case.
		in, found := uint64(0), false
		for i := range walks[1:] {
			if s, ok := walks[1+i].atOrBelow(id); ok && (!found || s > in) {
				in, found = s, true
			}
		}
		if !found {
			break
		}
		if in == id {
			out = append(out, id)
			if id == 0 {
				break
			}
			in = id - 1
		}
		at = in
	}
	return out, nil
}

// idWalk finds, under a prefix, the entry of the greatest id (the 8
// bytes after the prefix) at or below a given one.
//
// A search asks each walk for ids that only come down
// (CasesWithTokenInScopes), and most answers are the last one again or a
// few keys below it: a walk of a scope the token's cases mostly fall in
// finds each of them next to the one before. So a walk remembers what it
// was last asked and answered, and where its cursor stands (on that
// answer): asked for less, it answers the same without a read when that
// answer is still at or below, and else steps down from it a few keys
// before it seeks again, which reads from the root. The walks, a Seek a
// step, were about half the CPU of the candidates' search a CreateReport
// makes.
type idWalk struct {
	c interface {
		Seek([]byte) ([]byte, []byte)
		Prev() ([]byte, []byte)
		Last() ([]byte, []byte)
	}
	prefix []byte
	// seek is the key of the last Seek, reused: a candidates' search
	// calls atOrBelow hundreds of times, and a new key each time was a
	// fifth of the objects a 64-client CreateReport allocated. No cursor
	// keeps the key it is given (bbolt's reads it, etcd's copies it).
	seek []byte

	asked    uint64 // the id of the last call, when hasAsked
	hasAsked bool
	answer   uint64 // its answer, when found (the cursor stands on it)
	answered bool
}

// stepsBeforeSeek is how many keys a walk steps down from its last answer
// before it seeks instead.
const stepsBeforeSeek = 4

func (w *idWalk) atOrBelow(id uint64) (uint64, bool) {
	if w.hasAsked && id <= w.asked {
		if !w.answered {
			return 0, false // none at or below a greater id
		}
		if w.answer <= id {
			return w.answer, true // nothing between it and the greater id asked
		}
		w.asked = id
		for range stepsBeforeSeek {
			k, _ := w.c.Prev()
			if k == nil || !bytes.HasPrefix(k, w.prefix) {
				w.answered = false
				return 0, false
			}
			if len(k) != len(w.prefix)+8 {
				continue
			}
			if w.answer = be.Uint64(k[len(w.prefix):]); w.answer <= id {
				return w.answer, true
			}
		}
	}
	w.asked, w.hasAsked = id, true
	w.answer, w.answered = w.seekAtOrBelow(id)
	return w.answer, w.answered
}

// seekAtOrBelow is atOrBelow from the root, leaving the cursor on the
// entry found.
func (w *idWalk) seekAtOrBelow(id uint64) (uint64, bool) {
	w.seek = be.AppendUint64(append(w.seek[:0], w.prefix...), id)
	key := w.seek
	k, _ := w.c.Seek(key)
	switch {
	case k == nil:
		k, _ = w.c.Last()
	case !bytes.Equal(k, key):
		k, _ = w.c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, w.prefix); k, _ = w.c.Prev() {
		if len(k) == len(w.prefix)+8 {
			return be.Uint64(k[len(w.prefix):]), true
		}
	}
	return 0, false
}
