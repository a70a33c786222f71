package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/stats/tally"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage/kv"
	"github.com/childcase/childcase/internal/storage/storekey"
)

var be = binary.BigEndian

// Every stored record but an audit event starts with a byte that says how
// the rest is encoded. jsonRecord is the domain struct marshalled with
// encoding/json, which schema versions up to 4 wrote: a renamed Go field
// silently lost its value. protoRecord is the storage-owned message of
// proto/childcase/storage/v1 (records.go converts), written from schema
// version 5, whose migration re-encodes every record. decode reads both,
// so that Check and backup can read a file of either version.
const (
	jsonRecord  byte = 1
	protoRecord byte = 2
)

// tx is the layout's transaction, over any kv engine's (boltkv.go has
// the bbolt file's).
type tx struct {
	kt kv.Tx
	// closed is set by a store whose engine cannot tell when its
	// transaction has ended (see ended).
	closed bool
	// cells are the statistics cells a write transaction has changed,
	// decoded, by key (statKey): every report and case written changes
	// a dozen cells, mostly the same ones (the month, the day, the
	// commune, the city), so the writes a group commit shares decode and
	// encode each once, in flushCells before the commit, instead of once
	// per write. Nil until a write changes one.
	cells map[string]*tally.Tally
	// deferAuditEntries is set on a file store's read transactions
	// (Store.Batch): the events they append get their index entries
	// later (see audittail.go), and deferred keeps those events for it.
	deferAuditEntries bool
	deferred          []audit.Event
	// tailFrom caches unindexedFrom: nil until asked.
	tailFrom *uint64
	// noAuditTail is set on an open engine store's transactions (runTx):
	// an engine writes every event's entries with it, and OpenEngine
	// wrote those of a tail a file moved onto it brought, so an event
	// at the log's end without its entries is one hidden from the
	// listings, which verification must name, not one waiting.
	noAuditTail bool
}

// bucket returns a bucket of the layout, or nil when there is none.
func (t *tx) bucket(name []byte) kv.Bucket { return t.kt.Bucket(name) }

// ended reports whether the transaction has ended, so that a sequence
// consumed after it (AuditEvents) fails instead of reading a closed
// cursor.
func (t *tx) ended() bool {
	if e, ok := t.kt.(interface{ ended() bool }); ok && e.ended() {
		return true
	}
	return t.closed
}

// appendFill is how full bbolt fills the pages it splits, for the buckets
// whose new keys come after the ones they hold (a sequence, a time, a case
// number, data key ids of one kind under one master). bbolt splits at half
// a page by default, which suits random inserts; keys that only grow would
// leave every page but the last half empty for ever. A little room is left
// where a key can arrive slightly out of order (the times of concurrent
// writers, the ids of reports and cases side by side). Buckets whose keys
// grow per case (case_events) are left at the default: their inserts land
// between older keys, where full pages would split at every insert
// (TestFillPercentShrinksTheFile measures it).
//
// The index bucket holds both kinds: the audit log's entries by time (the
// last tag, so the bucket's end) and by actor are appended; those by case,
// scope and queue land between older keys. At the default, on a loaded
// database, the entries by time and by actor filled their leaves to 50
// and 52%, and the index's leaves 56% in all. At 0.7 a load of 2,000
// cases (`childcase load`, seed 1) held 13% fewer index pages, 1.2 KB a
// case less; at 0.8 fewer than at the default but more than at 0.7; at
// 0.9 or 1 the leaves split by random inserts outgrow what the appended
// ones save. A fuller leaf splits sooner, which is one more page in the
// commit that splits it. The counters' cells (stats) held 10% fewer
// pages at 0.7 in that load but more in TestFillPercentShrinksTheFile's
// workload, so they are left at the default.
var appendFill = map[string]float64{
	string(bucketReports):           0.95,
	string(bucketCases):             0.95,
	string(bucketAudit):             1,
	string(bucketOutbox):            1,
	string(bucketIdempotencyByTime): 0.95,
	string(bucketCaseNumbers):       0.95,
	string(bucketDataKeys):          0.95,
	string(bucketDataKeysByMaster):  0.95,
	// A case's search entry is written soon after its case, so by id;
	// the entries rewritten later (a report joined, a merge) are few.
	string(bucketSearchByCase): 0.95,
	string(bucketIndex):        0.7,
}

// encode writes a domain value as its stored record.
func encode(v any) ([]byte, error) {
	m, err := toRecord(v)
	if err != nil {
		return nil, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend([]byte{protoRecord}, m)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

// decode reads a stored record of either encoding into v.
func decode(raw []byte, v any) error {
	if len(raw) == 0 {
		return fmt.Errorf("decode %T: empty record", v)
	}
	switch raw[0] {
	case jsonRecord:
		if err := json.Unmarshal(raw[1:], v); err != nil {
			return fmt.Errorf("decode %T: %w", v, err)
		}
		return nil
	case protoRecord:
		if err := fromRecord(raw[1:], v); err != nil {
			return fmt.Errorf("decode %T: %w", v, err)
		}
		return nil
	}
	return fmt.Errorf("decode %T: unknown record encoding %d", v, raw[0])
}

// decodeAs decodes a record as a T. It also spares callers the form
// "return v, decode(raw, &v)", whose result Go leaves unspecified: v may be
// read before or after the call.
func decodeAs[T any](raw []byte) (T, error) {
	var v T
	err := decode(raw, &v)
	return v, err
}

func reportKey(id string) ([]byte, error) { return storekey.ReportKey(id) }

func u32(v uint32) []byte { return storekey.U32(v) }
func u64(v uint64) []byte { return storekey.U64(v) }

func unitPrefix(k units.Key) []byte { return storekey.UnitPrefix(k) }

func (t *tx) Report(id string) (model.StoredReport, error) {
	key, err := reportKey(id)
	if err != nil {
		return model.StoredReport{}, err
	}
	return t.reportByKey(key)
}

func (t *tx) reportByKey(key []byte) (model.StoredReport, error) {
	raw := t.bucket(bucketReports).Get(key)
	if raw == nil {
		return model.StoredReport{}, fmt.Errorf("report %s: %w", uuid.UUID(key), model.ErrNotFound)
	}
	return decodeAs[model.StoredReport](raw)
}

func (t *tx) CreateReport(r model.StoredReport) error {
	key, err := reportKey(r.ID)
	if err != nil {
		return err
	}
	if err := checkID("report taker", r.TakenBy, true); err != nil {
		return err
	}
	b := t.bucket(bucketReports)
	if b.Get(key) != nil {
		return fmt.Errorf("report %s: %w", r.ID, model.ErrAlreadyExists)
	}
	// The report's case is read once, for its index entries and its
	// statistics both: intake has just written it (a new case).
	rc, err := t.reportCase(r)
	if err != nil {
		return err
	}
	if err := t.putReportIndex(key, nil, r, rc); err != nil {
		return err
	}
	if err := t.reportStats(nil, r, rc); err != nil {
		return err
	}
	return t.putReport(key, r, false)
}

// UpdateReport refuses a new taker rather than moving the report in the
// taker index: who recorded a report is a fact of the past, and the
// hotline's follow-up scope is derived from it.
func (t *tx) UpdateReport(r model.StoredReport) error {
	key, err := reportKey(r.ID)
	if err != nil {
		return err
	}
	prev, err := t.reportByKey(key)
	if err != nil {
		return fmt.Errorf("update report %s: %w", r.ID, err)
	}
	if prev.TakenBy != r.TakenBy {
		return fmt.Errorf("update report %s: the taker cannot change (stored %q, update carries %q)", r.ID, prev.TakenBy, r.TakenBy)
	}
	if prev.CallType != r.CallType {
		if err := t.keys(bucketReportsByCallType).Delete(callTypeIndexKey(prev.CallType, key)); err != nil {
			return fmt.Errorf("update report %s: %w", r.ID, err)
		}
	}
	rc, err := t.reportCase(r)
	if err != nil {
		return fmt.Errorf("update report %s: %w", r.ID, err)
	}
	if err := t.putReportIndex(key, &prev, r, rc); err != nil {
		return fmt.Errorf("update report %s: %w", r.ID, err)
	}
	if err := t.reportStats(&prev, r, rc); err != nil {
		return fmt.Errorf("update report %s: %w", r.ID, err)
	}
	return t.putReport(key, r, true)
}

func callTypeIndexKey(ct model.CallType, key []byte) []byte {
	return storekey.CallTypeIndexKey(ct, key)
}

func stringPrefix(id string) []byte { return storekey.StringPrefix(id) }

// putReport writes the record and its index entries; the entries are
// written even when they exist, so an update cannot leave one out. stored
// says whether the report was stored before (putEntry).
func (t *tx) putReport(key []byte, r model.StoredReport, stored bool) error {
	raw, err := encode(r)
	if err != nil {
		return err
	}
	if err := t.bucket(bucketReports).Put(key, raw); err != nil {
		return fmt.Errorf("put report: %w", err)
	}
	if err := t.putEntry(t.keys(bucketReportsByCallType), callTypeIndexKey(r.CallType, key), stored); err != nil {
		return fmt.Errorf("put report call type index: %w", err)
	}
	if r.TakenBy == "" {
		return nil // nothing to find it by
	}
	if err := t.putEntry(t.keys(bucketReportsByTaker), append(stringPrefix(r.TakenBy), key...), stored); err != nil {
		return fmt.Errorf("put report taker index: %w", err)
	}
	return nil
}

// ListReports reads the taker index when q names a taker (a hotline
// operator's own reports are few among many), else the call type index,
// else every report; the other conditions are checked on each record.
func (t *tx) ListReports(q datastore.ReportQuery) ([]model.StoredReport, string, error) {
	var out []model.StoredReport
	load := func(id []byte, take bool) error {
		r, err := t.reportByKey(id)
		if err != nil {
			return fmt.Errorf("index points at a missing report: %w", err)
		}
		if q.Match != nil && !q.Match(r) {
			return storekey.ErrOutOfScope
		}
		if q.CallType != 0 && r.CallType != q.CallType {
			return errSkip
		}
		if take {
			out = append(out, r)
		}
		return nil
	}
	if q.TakenBy == "" && q.Scopes != nil {
		b := t.keys(bucketReportScope)
		if b == nil {
			return nil, "", errNoIndex
		}
		next, err := storekey.ScanMerged(cursorOf(b), storekey.ScopePrefixes(q.Scopes), reportKeyLen, true, q.After, q.Limit, load)
		return out, next, err
	}
	b, prefix := t.keys(bucketReports), []byte(nil)
	switch {
	case q.TakenBy != "":
		b, prefix = t.keys(bucketReportsByTaker), stringPrefix(q.TakenBy)
	case q.CallType != 0:
		b, prefix = t.keys(bucketReportsByCallType), u32(uint32(q.CallType))
	}
	next, err := scanDesc(b, prefix, reportKeyLen, q.After, q.Limit, func(k []byte, take bool) error {
		return load(k[len(prefix):], take)
	})
	return out, next, err
}

func (t *tx) CaseByNumber(number string) (model.Case, error) {
	id := t.bucket(bucketCaseNumbers).Get([]byte(number))
	if id == nil {
		return model.Case{}, fmt.Errorf("case %s: %w", number, model.ErrNotFound)
	}
	return t.caseByKey(id)
}

func (t *tx) caseByKey(id []byte) (model.Case, error) {
	raw := t.bucket(bucketCases).Get(id)
	if raw == nil {
		return model.Case{}, fmt.Errorf("case id %x: %w", id, model.ErrNotFound)
	}
	return decodeAs[model.Case](raw)
}

func (t *tx) NextCaseSequence(year int) (uint64, error) {
	if year < 0 || year > 0xffff {
		return 0, fmt.Errorf("case sequence: year %d out of range", year)
	}
	b := t.bucket(bucketCaseSequences)
	key := be.AppendUint16(nil, uint16(year))
	var n uint64
	if raw := b.Get(key); len(raw) == 8 {
		n = be.Uint64(raw)
	}
	n++
	return n, b.Put(key, u64(n))
}

func (t *tx) CreateCase(c *model.Case) error {
	// A new case's number is the last of the bucket: on etcd, a range
	// from it to the bucket's end costs what a Get does, and its answer
	// (none) also covers the numbers of the cases that share a group
	// commit after this one, which a run ahead of the group
	// (kv.Speculate) took at the snapshot's.
	kv.Prefetch(t.kt, kv.Range{Bucket: bucketCaseNumbers, From: []byte(c.Number), Limit: 1})
	numbers := t.bucket(bucketCaseNumbers)
	if numbers.Get([]byte(c.Number)) != nil {
		return fmt.Errorf("case %s: %w", c.Number, model.ErrAlreadyExists)
	}
	id, err := t.bucket(bucketCases).NextSequence()
	if err != nil {
		return fmt.Errorf("case id: %w", err)
	}
	c.ID = id
	key := u64(id)
	if err := numbers.Put([]byte(c.Number), key); err != nil {
		return err
	}
	if err := t.putCaseIndexes(nil, *c); err != nil {
		return err
	}
	if err := t.caseStats(nil, *c); err != nil {
		return err
	}
	return t.putCase(key, *c, false)
}

func (t *tx) UpdateCase(c model.Case) error {
	key := u64(c.ID)
	prev, err := t.caseByKey(key)
	if err != nil {
		return err
	}
	if prev.Revision+1 != c.Revision {
		return fmt.Errorf("case %s: stored revision %d, update carries %d: %w", c.Number, prev.Revision, c.Revision, model.ErrConflict)
	}
	if prev.Number != c.Number {
		return fmt.Errorf("case %s: the case number cannot change", prev.Number)
	}
	if prev.ResponsibleUnit != c.ResponsibleUnit {
		if err := t.keys(bucketCasesByUnit).Delete(append(unitPrefix(prev.ResponsibleUnit), key...)); err != nil {
			return err
		}
	}
	if prev.Status != c.Status {
		if err := t.keys(bucketCasesByStatus).Delete(append(u32(uint32(prev.Status)), key...)); err != nil {
			return err
		}
	}
	if err := t.putCaseIndexes(&prev, c); err != nil {
		return err
	}
	if err := t.caseStats(&prev, c); err != nil {
		return err
	}
	return t.putCase(key, c, true)
}

// putCase writes the record and its index entries; stored says whether
// the case was stored before (putEntry).
func (t *tx) putCase(key []byte, c model.Case, stored bool) error {
	raw, err := encode(c)
	if err != nil {
		return err
	}
	if err := t.bucket(bucketCases).Put(key, raw); err != nil {
		return fmt.Errorf("put case: %w", err)
	}
	if err := t.putEntry(t.keys(bucketCasesByUnit), append(unitPrefix(c.ResponsibleUnit), key...), stored); err != nil {
		return err
	}
	return t.putEntry(t.keys(bucketCasesByStatus), append(u32(uint32(c.Status)), key...), stored)
}

func (t *tx) ListCases(q datastore.CaseQuery) ([]model.Case, string, error) {
	var out []model.Case
	load := func(id []byte, take bool) error {
		c, err := t.caseByKey(id)
		if err != nil {
			return fmt.Errorf("index points at a missing case: %w", err)
		}
		// Match sees every case the list reads, before the scope keys
		// are checked, so that a caller counting its calls counts the
		// reads: a list that read cases out of its scope (the city's
		// escalations for the social work centre) would otherwise pass
		// them over unseen and look O(page) while it is not.
		if (q.Match != nil && !q.Match(c)) || (q.Scopes != nil && !storekey.InListScope(c, q.Scopes, q.HeldBy)) {
			return storekey.ErrOutOfScope
		}
		// The filters an index read does not hold are checked here: they
		// count toward storekey.MaxSkipped, which bounds a page.
		if (!q.ResponsibleUnit.IsZero() && c.ResponsibleUnit != q.ResponsibleUnit) || (q.Status != 0 && c.Status != q.Status) ||
			(q.Filter != nil && !q.Filter(c)) {
			return errSkip
		}
		if take {
			out = append(out, c)
		}
		return nil
	}
	// A caller with scope keys reads their entries, unless the unit they
	// name is wholly theirs: the unit's own index would have a page pass
	// over every case of that unit outside the caller's scope, uncounted
	// (they never end a page: storekey.ErrOutOfScope), so a commune worker
	// naming a busy commune not theirs would read all of its cases at
	// each request; a district officer naming one of their communes reads
	// that commune's cases alone.
	if q.Scopes != nil && !storekey.UnitInListScope(q.ResponsibleUnit, q.Scopes, q.HeldBy) {
		next, err := t.listCasesInScope(q, load)
		return out, next, err
	}
	b, prefix := t.keys(bucketCases), []byte(nil)
	switch {
	case !q.ResponsibleUnit.IsZero():
		b, prefix = t.keys(bucketCasesByUnit), unitPrefix(q.ResponsibleUnit)
	case q.Status != 0:
		b, prefix = t.keys(bucketCasesByStatus), u32(uint32(q.Status))
	}
	next, err := scanDesc(b, prefix, caseKeyLen, q.After, q.Limit, func(k []byte, take bool) error {
		return load(k[len(prefix):], take)
	})
	return out, next, err
}

func (t *tx) Idempotency(key string) (model.IdempotencyRecord, error) {
	raw := t.bucket(bucketIdempotency).Get([]byte(key))
	if raw == nil {
		return model.IdempotencyRecord{}, fmt.Errorf("request %s: %w", key, model.ErrNotFound)
	}
	return decodeAs[model.IdempotencyRecord](raw)
}

func (t *tx) PutIdempotency(r model.IdempotencyRecord) error {
	b := t.bucket(bucketIdempotency)
	if b.Get([]byte(r.Key)) != nil {
		return fmt.Errorf("request %s: %w", r.Key, model.ErrAlreadyExists)
	}
	raw, err := encode(r)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(r.Key), raw); err != nil {
		return fmt.Errorf("put idempotency record: %w", err)
	}
	if err := t.bucket(bucketIdempotencyByTime).Put(idempotencyTimeKey(r.CreateTime, r.Key), nil); err != nil {
		return fmt.Errorf("put idempotency index: %w", err)
	}
	return nil
}

func idempotencyTimeKey(at time.Time, key string) []byte {
	return storekey.IdempotencyTimeKey(at, key)
}

func idempotencyNanos(at time.Time) uint64 { return storekey.IdempotencyNanos(at) }

// DeleteIdempotencyBefore walks the index by CreateTime from the oldest
// entry. The keys are gathered first and deleted after, since deleting
// under a bbolt cursor can make it skip entries.
func (t *tx) DeleteIdempotencyBefore(before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("delete idempotency records: limit %d must be positive", limit)
	}
	end := idempotencyNanos(before)
	idx := t.bucket(bucketIdempotencyByTime)
	var doomed [][]byte
	c := idx.Cursor()
	for k, _ := c.First(); k != nil && len(doomed) < limit; k, _ = c.Next() {
		if len(k) < 8 {
			continue // malformed; Check reports it
		}
		if be.Uint64(k[:8]) >= end {
			break
		}
		doomed = append(doomed, bytes.Clone(k))
	}
	recs := t.bucket(bucketIdempotency)
	for _, k := range doomed {
		if err := recs.Delete(k[8:]); err != nil {
			return 0, fmt.Errorf("delete idempotency record: %w", err)
		}
		if err := idx.Delete(k); err != nil {
			return 0, fmt.Errorf("delete idempotency index: %w", err)
		}
	}
	return len(doomed), nil
}

// errSkip, returned by a scanDesc callback, leaves the entry out of the page.
var errSkip = storekey.ErrSkip

// Lengths of the record keys that end every listed key.
const (
	reportKeyLen = storekey.ReportKeyLen
	caseKeyLen   = storekey.CaseKeyLen
	seqKeyLen    = storekey.SeqKeyLen
)

// scanDesc is storekey.ScanDesc over a bucket.
func scanDesc(b *keyspace, prefix []byte, idLen int, cursor string, limit int, fn func(k []byte, take bool) error) (string, error) {
	return storekey.ScanDesc(b.Cursor(), prefix, idLen, cursor, limit, fn)
}

func prefixEnd(p []byte) []byte { return storekey.PrefixEnd(p) }

// scanAsc is storekey.ScanAsc over a bucket.
func scanAsc(b kv.Bucket, cursor string, limit int, fn func(k, v []byte) error) (string, error) {
	return storekey.ScanAsc(b.Cursor(), cursor, limit, fn)
}

// checkID is storekey.CheckID: the stores refuse the same ids.
func checkID(what, id string, optional bool) error { return storekey.CheckID(what, id, optional) }
