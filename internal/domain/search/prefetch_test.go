package search

import (
	"fmt"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// prefetchingTx records what a search names to Prefetch, and each read
// it makes that no Prefetch named before (missed): on etcd each such
// read is a round trip of its own, where the named ones come in one.
type prefetchingTx struct {
	datastore.ReadTx
	prefetches *int
	tokens     map[string]int // the limit each token was named with
	among      map[string]map[uint64]bool
	cases      map[uint64]bool
	missed     *[]string
}

func newPrefetchingTx(tx datastore.ReadTx, prefetches *int, missed *[]string) prefetchingTx {
	return prefetchingTx{ReadTx: tx, prefetches: prefetches, missed: missed,
		tokens: map[string]int{}, among: map[string]map[uint64]bool{}, cases: map[uint64]bool{}}
}

func (p prefetchingTx) Prefetch(f datastore.Prefetch) {
	*p.prefetches++
	for _, tok := range f.Tokens {
		p.tokens[string(tok)] = max(p.tokens[string(tok)], f.TokenLimit)
	}
	for _, tok := range f.AmongTokens {
		if p.among[string(tok)] == nil {
			p.among[string(tok)] = map[uint64]bool{}
		}
		for _, id := range f.AmongCaseIDs {
			p.among[string(tok)][id] = true
		}
	}
	for _, id := range f.CaseIDs {
		p.cases[id] = true
	}
	p.ReadTx.Prefetch(f)
}

func (p prefetchingTx) CasesWithToken(token []byte, limit int) ([]uint64, error) {
	if p.tokens[string(token)] < limit {
		*p.missed = append(*p.missed, fmt.Sprintf("CasesWithToken(%x, %d)", token, limit))
	}
	return p.ReadTx.CasesWithToken(token, limit)
}

func (p prefetchingTx) CasesWithTokenAmong(token []byte, caseIDs []uint64) ([]uint64, error) {
	for _, id := range caseIDs {
		if !p.among[string(token)][id] {
			*p.missed = append(*p.missed, fmt.Sprintf("CasesWithTokenAmong(%x, %d)", token, id))
		}
	}
	return p.ReadTx.CasesWithTokenAmong(token, caseIDs)
}

func (p prefetchingTx) CaseByID(id uint64) (model.Case, error) {
	if !p.cases[id] {
		*p.missed = append(*p.missed, fmt.Sprintf("CaseByID(%d)", id))
	}
	return p.ReadTx.CaseByID(id)
}

// A search names each read it makes to Prefetch before it makes it, a
// few names at a time: the tokens of the strongest tier of its query,
// then those of the other tiers it has not found skippable by then, the
// tie-breakers among the cases found, the cases ranked first. On etcd
// its round trips are so many steps, whatever the number of tokens and
// cases (TestSearchReadsCostRoundTripsNotTokens in etcdstore).
func TestSearchPrefetchesWhatItReads(t *testing.T) {
	corpus := sameNames(40)
	corpus = append(corpus, corpusChild{Name: "Nguyễn Thị Lam", BirthDate: "2017-05-01", Commune: "00004@2025-07-01",
		Caregiver: "Nguyễn Văn Hùng", Phone: "0912000001"})
	s, store, _ := indexCorpus(t, corpus)
	q := Query{ChildName: "Nguyễn Thị Lan", BirthDate: vntime.Date{Year: 2017, Month: time.May, Day: 1},
		CaregiverName: "Nguyễn Văn Hùng", Phone: "0912000000", Commune: mustKey("00004@2025-07-01"), BirthYear: 2017}
	if n := len(q.probes(s.communes)); n < 10 {
		t.Fatalf("the query has %d probes, want many", n)
	}
	worker := access.Principal{UserID: "worker", Role: model.RoleCommuneWorker, Unit: access.UnitName(mustKey("00004@2025-07-01"))}
	prefetches := 0
	var missed []string
	got := viewed(t, store, func(tx datastore.ReadTx) ([]Candidate, error) {
		return s.candidates(newPrefetchingTx(tx, &prefetches, &missed), worker, q, IntakeCandidates, "")
	})
	if len(got) == 0 {
		t.Fatal("the search found nothing")
	}
	if len(missed) > 0 {
		t.Errorf("%d reads were not prefetched: %q", len(missed), missed)
	}
	// The worker sees 2 of the 42 cases: the search reads twice (the
	// newest 20 cases a token, then 2,000), and each time fetches the
	// strongest tier's tokens, the other tokens, the tie-breakers among
	// the cases found, and the cases in batches that double from 6 (6,
	// 6, 10 of 22 ranked; 6, 6, 12, 18 of 42), where the reads it names
	// are 40 tokens, 17 and 13 tie-breakers among 22 and 42 cases, and 64
	// cases.
	if prefetches > 13 {
		t.Errorf("the search made %d prefetches, want at most 13", prefetches)
	}
}
