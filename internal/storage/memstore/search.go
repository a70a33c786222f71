package memstore

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// The blind search index: an entry per case and a posting list per token,
// as boltstore keeps them in search_by_case and search_tokens.

// Prefetch does nothing: the store reads memory.
func (t *tx) Prefetch(datastore.Prefetch) {}

func (t *tx) CasesWithToken(token []byte, limit int) ([]uint64, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("cases with token: limit %d must be positive", limit)
	}
	ids, _ := t.st.postings.get(string(token))
	out := slices.Clone(ids[len(ids)-min(limit, len(ids)):])
	slices.Reverse(out)
	return out, nil
}

func (t *tx) CasesWithTokenAmong(token []byte, caseIDs []uint64) ([]uint64, error) {
	ids, _ := t.st.postings.get(string(token))
	var out []uint64
	for _, id := range caseIDs {
		if _, found := slices.BinarySearch(ids, id); found {
			out = append(out, id)
		}
	}
	return out, nil
}

func (t *tx) SearchEntry(caseID uint64) (datastore.SearchEntry, error) {
	raw, ok := t.st.searchEntries.get(caseID)
	if !ok {
		return datastore.SearchEntry{}, fmt.Errorf("search entry of case id %d: %w", caseID, model.ErrNotFound)
	}
	return decodeAs[datastore.SearchEntry](raw)
}

func (t *tx) ListSearchEntries(after uint64, limit int) ([]datastore.SearchEntry, uint64, error) {
	if limit <= 0 {
		return nil, 0, fmt.Errorf("list search entries: limit %d must be positive", limit)
	}
	var out []datastore.SearchEntry
	for _, id := range slices.Sorted(maps.Keys(t.st.searchEntries.m)) {
		if id <= after {
			continue
		}
		if len(out) == limit {
			return out, out[len(out)-1].CaseID, nil
		}
		e, err := t.SearchEntry(id)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	return out, 0, nil
}

func (t *tx) PutSearchEntry(e datastore.SearchEntry) error {
	if !t.st.cases.has(e.CaseID) {
		return fmt.Errorf("search entry of case id %d: %w", e.CaseID, model.ErrNotFound)
	}
	for _, tok := range e.Tokens {
		if len(tok) != datastore.SearchTokenSize {
			return fmt.Errorf("search entry of case id %d: a token of %d bytes, want %d", e.CaseID, len(tok), datastore.SearchTokenSize)
		}
	}
	if old, err := t.SearchEntry(e.CaseID); err == nil {
		for _, tok := range old.Tokens {
			ids, _ := t.st.postings.get(string(tok))
			if i, found := slices.BinarySearch(ids, e.CaseID); found {
				if rest := slices.Delete(slices.Clone(ids), i, i+1); len(rest) > 0 {
					t.st.postings.put(string(tok), rest)
				} else {
					t.st.postings.del(string(tok))
				}
			}
		}
	}
	for _, tok := range e.Tokens {
		ids, _ := t.st.postings.get(string(tok))
		if i, found := slices.BinarySearch(ids, e.CaseID); !found {
			t.st.postings.put(string(tok), slices.Insert(slices.Clone(ids), i, e.CaseID))
		}
	}
	raw, err := encode(e)
	if err != nil {
		return fmt.Errorf("search entry of case id %d: %w", e.CaseID, err)
	}
	t.st.searchEntries.put(e.CaseID, raw)
	if t.st.searchPending.has(e.CaseID) {
		t.st.searchPending.del(e.CaseID)
	}
	return nil
}

func (t *tx) MarkSearchPending(caseID uint64) error {
	if !t.st.cases.has(caseID) {
		return fmt.Errorf("mark case id %d for the search index: %w", caseID, model.ErrNotFound)
	}
	t.st.searchPending.put(caseID, struct{}{})
	return nil
}

func (t *tx) SearchPending(after uint64, limit int) ([]uint64, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("search pending: limit %d must be positive", limit)
	}
	var out []uint64
	for _, id := range slices.Sorted(maps.Keys(t.st.searchPending.m)) {
		if id > after && len(out) < limit {
			out = append(out, id)
		}
	}
	return out, nil
}

func (t *tx) SearchIndexedUnder() (string, error) { return t.st.indexedUnder, nil }

func (t *tx) SetSearchIndexedUnder(keyID string) error {
	if keyID == "" {
		return errors.New("search index: record it indexed under a master key with no id")
	}
	t.st.indexedUnder = keyID
	return nil
}

// inScopes returns those of caseIDs that carry one of scopes, by the
// scope entries boltstore's index holds for each case, as ListCases reads
// them.
func (t *tx) inScopes(scopes []string, caseIDs []uint64) []uint64 {
	var out []uint64
	for _, id := range caseIDs {
		e, ok := t.st.cases.get(id)
		if !ok {
			continue
		}
		if slices.ContainsFunc(scopes, func(scope string) bool {
			return slices.ContainsFunc(e.scope, func(k []byte) bool { return bytes.Equal(k, storekey.CaseScopeKey(scope, id)) })
		}) {
			out = append(out, id)
		}
	}
	return out
}

// CasesWithTokenInScopes walks the token's postings from the newest,
// keeping the cases in scopes or held by one of held.
func (t *tx) CasesWithTokenInScopes(token []byte, scopes []string, held []units.Key, limit int) ([]uint64, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("cases with token in scopes: limit %d must be positive", limit)
	}
	ids, _ := t.st.postings.get(string(token))
	var out []uint64
	for i := len(ids) - 1; i >= 0 && len(out) < limit; i-- {
		if e, ok := t.st.cases.get(ids[i]); ok && slices.Contains(held, e.unit) {
			out = append(out, ids[i])
			continue
		}
		out = append(out, t.inScopes(scopes, ids[i:i+1])...)
	}
	return out, nil
}
