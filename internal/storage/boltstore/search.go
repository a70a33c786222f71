package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/kv"
)

// The blind search index: search_by_case holds each case's entry (the
// tokens it is indexed under), search_tokens one key per token and case,
// token(8) id(8), so the cases of a token are one prefix scan and a case
// is removed from a token without reading the others. search_pending
// holds a key (the case id, no value) for each case changed since its
// entry was written: the entry follows the write in a later transaction.

// createSearchBuckets adds the index's buckets to a file written before
// them; they start empty, and the search service indexes the cases it
// finds without an entry (search.Service.Rebuild).
func createSearchBuckets(tx *bolt.Tx) error {
	if !tx.Writable() {
		return nil
	}
	for _, name := range [][]byte{bucketSearchByCase, bucketSearchTokens, bucketSearchPending} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// searchTokenSize is the width of the tokens of the file tx reads: 16
// bytes up to schema version 7, datastore.SearchTokenSize since (a file
// of version 7 not yet migrated, a backup, is checked as it was written).
func searchTokenSize(tx *bolt.Tx) int {
	if meta := tx.Bucket(bucketMeta); meta != nil {
		if raw := meta.Get(keySchemaVersion); len(raw) == 4 && be.Uint32(raw) < 8 {
			return 16
		}
	}
	return datastore.SearchTokenSize
}

// dropSearchIndex empties the search index (its entries and postings)
// and forgets under which master it was complete, so that the next start
// indexes every case again (search.Service.CatchUp, then Rebuild, in
// small transactions while the service runs): the migration to schema
// version 8, whose tokens are of another width and kinds. The marks of
// pending cases stay; their cases are indexed with the rest.
func dropSearchIndex(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketSearchByCase, bucketSearchTokens} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return fmt.Errorf("drop bucket %s: %w", name, err)
			}
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	if err := tx.Bucket(bucketMeta).Delete(keySearchIndexedUnder); err != nil {
		return fmt.Errorf("forget %s: %w", keySearchIndexedUnder, err)
	}
	return nil
}

func searchPostingKey(token []byte, caseID uint64) []byte {
	return append(bytes.Clone(token), u64(caseID)...)
}

func (t *tx) CasesWithToken(token []byte, limit int) ([]uint64, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("cases with token: limit %d must be positive", limit)
	}
	b := t.bucket(bucketSearchTokens)
	if b == nil || len(token) != datastore.SearchTokenSize {
		return nil, nil // a file opened read-only before the index: nothing indexed
	}
	c := b.Cursor()
	// The walks read the token's postings only: backwards down to its
	// first (the floor stops the walk from its oldest, on an engine that
	// reads backwards by sorting, etcd, without reading the keys below
	// it), and forwards (the seek past its newest) up to its end. They
	// read keys only: a posting's value is empty, and etcd reads each
	// value from its backend file, all of a token's in a walk backwards.
	kv.SetFloor(c, token)
	kv.SetCeiling(c, prefixEnd(token))
	kv.SetKeysOnly(c)
	// From the token's last posting backwards: the newest cases first.
	var out []uint64
	k, _ := c.Seek(searchPostingKey(token, math.MaxUint64))
	if k == nil {
		k, _ = c.Last()
	} else if !bytes.Equal(k, searchPostingKey(token, math.MaxUint64)) {
		k, _ = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, token); k, _ = c.Prev() {
		if len(k) == datastore.SearchTokenSize+8 {
			out = append(out, be.Uint64(k[datastore.SearchTokenSize:]))
		}
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// amongSteps is how far CasesWithTokenAmong steps forward from one id's
// key to the next before it seeks.
const amongSteps = 8

func (t *tx) CasesWithTokenAmong(token []byte, caseIDs []uint64) ([]uint64, error) {
	b := t.bucket(bucketSearchTokens)
	if b == nil || len(token) != datastore.SearchTokenSize {
		return nil, nil
	}
	// One cursor for all: a search asks this for every case it found,
	// and bbolt allocates a cursor for each Get. The ids ascend, as the
	// keys do: where the token's cases lie close, a few steps forward
	// reach the next id more cheaply than a seek from the root.
	var out []uint64
	c := b.Cursor()
	kv.SetCeiling(c, prefixEnd(token)) // the seeks past the last id stop at the token's end
	kv.SetKeysOnly(c)
	key := searchPostingKey(token, 0)
	var k []byte
	for _, id := range caseIDs {
		be.PutUint64(key[datastore.SearchTokenSize:], id)
		for i := 0; i < amongSteps && k != nil && bytes.Compare(k, key) < 0; i++ {
			k, _ = c.Next()
		}
		if k == nil || bytes.Compare(k, key) < 0 {
			if k, _ = c.Seek(key); k == nil {
				break // past the last key: no later id is there either
			}
		}
		if bytes.Equal(k, key) {
			out = append(out, id)
		}
	}
	return out, nil
}

// Prefetch names to an engine whose reads are round trips (kv.Prefetch)
// the keys the reads p names walk over, as they walk them: so that on
// etcd a search's tokens, its look-ups among the cases found and those
// cases cost a round trip each, not one per token, key or case.
func (t *tx) Prefetch(p datastore.Prefetch) {
	if _, ok := t.kt.(kv.Prefetcher); !ok {
		// On an engine that reads memory (bbolt) the ranges would be
		// built to be dropped: a search's look-ups among the cases found
		// name thousands of keys, a sixth of the CPU of 64 clients'
		// reports in a profile.
		return
	}
	var ranges []kv.Range
	for _, id := range p.CaseIDs {
		ranges = append(ranges, kv.Point(bucketCases, u64(id)))
	}
	for _, tok := range p.Tokens {
		if len(tok) != datastore.SearchTokenSize || p.TokenLimit <= 0 {
			continue
		}
		newest := searchPostingKey(tok, math.MaxUint64)
		ranges = append(ranges,
			// CasesWithToken's seek of the key after the token's newest
			// posting, and its walk back from there, of keys only.
			kv.Range{Bucket: bucketSearchTokens, From: newest, To: prefixEnd(tok), Limit: 1, KeysOnly: true},
			kv.Range{Bucket: bucketSearchTokens, From: tok, To: newest, Limit: p.TokenLimit, Reverse: true, KeysOnly: true})
	}
	for _, tok := range p.AmongTokens {
		if len(tok) != datastore.SearchTokenSize {
			continue
		}
		// CasesWithTokenAmong seeks each id's key and steps forward from
		// it up to amongSteps keys: the keys from each id's up to the
		// next id's, as many as it may step over.
		for i, id := range p.AmongCaseIDs {
			// The last id's up to the token's end, where the cursor's
			// ceiling stops it.
			r := kv.Range{Bucket: bucketSearchTokens, From: searchPostingKey(tok, id), To: prefixEnd(tok), Limit: amongSteps + 1, KeysOnly: true}
			if i+1 < len(p.AmongCaseIDs) {
				r.To = searchPostingKey(tok, p.AmongCaseIDs[i+1])
			}
			ranges = append(ranges, r)
		}
	}
	kv.Prefetch(t.kt, ranges...)
}

func (t *tx) SearchEntry(caseID uint64) (datastore.SearchEntry, error) {
	var raw []byte
	if b := t.bucket(bucketSearchByCase); b != nil {
		raw = b.Get(u64(caseID))
	}
	if raw == nil {
		return datastore.SearchEntry{}, fmt.Errorf("search entry of case id %d: %w", caseID, model.ErrNotFound)
	}
	e, err := decodeAs[datastore.SearchEntry](raw)
	if err != nil {
		return datastore.SearchEntry{}, fmt.Errorf("search entry of case id %d: %w", caseID, err)
	}
	e.CaseID = caseID
	return e, nil
}

func (t *tx) ListSearchEntries(after uint64, limit int) ([]datastore.SearchEntry, uint64, error) {
	if limit <= 0 {
		return nil, 0, fmt.Errorf("list search entries: limit %d must be positive", limit)
	}
	b := t.bucket(bucketSearchByCase)
	if b == nil {
		return nil, 0, nil
	}
	var out []datastore.SearchEntry
	c := b.Cursor()
	k, _ := c.Seek(u64(after))
	if k != nil && bytes.Equal(k, u64(after)) {
		k, _ = c.Next()
	}
	for ; k != nil; k, _ = c.Next() {
		if len(out) == limit {
			return out, out[len(out)-1].CaseID, nil
		}
		if len(k) != 8 {
			return nil, 0, fmt.Errorf("%s: key %x is not a case id", bucketSearchByCase, k)
		}
		e, err := t.SearchEntry(be.Uint64(k))
		if err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	return out, 0, nil
}

func (t *tx) PutSearchEntry(e datastore.SearchEntry) error {
	if t.bucket(bucketCases).Get(u64(e.CaseID)) == nil {
		return fmt.Errorf("search entry of case id %d: %w", e.CaseID, model.ErrNotFound)
	}
	for _, tok := range e.Tokens {
		if len(tok) != datastore.SearchTokenSize {
			return fmt.Errorf("search entry of case id %d: a token of %d bytes, want %d", e.CaseID, len(tok), datastore.SearchTokenSize)
		}
	}
	byCase, tokens := t.bucket(bucketSearchByCase), t.bucket(bucketSearchTokens)
	if byCase == nil || tokens == nil {
		return fmt.Errorf("search entry of case id %d: the search index buckets are missing", e.CaseID)
	}
	old, err := t.SearchEntry(e.CaseID)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return err
	}
	var oldKeys, newKeys [][]byte
	for _, tok := range old.Tokens {
		oldKeys = append(oldKeys, searchPostingKey(tok, e.CaseID))
	}
	for _, tok := range e.Tokens {
		newKeys = append(newKeys, searchPostingKey(tok, e.CaseID))
	}
	if err := t.syncEntries(tokens, oldKeys, newKeys); err != nil {
		return fmt.Errorf("%s: %w", bucketSearchTokens, err)
	}
	raw, err := encode(e)
	if err != nil {
		return fmt.Errorf("search entry of case id %d: %w", e.CaseID, err)
	}
	if err := byCase.Put(u64(e.CaseID), raw); err != nil {
		return fmt.Errorf("put search entry of case id %d: %w", e.CaseID, err)
	}
	if pending := t.bucket(bucketSearchPending); pending != nil && pending.Get(u64(e.CaseID)) != nil {
		if err := pending.Delete(u64(e.CaseID)); err != nil {
			return fmt.Errorf("search entry of case id %d: clear its pending mark: %w", e.CaseID, err)
		}
	}
	return nil
}

func (t *tx) MarkSearchPending(caseID uint64) error {
	if t.bucket(bucketCases).Get(u64(caseID)) == nil {
		return fmt.Errorf("mark case id %d for the search index: %w", caseID, model.ErrNotFound)
	}
	pending := t.bucket(bucketSearchPending)
	if pending == nil {
		return fmt.Errorf("mark case id %d for the search index: bucket %s is missing", caseID, bucketSearchPending)
	}
	if err := pending.Put(u64(caseID), nil); err != nil {
		return fmt.Errorf("mark case id %d for the search index: %w", caseID, err)
	}
	return nil
}

func (t *tx) SearchPending(after uint64, limit int) ([]uint64, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("search pending: limit %d must be positive", limit)
	}
	b := t.bucket(bucketSearchPending)
	if b == nil {
		return nil, nil
	}
	var out []uint64
	c := b.Cursor()
	k, _ := c.Seek(u64(after))
	if k != nil && bytes.Equal(k, u64(after)) {
		k, _ = c.Next()
	}
	for ; k != nil && len(out) < limit; k, _ = c.Next() {
		if len(k) != 8 {
			return nil, fmt.Errorf("%s: key %x is not a case id", bucketSearchPending, k)
		}
		out = append(out, be.Uint64(k))
	}
	return out, nil
}

func (t *tx) SearchIndexedUnder() (string, error) {
	return string(t.bucket(bucketMeta).Get(keySearchIndexedUnder)), nil
}

func (t *tx) SetSearchIndexedUnder(keyID string) error {
	if keyID == "" {
		return errors.New("search index: record it indexed under a master key with no id")
	}
	if err := t.bucket(bucketMeta).Put(keySearchIndexedUnder, []byte(keyID)); err != nil {
		return fmt.Errorf("search index: record it indexed under %s: %w", keyID, err)
	}
	return nil
}

// searchEntryTokens calls fn with each token of a stored search entry,
// read in place from the record's bytes (the SearchEntry message's field
// 2): Check reads every entry of the index, and decoding one would
// allocate a slice per token. A record it cannot read so is decoded
// whole (decodeAs), which reports what is wrong with it.
func searchEntryTokens(raw []byte, fn func(tok []byte)) error {
	if len(raw) == 0 || raw[0] != protoRecord {
		e, err := decodeAs[datastore.SearchEntry](raw)
		for _, tok := range e.Tokens {
			fn(tok)
		}
		return err
	}
	b := raw[1:]
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			_, err := decodeAs[datastore.SearchEntry](raw)
			return err
		}
		b = b[n:]
		if num == 2 && typ == protowire.BytesType {
			tok, m := protowire.ConsumeBytes(b)
			if m < 0 {
				_, err := decodeAs[datastore.SearchEntry](raw)
				return err
			}
			fn(tok)
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			_, err := decodeAs[datastore.SearchEntry](raw)
			return err
		}
		b = b[m:]
	}
	return nil
}
