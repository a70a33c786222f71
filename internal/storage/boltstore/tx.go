package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage"
)

var be = binary.BigEndian

// recordVersion prefixes every stored record so the encoding can change.
const recordVersion byte = 1

type tx struct {
	btx *bolt.Tx
}

func (t *tx) bucket(name []byte) *bolt.Bucket { return t.btx.Bucket(name) }

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return append([]byte{recordVersion}, b...), nil
}

func decode(raw []byte, v any) error {
	if len(raw) == 0 || raw[0] != recordVersion {
		return fmt.Errorf("decode %T: unknown record version", v)
	}
	if err := json.Unmarshal(raw[1:], v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}

func reportKey(id string) ([]byte, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return nil, fmt.Errorf("report id %q: %w", id, model.ErrNotFound)
	}
	return u[:], nil
}

func u32(v uint32) []byte { return be.AppendUint32(nil, v) }
func u64(v uint64) []byte { return be.AppendUint64(nil, v) }

func unitPrefix(k units.Key) []byte { return append([]byte(k.String()), 0) }

func (t *tx) Report(id string) (model.Report, error) {
	key, err := reportKey(id)
	if err != nil {
		return model.Report{}, err
	}
	raw := t.bucket(bucketReports).Get(key)
	if raw == nil {
		return model.Report{}, fmt.Errorf("report %s: %w", id, model.ErrNotFound)
	}
	var r model.Report
	return r, decode(raw, &r)
}

func (t *tx) CreateReport(r model.Report) error {
	key, err := reportKey(r.ID)
	if err != nil {
		return err
	}
	b := t.bucket(bucketReports)
	if b.Get(key) != nil {
		return fmt.Errorf("report %s: %w", r.ID, model.ErrAlreadyExists)
	}
	return t.putReport(key, r)
}

func (t *tx) UpdateReport(r model.Report) error {
	key, err := reportKey(r.ID)
	if err != nil {
		return err
	}
	old := t.bucket(bucketReports).Get(key)
	if old == nil {
		return fmt.Errorf("report %s: %w", r.ID, model.ErrNotFound)
	}
	var prev model.Report
	if err := decode(old, &prev); err != nil {
		return err
	}
	if prev.CallType != r.CallType {
		if err := t.bucket(bucketReportsByCallType).Delete(callTypeIndexKey(prev.CallType, key)); err != nil {
			return err
		}
	}
	return t.putReport(key, r)
}

func callTypeIndexKey(ct model.CallType, key []byte) []byte {
	return append(u32(uint32(ct)), key...)
}

func (t *tx) putReport(key []byte, r model.Report) error {
	raw, err := encode(r)
	if err != nil {
		return err
	}
	if err := t.bucket(bucketReports).Put(key, raw); err != nil {
		return fmt.Errorf("put report: %w", err)
	}
	return t.bucket(bucketReportsByCallType).Put(callTypeIndexKey(r.CallType, key), nil)
}

func (t *tx) ListReports(q storage.ReportQuery) ([]model.Report, string, error) {
	var out []model.Report
	load := func(id []byte, take bool) error {
		if !take {
			return nil // every indexed report matches: there is a next page
		}
		raw := t.bucket(bucketReports).Get(id)
		if raw == nil {
			return fmt.Errorf("index points at missing report %x", id)
		}
		var r model.Report
		if err := decode(raw, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}
	b, prefix := t.bucket(bucketReports), []byte(nil)
	if q.CallType != 0 {
		b, prefix = t.bucket(bucketReportsByCallType), u32(uint32(q.CallType))
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
	var c model.Case
	return c, decode(raw, &c)
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
	return t.putCase(key, *c)
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
		if err := t.bucket(bucketCasesByUnit).Delete(append(unitPrefix(prev.ResponsibleUnit), key...)); err != nil {
			return err
		}
	}
	if prev.Status != c.Status {
		if err := t.bucket(bucketCasesByStatus).Delete(append(u32(uint32(prev.Status)), key...)); err != nil {
			return err
		}
	}
	return t.putCase(key, c)
}

func (t *tx) putCase(key []byte, c model.Case) error {
	raw, err := encode(c)
	if err != nil {
		return err
	}
	if err := t.bucket(bucketCases).Put(key, raw); err != nil {
		return fmt.Errorf("put case: %w", err)
	}
	if err := t.bucket(bucketCasesByUnit).Put(append(unitPrefix(c.ResponsibleUnit), key...), nil); err != nil {
		return err
	}
	return t.bucket(bucketCasesByStatus).Put(append(u32(uint32(c.Status)), key...), nil)
}

func (t *tx) ListCases(q storage.CaseQuery) ([]model.Case, string, error) {
	var out []model.Case
	load := func(id []byte, take bool) error {
		c, err := t.caseByKey(id)
		if err != nil {
			return fmt.Errorf("index points at a missing case: %w", err)
		}
		// With both filters the unit index is read and status checked here.
		if q.Status != 0 && c.Status != q.Status {
			return errSkip
		}
		if take {
			out = append(out, c)
		}
		return nil
	}
	b, prefix := t.bucket(bucketCases), []byte(nil)
	switch {
	case !q.ResponsibleUnit.IsZero():
		b, prefix = t.bucket(bucketCasesByUnit), unitPrefix(q.ResponsibleUnit)
	case q.Status != 0:
		b, prefix = t.bucket(bucketCasesByStatus), u32(uint32(q.Status))
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
	var r model.IdempotencyRecord
	return r, decode(raw, &r)
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
	return b.Put([]byte(r.Key), raw)
}

// errSkip, returned by a scanDesc callback, leaves the entry out of the page.
var errSkip = errors.New("skip")

// Lengths of the record keys that end every listed key.
const (
	reportKeyLen = 16 // uuid
	caseKeyLen   = 8  // id
)

// scanDesc walks the keys of b that start with prefix from the newest (the
// largest key) down, starting after the cursor, and calls fn with each until
// limit entries were accepted, then once more with take=false to learn
// whether a next page exists (fn must then only say errSkip or nil, without
// taking the entry). Every key is prefix followed by idLen bytes;
// a cursor of another shape is refused. It returns a cursor for the next
// page, or "" when the walk reached the end.
func scanDesc(b *bolt.Bucket, prefix []byte, idLen int, cursor string, limit int, fn func(k []byte, take bool) error) (string, error) {
	if limit <= 0 {
		return "", fmt.Errorf("list limit %d: must be positive", limit)
	}
	c := b.Cursor()
	var k []byte
	if cursor != "" {
		after, err := hex.DecodeString(cursor)
		if err != nil || !bytes.HasPrefix(after, prefix) || len(after) != len(prefix)+idLen {
			return "", storage.ErrBadCursor
		}
		if k, _ = c.Seek(after); k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
	} else if len(prefix) == 0 {
		k, _ = c.Last()
	} else if k, _ = c.Seek(prefixEnd(prefix)); k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	accepted := 0
	var last []byte
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		switch err := fn(k, accepted < limit); {
		case errors.Is(err, errSkip):
			continue
		case err != nil:
			return "", err
		}
		if accepted == limit {
			// One more entry matches, so there is a next page: a cursor
			// never leads to an empty page.
			return hex.EncodeToString(last), nil
		}
		accepted++
		last = append(last[:0], k...)
	}
	return "", nil
}

// prefixEnd returns the smallest key greater than every key with prefix p.
// Prefixes here never consist only of 0xff bytes.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}
