package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

var searchIndexTests = []namedTest{
	{"PostingsFollowEntries", testSearchPostingsFollowEntries},
	{"EntryNotFound", testSearchEntryNotFound},
	{"UnknownCase", testSearchEntryUnknownCase},
	{"ListPaging", testSearchEntryPaging},
	{"RolledBack", testSearchEntryRolledBack},
	{"ReadsOwnWrites", testSearchReadsOwnWrites},
	{"AmongMany", testSearchCasesWithTokenAmongMany},
	{"InScopes", testSearchCasesWithTokenInScopes},
	{"InScopesHeldBy", testSearchCasesWithTokenInScopesHeldBy},
	{"PendingMarks", testSearchPendingMarks},
	{"IndexedUnder", testSearchIndexedUnder},
}

// searchToken returns a token of the stored width whose bytes depend on n
// and include a NUL and bytes that are not UTF-8, so a store that treats
// tokens as text, or trims them, fails.
func searchToken(n byte) []byte {
	tok := make([]byte, datastore.SearchTokenSize)
	tok[0], tok[1], tok[2], tok[datastore.SearchTokenSize-1] = n, 0x00, 0xff, n^0x5a
	return tok
}

func putSearchEntries(t *testing.T, s datastore.Store, es ...datastore.SearchEntry) {
	t.Helper()
	update(t, s, func(tx datastore.Tx) error {
		for _, e := range es {
			if err := tx.PutSearchEntry(e); err != nil {
				return fmt.Errorf("PutSearchEntry(%d): %w", e.CaseID, err)
			}
		}
		return nil
	})
}

func casesWithToken(t *testing.T, s datastore.Store, tok []byte, limit int) []uint64 {
	t.Helper()
	ids, err := readOne(t, s, func(tx datastore.ReadTx) ([]uint64, error) { return tx.CasesWithToken(tok, limit) })
	if err != nil {
		t.Fatalf("CasesWithToken: %v", err)
	}
	return ids
}

// threeCases stores three cases and returns their ids.
func threeCases(t *testing.T, s datastore.Store) []uint64 {
	t.Helper()
	var ids []uint64
	for _, c := range createCases(t, s,
		sampleCase("HN-2026-00001", unitA, 1), sampleCase("HN-2026-00002", unitA, 1), sampleCase("HN-2026-00003", unitB, 1)) {
		ids = append(ids, c.ID)
	}
	return ids
}

// A case is found under exactly the tokens of its current entry: a new
// entry removes it from the tokens it no longer has and leaves the other
// cases under a shared token alone.
func testSearchPostingsFollowEntries(t *testing.T, s datastore.Store) {
	ids := threeCases(t, s)
	a, b, c := searchToken(1), searchToken(2), searchToken(3)
	putSearchEntries(t, s,
		datastore.SearchEntry{CaseID: ids[2], KeyID: "m1", Tokens: [][]byte{a, b}},
		datastore.SearchEntry{CaseID: ids[0], KeyID: "m1", Tokens: [][]byte{a}},
		datastore.SearchEntry{CaseID: ids[1], KeyID: "m1", Tokens: [][]byte{b}},
	)
	if got, want := casesWithToken(t, s, a, 10), []uint64{ids[2], ids[0]}; !slices.Equal(got, want) {
		t.Fatalf("cases with token a = %v, want %v (newest first)", got, want)
	}
	// A limit keeps the newest cases: a search reads a token many cases
	// share only as far as its newest.
	if got := casesWithToken(t, s, a, 1); !slices.Equal(got, []uint64{ids[2]}) {
		t.Fatalf("cases with token a, limit 1 = %v, want [%d]", got, ids[2])
	}
	putSearchEntries(t, s, datastore.SearchEntry{CaseID: ids[2], KeyID: "m2", Tokens: [][]byte{c}})
	if got := casesWithToken(t, s, a, 10); !slices.Equal(got, []uint64{ids[0]}) {
		t.Fatalf("after the entry changed, cases with token a = %v, want [%d]", got, ids[0])
	}
	if got := casesWithToken(t, s, b, 10); !slices.Equal(got, []uint64{ids[1]}) {
		t.Fatalf("after the entry changed, cases with token b = %v, want [%d]", got, ids[1])
	}
	if got := casesWithToken(t, s, c, 10); !slices.Equal(got, []uint64{ids[2]}) {
		t.Fatalf("cases with token c = %v, want [%d]", got, ids[2])
	}
	for _, tt := range []struct {
		token []byte
		among []uint64
		want  []uint64
	}{
		{a, ids, ids[:1]}, {a, ids[1:], nil}, {c, ids, ids[2:]}, {b, ids[:1], nil}, {b, ids[1:], ids[1:2]},
		{c, []uint64{ids[1], ids[2], 99}, ids[2:]}, {a, nil, nil},
	} {
		got, err := readOne(t, s, func(tx datastore.ReadTx) ([]uint64, error) { return tx.CasesWithTokenAmong(tt.token, tt.among) })
		if err != nil || !slices.Equal(got, tt.want) {
			t.Fatalf("CasesWithTokenAmong(%x, %v) = %v, %v; want %v", tt.token[:2], tt.among, got, err, tt.want)
		}
	}
	// A token that is a prefix of no stored one, and one differing only
	// in its last byte, find nothing.
	near := bytes.Clone(a)
	near[datastore.SearchTokenSize-1]++
	if got := casesWithToken(t, s, near, 10); len(got) != 0 {
		t.Fatalf("cases with a token one byte off = %v, want none", got)
	}
	e, err := readOne(t, s, func(tx datastore.ReadTx) (datastore.SearchEntry, error) { return tx.SearchEntry(ids[2]) })
	if err != nil {
		t.Fatalf("SearchEntry: %v", err)
	}
	if e.CaseID != ids[2] || e.KeyID != "m2" || len(e.Tokens) != 1 || !bytes.Equal(e.Tokens[0], c) {
		t.Fatalf("SearchEntry = %+v, want case %d under m2 with token c", e, ids[2])
	}
}

func testSearchEntryNotFound(t *testing.T, s datastore.Store) {
	ids := threeCases(t, s)
	_, err := readOne(t, s, func(tx datastore.ReadTx) (datastore.SearchEntry, error) { return tx.SearchEntry(ids[0]) })
	if !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("SearchEntry of a case never indexed: %v, want ErrNotFound", err)
	}
}

func testSearchEntryUnknownCase(t *testing.T, s datastore.Store) {
	err := s.Update(t.Context(), func(tx datastore.Tx) error {
		return tx.PutSearchEntry(datastore.SearchEntry{CaseID: 99, KeyID: "m1", Tokens: [][]byte{searchToken(1)}})
	})
	if !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("PutSearchEntry of a case that does not exist: %v, want ErrNotFound", err)
	}
}

func testSearchEntryPaging(t *testing.T, s datastore.Store) {
	ids := threeCases(t, s)
	for i, id := range ids {
		putSearchEntries(t, s, datastore.SearchEntry{CaseID: id, KeyID: "m1", Tokens: [][]byte{searchToken(byte(i))}})
	}
	var got []uint64
	after := uint64(0)
	for range 4 {
		page, next, err := readTwo(t, s, func(tx datastore.ReadTx) ([]datastore.SearchEntry, uint64, error) {
			return tx.ListSearchEntries(after, 2)
		})
		if err != nil {
			t.Fatalf("ListSearchEntries(%d, 2): %v", after, err)
		}
		for _, e := range page {
			got = append(got, e.CaseID)
		}
		if next == 0 {
			break
		}
		after = next
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("entries paged in twos = %v, want %v", got, ids)
	}
}

// An entry written by a transaction that fails leaves no posting behind.
func testSearchEntryRolledBack(t *testing.T, s datastore.Store) {
	ids := threeCases(t, s)
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx datastore.Tx) error {
		if err := tx.PutSearchEntry(datastore.SearchEntry{CaseID: ids[0], KeyID: "m1", Tokens: [][]byte{searchToken(1)}}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: %v, want the body's error", err)
	}
	if got := casesWithToken(t, s, searchToken(1), 10); len(got) != 0 {
		t.Fatalf("after a rolled-back entry, cases with its token = %v, want none", got)
	}
}

// A transaction's searches see its own entries over what it read of the
// snapshot, prefetched or not: etcd reads the postings as keys only and
// within the token's prefix, and must still merge the transaction's writes
// (a posting added, one removed by a new entry) into both walks.
func testSearchReadsOwnWrites(t *testing.T, s datastore.Store) {
	ids := threeCases(t, s)
	tok1, tok2 := searchToken(1), searchToken(2)
	putSearchEntries(t, s,
		datastore.SearchEntry{CaseID: ids[0], KeyID: "m1", Tokens: [][]byte{tok1}},
		datastore.SearchEntry{CaseID: ids[2], KeyID: "m1", Tokens: [][]byte{tok1}})
	check := func(tx datastore.ReadTx, when string, newest, among, under2 []uint64) {
		t.Helper()
		if got, err := tx.CasesWithToken(tok1, 10); err != nil || !slices.Equal(got, newest) {
			t.Errorf("%s: CasesWithToken(tok1) = %v, %v; want %v", when, got, err, newest)
		}
		if got, err := tx.CasesWithToken(tok1, 1); err != nil || !slices.Equal(got, newest[:1]) {
			t.Errorf("%s: CasesWithToken(tok1, 1) = %v, %v; want %v", when, got, err, newest[:1])
		}
		if got, err := tx.CasesWithTokenAmong(tok1, ids); err != nil || !slices.Equal(got, among) {
			t.Errorf("%s: CasesWithTokenAmong(tok1, every case) = %v, %v; want %v", when, got, err, among)
		}
		if got, err := tx.CasesWithToken(tok2, 10); err != nil || !slices.Equal(got, under2) {
			t.Errorf("%s: CasesWithToken(tok2) = %v, %v; want %v", when, got, err, under2)
		}
	}
	for _, prefetch := range []bool{true, false} {
		when := fmt.Sprintf("prefetched %v", prefetch)
		rollback := errors.New("rolled back")
		err := s.Update(t.Context(), func(tx datastore.Tx) error {
			if prefetch {
				tx.Prefetch(datastore.Prefetch{Tokens: [][]byte{tok1, tok2}, TokenLimit: 10, AmongTokens: [][]byte{tok1}, AmongCaseIDs: ids})
			}
			check(tx, when+", before the writes", []uint64{ids[2], ids[0]}, []uint64{ids[0], ids[2]}, nil)
			// The second case joins tok1, the third leaves it for tok2.
			if err := tx.PutSearchEntry(datastore.SearchEntry{CaseID: ids[1], KeyID: "m1", Tokens: [][]byte{tok1}}); err != nil {
				return err
			}
			if err := tx.PutSearchEntry(datastore.SearchEntry{CaseID: ids[2], KeyID: "m1", Tokens: [][]byte{tok2}}); err != nil {
				return err
			}
			check(tx, when+", after the writes", []uint64{ids[1], ids[0]}, []uint64{ids[0], ids[1]}, []uint64{ids[2]})
			return rollback // so that the next round starts from the same entries
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("%s: Update: %v, want the body's error", when, err)
		}
	}
}

// CasesWithTokenAmong finds, among many ids, those under a token that
// many cases share, near and far apart, and none of another token's.
func testSearchCasesWithTokenAmongMany(t *testing.T, s datastore.Store) {
	var cs []model.Case
	for i := range 40 {
		cs = append(cs, sampleCase(fmt.Sprintf("HN-2026-%05d", i+1), unitA, 1))
	}
	var ids []uint64
	for _, c := range createCases(t, s, cs...) {
		ids = append(ids, c.ID)
	}
	shared, other := searchToken(7), searchToken(8)
	var under []uint64 // the cases under shared: the first ten, then every seventh
	for i, id := range ids {
		tok := other
		if i < 10 || i%7 == 0 {
			tok, under = shared, append(under, id)
		}
		putSearchEntries(t, s, datastore.SearchEntry{CaseID: id, KeyID: "m1", Tokens: [][]byte{tok}})
	}
	var among, want []uint64 // every other case, and one past the last
	for i, id := range ids {
		if i%2 == 0 {
			among = append(among, id)
			if slices.Contains(under, id) {
				want = append(want, id)
			}
		}
	}
	among = append(among, ids[len(ids)-1]+1000)
	got, err := readOne(t, s, func(tx datastore.ReadTx) ([]uint64, error) { return tx.CasesWithTokenAmong(shared, among) })
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("CasesWithTokenAmong(shared, every other case) = %v, %v; want %v", got, err, want)
	}
	got, err = readOne(t, s, func(tx datastore.ReadTx) ([]uint64, error) { return tx.CasesWithTokenAmong(shared, ids) })
	if err != nil || !slices.Equal(got, under) {
		t.Fatalf("CasesWithTokenAmong(shared, every case) = %v, %v; want %v", got, err, under)
	}
}

// CasesWithTokenInScopes gives the newest cases under a token that carry
// one of the scope keys, newest first, up to the limit, however many
// newer cases of the token are out of them: 60 cases, those divisible by
// three handled by unit A, every other one under the shared token.
func testSearchCasesWithTokenInScopes(t *testing.T, s datastore.Store) {
	var cs []model.Case
	for i := range 60 {
		c := sampleCase(fmt.Sprintf("HN-2026-%05d", i+1), unitB, 1)
		c.Handlers = []units.Key{unitB}
		if i%3 == 0 {
			c.Handlers = append(c.Handlers, unitA)
		}
		cs = append(cs, c)
	}
	cs = createCases(t, s, cs...)
	shared, other := searchToken(7), searchToken(8)
	var want []uint64 // under shared and handled by A, newest first
	for i := len(cs) - 1; i >= 0; i-- {
		tok := other
		if i%2 == 0 {
			tok = shared
			if i%3 == 0 {
				want = append(want, cs[i].ID)
			}
		}
		putSearchEntries(t, s, datastore.SearchEntry{CaseID: cs[i].ID, KeyID: "m1", Tokens: [][]byte{tok}})
	}
	scopeA := []string{"handler:" + access.UnitName(unitA)}
	for _, tt := range []struct {
		scopes []string
		limit  int
		want   []uint64
	}{
		{scopeA, 100, want},
		{scopeA, 3, want[:3]},
		{[]string{"handler:units/00099@2025-07-01", "handler:" + access.UnitName(unitA)}, 100, want},
		{[]string{"handler:units/00099@2025-07-01"}, 100, nil},
		{nil, 100, nil},
	} {
		got, err := readOne(t, s, func(tx datastore.ReadTx) ([]uint64, error) {
			return tx.CasesWithTokenInScopes(shared, tt.scopes, nil, tt.limit)
		})
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("CasesWithTokenInScopes(shared, %v, %d) = %v, %v; want %v", tt.scopes, tt.limit, got, err, tt.want)
		}
	}
	got, err := readOne(t, s, func(tx datastore.ReadTx) ([]uint64, error) {
		return tx.CasesWithTokenInScopes(searchToken(9), scopeA, nil, 10)
	})
	if err != nil || len(got) != 0 {
		t.Errorf("CasesWithTokenInScopes(a token of no case) = %v, %v; want none", got, err)
	}
}

// CasesWithTokenInScopes with units held (a social work centre's
// supervisor and the city, access.Policy.SearchScope) gives the newest
// cases under the token that carry one of the scope keys or that one of
// the units holds, newest first, up to the limit; not those the units
// handled without holding them. 60 cases unit B holds and unit A handles
// (escalated to it): A holds those i%4 == 1, the organisation took those
// i%4 == 3, and those i%7 == 0 are under another token.
func testSearchCasesWithTokenInScopesHeldBy(t *testing.T, s datastore.Store) {
	const org = "org:" + model.OrgSocialWorkCentre
	var cs []model.Case
	for i := range 60 {
		c := sampleCase(fmt.Sprintf("HN-2026-%05d", i+1), unitB, 1)
		c.Handlers, c.IntakeUnits = []units.Key{unitB, unitA}, []string{model.OrgHotline111}
		switch i % 4 {
		case 1:
			c.ResponsibleUnit = unitA
		case 3:
			c.IntakeUnits = []string{model.OrgSocialWorkCentre}
		}
		cs = append(cs, c)
	}
	cs = createCases(t, s, cs...)
	shared, other := searchToken(7), searchToken(8)
	var want, held []uint64 // under shared, newest first: the organisation's or A's; A's
	for i := len(cs) - 1; i >= 0; i-- {
		tok := shared
		if i%7 == 0 {
			tok = other
		} else if i%4 == 1 {
			want, held = append(want, cs[i].ID), append(held, cs[i].ID)
		} else if i%4 == 3 {
			want = append(want, cs[i].ID)
		}
		putSearchEntries(t, s, datastore.SearchEntry{CaseID: cs[i].ID, KeyID: "m1", Tokens: [][]byte{tok}})
	}
	for _, tt := range []struct {
		scopes []string
		held   []units.Key
		limit  int
		want   []uint64
	}{
		{[]string{org}, []units.Key{unitA}, 100, want},
		{[]string{org}, []units.Key{unitA}, 3, want[:3]},
		{nil, []units.Key{unitA}, 100, held},
		{nil, []units.Key{unitC}, 100, nil},
	} {
		got, err := readOne(t, s, func(tx datastore.ReadTx) ([]uint64, error) {
			return tx.CasesWithTokenInScopes(shared, tt.scopes, tt.held, tt.limit)
		})
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("CasesWithTokenInScopes(shared, %v, held by %v, %d) = %v, %v; want %v", tt.scopes, tt.held, tt.limit, got, err, tt.want)
		}
	}
}

// A case marked pending is listed until its entry is written, by that
// transaction or a later one; a mark rolled back or of a case that does
// not exist is not kept.
func testSearchPendingMarks(t *testing.T, s datastore.Store) {
	ids := threeCases(t, s)
	pending := func() []uint64 {
		t.Helper()
		got, err := readOne(t, s, func(tx datastore.ReadTx) ([]uint64, error) { return tx.SearchPending(0, 10) })
		if err != nil {
			t.Fatalf("SearchPending: %v", err)
		}
		return got
	}
	if got := pending(); len(got) != 0 {
		t.Fatalf("pending before any mark = %v, want none", got)
	}
	update(t, s, func(tx datastore.Tx) error {
		for _, id := range []uint64{ids[2], ids[0], ids[2]} {
			if err := tx.MarkSearchPending(id); err != nil {
				return err
			}
		}
		return nil
	})
	if got, want := pending(), []uint64{ids[0], ids[2]}; !slices.Equal(got, want) {
		t.Fatalf("pending after marking = %v, want %v (each once, in order of id)", got, want)
	}
	if got, err := readOne(t, s, func(tx datastore.ReadTx) ([]uint64, error) { return tx.SearchPending(0, 1) }); err != nil || !slices.Equal(got, ids[:1]) {
		t.Fatalf("SearchPending(0, 1) = %v, %v; want [%d]", got, err, ids[0])
	}
	for _, after := range []uint64{ids[0], ids[1]} {
		if got, err := readOne(t, s, func(tx datastore.ReadTx) ([]uint64, error) { return tx.SearchPending(after, 10) }); err != nil || !slices.Equal(got, ids[2:]) {
			t.Fatalf("SearchPending(%d, 10) = %v, %v; want [%d]", after, got, err, ids[2])
		}
	}
	putSearchEntries(t, s, datastore.SearchEntry{CaseID: ids[2], KeyID: "m1", Tokens: [][]byte{searchToken(1)}})
	if got, want := pending(), ids[:1]; !slices.Equal(got, want) {
		t.Fatalf("pending after case %d's entry was written = %v, want %v", ids[2], got, want)
	}
	boom := errors.New("boom")
	if err := s.Update(t.Context(), func(tx datastore.Tx) error {
		if err := tx.MarkSearchPending(ids[1]); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Update: %v, want the body's error", err)
	}
	if err := s.Update(t.Context(), func(tx datastore.Tx) error { return tx.MarkSearchPending(99) }); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("MarkSearchPending of a case that does not exist: %v, want ErrNotFound", err)
	}
	if got, want := pending(), ids[:1]; !slices.Equal(got, want) {
		t.Fatalf("pending after a rolled-back mark and a refused one = %v, want %v", got, want)
	}
}

// The master the whole index is under is "" until recorded, then the
// last one recorded.
func testSearchIndexedUnder(t *testing.T, s datastore.Store) {
	under := func() string {
		t.Helper()
		got, err := readOne(t, s, func(tx datastore.ReadTx) (string, error) { return tx.SearchIndexedUnder() })
		if err != nil {
			t.Fatalf("SearchIndexedUnder: %v", err)
		}
		return got
	}
	if got := under(); got != "" {
		t.Fatalf("SearchIndexedUnder of a new store = %q, want none", got)
	}
	for _, id := range []string{"m1", "m2"} {
		update(t, s, func(tx datastore.Tx) error { return tx.SetSearchIndexedUnder(id) })
		if got := under(); got != id {
			t.Fatalf("SearchIndexedUnder after recording %s = %q", id, got)
		}
	}
}

// readTwo runs read in a read transaction and returns its results.
func readTwo[T, U any](t *testing.T, s datastore.Store, read func(datastore.ReadTx) (T, U, error)) (T, U, error) {
	t.Helper()
	var v T
	var u U
	var rerr error
	view(t, s, func(tx datastore.ReadTx) error {
		v, u, rerr = read(tx)
		return nil
	})
	return v, u, rerr
}
