package boltstore

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/kv"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// migrate brings a file of an older schema version up to SchemaVersion, in
// the transaction that opens it: either the whole migration is committed
// with the new version, or nothing is.
func migrate(tx *bolt.Tx, version uint32) error {
	if version >= SchemaVersion {
		return nil
	}
	if version < 2 {
		if err := migrateIdempotencyIndex(tx); err != nil {
			return fmt.Errorf("migrate to schema version 2: %w", err)
		}
	}
	if version < 3 {
		if err := dropClearCaseAnswers(tx); err != nil {
			return fmt.Errorf("migrate to schema version 3: %w", err)
		}
		// The store has no key to seal the clear text of older cases;
		// the start does it (vault.SealClearText) and clears the mark.
		if err := tx.Bucket(bucketMeta).Put(keyClearTextPending, []byte{}); err != nil {
			return fmt.Errorf("migrate to schema version 3: %w", err)
		}
	}
	if version < 4 {
		if err := buildCaseIndexes(tx); err != nil {
			return fmt.Errorf("migrate to schema version 4: %w", err)
		}
	}
	if version < 5 {
		if err := reencodeRecords(tx); err != nil {
			return fmt.Errorf("migrate to schema version 5: %w", err)
		}
	}
	if version < 6 {
		if err := moveIndexes(tx); err != nil {
			return fmt.Errorf("migrate to schema version 6: %w", err)
		}
	}
	if version < statsRulesVersion {
		if err := alertEscalatedPolice(tx); err != nil {
			return fmt.Errorf("migrate to schema version 10: %w", err)
		}
		// Version 7 adds the counters, 9 their cells by day, and 10
		// counts a handed-over case's deadlines, escalations and
		// transfers under the units that had them and a merged case as
		// no suspected crime closed unreferred (tally.CaseEvents): each
		// builds every cell from the records.
		if err := buildStats(tx); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", max(version+1, 7), err)
		}
	}
	if version < 8 {
		if err := dropSearchIndex(tx); err != nil {
			return fmt.Errorf("migrate to schema version 8: %w", err)
		}
	}
	// Version 11 (audit events in binary) rewrites nothing: the events
	// stored before it keep their JSON, which audit.Decode reads. Nor
	// does version 13 (a working-day deadline's warning instants): the
	// deadlines stored before it keep their wall-clock warning points.
	if version < usersByUnitVersion {
		if err := buildUsersByUnit(newTx(tx)); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", usersByUnitVersion, err)
		}
	}
	if version < holderEntriesVersion {
		if err := buildHolderEntries(newTx(tx)); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", holderEntriesVersion, err)
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchemaVersion, u32(SchemaVersion))
}

// buildHolderEntries (version 13 to 14) puts, for every case with an open
// deadline, its queue entry under its holder's key
// (storekey.CaseHolderQueueKey), in the transaction of the migration, as
// buildUsersByUnit does: a crash leaves the file (or the etcd store:
// initEngine) at the older version without an entry, and the next open
// starts again. An entry already there (a file whose version a test
// lowered, or one the version-4 build just put) is put again, to the
// same empty value.
func buildHolderEntries(t *tx) error {
	cases := t.bucket(bucketCases)
	if cases == nil {
		return fmt.Errorf("bucket %s is missing", bucketCases)
	}
	ix := t.keys(bucketCaseQueue)
	if ix == nil {
		return fmt.Errorf("bucket %s is missing", bucketCaseQueue)
	}
	var entries [][]byte
	c := cases.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		cs, err := decodeAs[model.Case](v)
		if err != nil {
			return fmt.Errorf("case id %d: %w", be.Uint64(k), err)
		}
		e, err := storekey.CaseHolderQueueKey(cs)
		if err != nil {
			return err
		}
		if e != nil {
			entries = append(entries, e)
		}
	}
	slices.SortFunc(entries, bytes.Compare)
	for _, k := range entries {
		if err := ix.Put(k, nil); err != nil {
			return fmt.Errorf("put %s entry: %w", bucketCaseQueue, err)
		}
	}
	return nil
}

// buildUsersByUnit (version 11 to 12) puts every active user's entry in
// users_by_unit, in the transaction of the migration, so a crash leaves
// the file (or the etcd store: initEngine) at the older version without
// an entry, and the next open starts again. The entries are put in key
// order (see buildCaseIndexes); an entry already there (a file whose
// version a test lowered) is put again, to the same empty value.
func buildUsersByUnit(t *tx) error {
	users := t.bucket(bucketUsers)
	if users == nil {
		return fmt.Errorf("bucket %s is missing", bucketUsers)
	}
	ix := t.keys(bucketUsersByUnit)
	if ix == nil {
		return fmt.Errorf("bucket %s is missing", bucketIndex)
	}
	var entries [][]byte
	c := users.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		u, err := decodeAs[model.User](v)
		if err != nil {
			return fmt.Errorf("user %q: %w", k, err)
		}
		entries = append(entries, storekey.UserUnitKeys(u)...)
	}
	slices.SortFunc(entries, bytes.Compare)
	for _, k := range entries {
		if err := ix.Put(k, nil); err != nil {
			return fmt.Errorf("put %s entry: %w", bucketUsersByUnit, err)
		}
	}
	return nil
}

// statsRulesVersion is the schema version whose rules the statistics
// counters follow: the migration of a file of an older one builds every
// counter again from the records.
const statsRulesVersion = 10

// lastRewritingVersion is the last schema version whose migration rewrites
// records. The versions after it change only how new records are written,
// or add an index built from records in one pass (users_by_unit, version
// 12; the queue index's entries under a holder's key, version 14), so a store of it or later is brought up to date by its version
// number and that build: an etcd store (initEngine) too, which is never
// migrated record by record, in the one transaction that raises its
// version. A migration that rewrites records moves it.
const lastRewritingVersion = 10

// recordBuckets are the buckets whose values are records (encode), and the
// type each holds.
var recordBuckets = []struct {
	name     []byte
	reencode func(raw []byte) ([]byte, error)
}{
	{bucketReports, reencodeAs[model.StoredReport]},
	{bucketCases, reencodeAs[model.Case]},
	{bucketCaseEvents, reencodeAs[model.CaseEvent]},
	{bucketOutbox, reencodeAs[model.Notification]},
	{bucketIdempotency, reencodeAs[model.IdempotencyRecord]},
	{bucketUsers, reencodeAs[model.User]},
	{bucketTokens, reencodeAs[model.Token]},
	{bucketPoliceUnits, reencodeAs[model.PoliceUnit]},
	{bucketDataKeys, reencodeAs[keys.WrappedKey]},
}

func reencodeAs[T any](raw []byte) ([]byte, error) {
	v, err := decodeAs[T](raw)
	if err != nil {
		return nil, err
	}
	return encode(v)
}

// reencodeRecords (version 4 to 5) rewrites every record from JSON to its
// stored message, in the one transaction of the migration: a crash leaves
// the file at version 4, all in JSON, and the next open starts again. A
// record already in the new encoding is left as it is. Values are replaced
// under their own keys, so the pages are rewritten in key order.
func reencodeRecords(btx *bolt.Tx) error {
	for _, rb := range recordBuckets {
		b := btx.Bucket(rb.name)
		if b == nil {
			return fmt.Errorf("bucket %s is missing", rb.name)
		}
		var keys, values [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if len(v) > 0 && v[0] == protoRecord {
				return nil
			}
			nv, err := rb.reencode(v)
			if err != nil {
				return fmt.Errorf("%s %x: %w", rb.name, k, err)
			}
			keys, values = append(keys, bytes.Clone(k)), append(values, nv)
			return nil
		})
		if err != nil {
			return err
		}
		for i, k := range keys {
			if err := b.Put(k, values[i]); err != nil {
				return fmt.Errorf("%s %x: %w", rb.name, k, err)
			}
		}
	}
	return nil
}

// buildCaseIndexes (version 3 to 4) adds the case scope and queue indexes
// and the report scope index, and fills them from every case and report. The entries are gathered and put in
// key order: bbolt splits nodes only at commit, so entries put in random
// order into a new bucket would each shift all those before them (a
// quadratic build), while entries in order are appended. Gathering holds
// every entry's key in memory, about as much as the dirty pages of the
// new buckets that bbolt holds until the commit anyway.
func buildCaseIndexes(btx *bolt.Tx) error {
	cases := btx.Bucket(bucketCases)
	if cases == nil {
		return fmt.Errorf("bucket %s is missing", bucketCases)
	}
	var scope, queue [][]byte
	err := cases.ForEach(func(k, v []byte) error {
		c, err := decodeAs[model.Case](v)
		if err != nil {
			return fmt.Errorf("case %s: %w", caseString(k), err)
		}
		s, q, err := storekey.CaseIndexKeys(c)
		scope, queue = append(scope, s...), append(queue, q...)
		return err
	})
	if err != nil {
		return err
	}
	reports := btx.Bucket(bucketReports)
	if reports == nil {
		return fmt.Errorf("bucket %s is missing", bucketReports)
	}
	var reportScope [][]byte
	t := newTx(btx)
	err = reports.ForEach(func(k, v []byte) error {
		r, err := decodeAs[model.StoredReport](v)
		if err != nil {
			return fmt.Errorf("report %s: %w", reportString(k), err)
		}
		c, err := t.reportCase(r)
		if err != nil {
			return err
		}
		keys, err := storekey.ReportIndexKeys(k, r, c)
		reportScope = append(reportScope, keys...)
		return err
	})
	if err != nil {
		return err
	}
	for _, ix := range []struct {
		name []byte
		keys [][]byte
	}{{bucketCaseScope, scope}, {bucketCaseQueue, queue}, {bucketReportScope, reportScope}} {
		b, err := btx.CreateBucketIfNotExists(ix.name)
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", ix.name, err)
		}
		// Pages filled in order are not split again by these puts.
		b.FillPercent = 0.9
		slices.SortFunc(ix.keys, bytes.Compare)
		for _, k := range ix.keys {
			if err := b.Put(k, nil); err != nil {
				return fmt.Errorf("put %s entry: %w", ix.name, err)
			}
		}
	}
	return nil
}

// alertEscalatedPolice (within version 10) sets PoliceAlerted on the cases
// a police clock escalated to a police unit before the case kept it
// (5265f1e): those units could not see the case. The deadlines keep every
// escalation with the unit it went to, as the scheduler wrote it, so the
// units are read there, in the order they were escalated to; the case's
// scope and queue entries (and its reports' scope entries) follow, as a
// write of the case makes them. The revision does not change: this is no
// step of the case, and its etag stays valid.
func alertEscalatedPolice(btx *bolt.Tx) error {
	cases := btx.Bucket(bucketCases)
	if cases == nil {
		return fmt.Errorf("bucket %s is missing", bucketCases)
	}
	type change struct {
		key       []byte
		prev, now model.Case
	}
	var changes []change
	err := cases.ForEach(func(k, v []byte) error {
		c, err := decodeAs[model.Case](v)
		if err != nil {
			return fmt.Errorf("case %s: %w", caseString(k), err)
		}
		alerted := slices.Clone(c.PoliceAlerted)
		for _, d := range c.Deadlines {
			for _, e := range d.Escalations {
				if strings.HasPrefix(e.To, "policeUnits/") && !slices.Contains(alerted, e.To) {
					alerted = append(alerted, e.To)
				}
			}
		}
		if len(alerted) > len(c.PoliceAlerted) {
			now := c
			now.PoliceAlerted = alerted
			changes = append(changes, change{bytes.Clone(k), c, now})
		}
		return nil
	})
	if err != nil {
		return err
	}
	t := newTx(btx)
	for _, ch := range changes { // not under the cursor
		if err := t.putCaseIndexes(&ch.prev, ch.now); err != nil {
			return fmt.Errorf("case %s: %w", ch.now.Number, err)
		}
		raw, err := encode(ch.now)
		if err != nil {
			return fmt.Errorf("case %s: %w", ch.now.Number, err)
		}
		if err := cases.Put(ch.key, raw); err != nil {
			return fmt.Errorf("case %s: %w", ch.now.Number, err)
		}
	}
	return nil
}

// dropClearCaseAnswers (version 2 to 3) deletes the idempotency records of
// case steps that remember an answer: version 2 remembered the whole case,
// its free text in the clear, and storage holds no key to seal it. The
// cases themselves keep their text in the clear until the service seals it
// at start (vault.SealClearText). A retry of such a step after the upgrade
// is refused by its stale etag instead of replayed.
func dropClearCaseAnswers(tx *bolt.Tx) error {
	recs, idx := tx.Bucket(bucketIdempotency), tx.Bucket(bucketIdempotencyByTime)
	if recs == nil || idx == nil {
		return fmt.Errorf("bucket %s or %s is missing", bucketIdempotency, bucketIdempotencyByTime)
	}
	var doomed []model.IdempotencyRecord
	err := recs.ForEach(func(k, v []byte) error {
		// The key is user id, method and request_id joined by ':'; user
		// ids hold no ':'.
		_, rest, _ := strings.Cut(string(k), ":")
		if !strings.HasPrefix(rest, "case.") {
			return nil
		}
		r, err := decodeAs[model.IdempotencyRecord](v)
		if err != nil {
			return fmt.Errorf("idempotency record %q: %w", k, err)
		}
		if len(r.Result) > 0 {
			r.Key = string(k)
			doomed = append(doomed, r)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range doomed { // not under the cursor: deleting there skips entries
		if err := recs.Delete([]byte(r.Key)); err != nil {
			return err
		}
		if err := idx.Delete(idempotencyTimeKey(r.CreateTime, r.Key)); err != nil {
			return err
		}
	}
	return nil
}

// migrateIdempotencyIndex (version 1 to 2) adds the index of idempotency
// records by CreateTime, which the retention sweep reads.
func migrateIdempotencyIndex(tx *bolt.Tx) error {
	return buildIndex(tx, bucketIdempotencyByTime, bucketIdempotency, func(k, v []byte) ([]byte, error) {
		r, err := decodeAs[model.IdempotencyRecord](v)
		if err != nil {
			return nil, fmt.Errorf("idempotency record %q: %w", k, err)
		}
		return idempotencyTimeKey(r.CreateTime, string(k)), nil
	})
}

// buildDataKeyIndex adds data_keys_by_master to a file written before it
// existed, in the transaction that opens the file. It is not a schema
// version of its own: the index is derived from data_keys alone, the
// build runs whenever the bucket is missing (so it is idempotent, and
// a file of any version gets it), and a binary that does not know the
// bucket reads data_keys as before. A read-only open does without it
// (DataKeyPerMaster scans data_keys instead).
func buildDataKeyIndex(tx *bolt.Tx) error {
	if tx.Bucket(bucketDataKeysByMaster) != nil {
		return nil
	}
	return buildIndex(tx, bucketDataKeysByMaster, bucketDataKeys, func(k, v []byte) ([]byte, error) {
		w, err := decodeAs[keys.WrappedKey](v)
		if err != nil {
			return nil, fmt.Errorf("data key %q: %w", k, err)
		}
		return dataKeyMasterKey(w.MasterID, string(k)), nil
	})
}

// initStore writes the records of a new, empty store: its schema
// version, and that its (no) audit events all have their entries in
// audit_by_time.
func initStore(meta, index kv.Bucket) error {
	if err := meta.Put(keySchemaVersion, u32(SchemaVersion)); err != nil {
		return err
	}
	tag, _ := indexTag(bucketAuditByTime)
	return (&keyspace{b: index, tag: []byte{tag}}).Put(auditByTimeComplete, []byte{})
}

// buildIndex creates the bucket index if it is missing and puts in it the
// entry entryKey gives for every record of the bucket records.
func buildIndex(tx *bolt.Tx, index, records []byte, entryKey func(k, v []byte) ([]byte, error)) error {
	idx, err := tx.CreateBucketIfNotExists(index)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", index, err)
	}
	recs := tx.Bucket(records)
	if recs == nil {
		return fmt.Errorf("bucket %s is missing", records)
	}
	return recs.ForEach(func(k, v []byte) error {
		entry, err := entryKey(k, v)
		if err != nil {
			return err
		}
		return idx.Put(entry, nil)
	})
}

// optionalBucket reports whether a bucket may be missing from a file this
// code reads: one that Open builds whenever it is missing.
// The search index's buckets came within schema version 5: a file written
// before them has none until it is opened read-write.
func optionalBucket(name []byte) bool {
	return bytes.Equal(name, bucketDataKeysByMaster) || bytes.Equal(name, bucketSearchByCase) || bytes.Equal(name, bucketSearchTokens) ||
		bytes.Equal(name, bucketSearchPending)
}

// bucketVersion is the schema version that added a bucket.
func bucketVersion(name []byte) uint32 {
	switch {
	case bytes.Equal(name, bucketIdempotencyByTime):
		return 2
	case bytes.Equal(name, bucketCaseScope), bytes.Equal(name, bucketCaseQueue), bytes.Equal(name, bucketReportScope):
		return 4
	case bytes.Equal(name, bucketIndex), bytes.Equal(name, bucketAuditByTime):
		// audit_by_time came after version 6 and was never a bucket of
		// its own, only keys of the index bucket.
		return 6
	case bytes.Equal(name, bucketStats):
		return 7
	case bytes.Equal(name, bucketUsersByUnit):
		// Only ever keys of the index bucket, as audit_by_time.
		return usersByUnitVersion
	}
	return 1
}

// layoutBuckets are the buckets a file of a schema version has: those it
// added until then, and before version 6 the indexes' own buckets
// instead of the index bucket.
func layoutBuckets(version uint32) [][]byte {
	var names [][]byte
	for _, name := range allBuckets {
		if version >= bucketVersion(name) {
			names = append(names, name)
		}
	}
	if version < bucketVersion(bucketIndex) {
		for _, it := range indexTags {
			if version >= bucketVersion(it.name) {
				names = append(names, it.name)
			}
		}
	}
	return names
}
