package search

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// countingTx counts the postings a search reads (read): the case ids its
// tokens' look-ups give (also in listed, if set), and the cases it looks
// tokens up among.
type countingTx struct {
	datastore.ReadTx
	read, listed *int
}

func (c countingTx) CasesWithToken(token []byte, limit int) ([]uint64, error) {
	ids, err := c.ReadTx.CasesWithToken(token, limit)
	*c.read += len(ids)
	if c.listed != nil {
		*c.listed += len(ids)
	}
	return ids, err
}

func (c countingTx) CasesWithTokenInScopes(token []byte, scopes []string, held []units.Key, limit int) ([]uint64, error) {
	ids, err := c.ReadTx.CasesWithTokenInScopes(token, scopes, held, limit)
	*c.read += len(ids)
	if c.listed != nil {
		*c.listed += len(ids)
	}
	return ids, err
}

func (c countingTx) CasesWithTokenAmong(token []byte, caseIDs []uint64) ([]uint64, error) {
	*c.read += len(caseIDs)
	return c.ReadTx.CasesWithTokenAmong(token, caseIDs)
}

// sameNames is a city where many children share one name: the child
// looked for (the first, the oldest case), then n children named alike
// born on other days, each with a commune and a phone of their own.
func sameNames(n int) []corpusChild {
	birth := vntime.Date{Year: 2017, Month: time.May, Day: 1}
	out := []corpusChild{{Name: "Nguyễn Thị Lan", BirthDate: birth.String(), Commune: "00004@2025-07-01", Caregiver: "Nguyễn Văn Hùng", Phone: "0912000000"}}
	for i := range n {
		out = append(out, corpusChild{
			Name: "Nguyễn Thị Lan", BirthDate: birth.AddDays(1 + i%3000).String(), Commune: "00070@2025-07-01",
			Caregiver: "Trần Văn Bình", Phone: fmt.Sprintf("09%08d", 1000000+i),
		})
	}
	return out
}

// A search costs about the same however many children share the name it
// looks for: it reads each token's newest cases only, and the child it
// looks for, older than all of them, comes by the token of their name
// with the birth date. On 200 and on 3,000 namesakes the search reads
// no more postings (it reads firstPostings a token where there are more)
// and finds the child first; a search by the shared name alone gets the
// newest namesakes, best first among equals.
func TestSearchCostDoesNotGrowWithNamesakes(t *testing.T) {
	read := map[int]int{}
	for _, n := range []int{200, 3000} {
		s, store, ids := indexCorpus(t, sameNames(n))
		child := Query{ChildName: "lan nguyen thi", BirthDate: vntime.Date{Year: 2017, Month: time.May, Day: 1}}
		count := 0
		got := rankedThrough(t, s, store, child, func(tx datastore.ReadTx) datastore.ReadTx { return countingTx{ReadTx: tx, read: &count} })
		if len(got) == 0 || got[0] != ids[0] {
			t.Errorf("%d namesakes: the child's case %d is not first of %d candidates", n, ids[0], len(got))
		}
		read[n] = count
		listed := 0
		shared := rankedThrough(t, s, store, Query{ChildName: "Nguyễn Thị Lan"}, func(tx datastore.ReadTx) datastore.ReadTx {
			return countingTx{ReadTx: tx, read: new(int), listed: &listed}
		})
		if want := []uint64{ids[n], ids[n-1], ids[n-2], ids[n-3], ids[n-4]}; len(shared) < 5 || !slices.Equal(shared[:5], want) {
			t.Errorf("%d namesakes: the shared name ranks %v first, want the newest %v", n, shared[:min(5, len(shared))], want)
		}
		// The whole name's newest cases score 6 each (it is read as
		// written and given name first, which every namesake is indexed
		// under too); a case its other tokens (one syllable off 4,
		// without middle names 3) bring could not pass them, so those
		// tokens are not read.
		if listed != 2*firstPostings {
			t.Errorf("%d namesakes: the shared name read %d postings of its tokens, want the whole name's 2×%d", n, listed, firstPostings)
		}
	}
	if read[3000] > read[200] {
		t.Errorf("the search read %d postings among 3,000 namesakes, %d among 200: want no more", read[3000], read[200])
	}
	t.Logf("postings read: %v", read)
}

// A commune worker sees only their commune's cases: when the newest
// namesakes are all out of their scope, the search, which reads a
// token's cases within that scope, finds the one of their commune.
func TestSearchReadsFurtherForANarrowScope(t *testing.T) {
	s, store, ids := indexCorpus(t, sameNames(150)) // within the 200 a search examines
	worker := access.Principal{UserID: "worker", Role: model.RoleCommuneWorker, Unit: access.UnitName(mustKey("00004@2025-07-01"))}
	got := viewed(t, store, func(tx datastore.ReadTx) ([]Candidate, error) {
		return s.candidates(tx, worker, Query{ChildName: "Nguyễn Thị Lan"}, IntakeCandidates, "")
	})
	if len(got) != 1 || got[0].Case.ID != ids[0] {
		t.Fatalf("the worker's search found %d candidates (%+v), want only their commune's case %d", len(got), got, ids[0])
	}
}

// A candidate's score and matched fields are its own case's: they do not
// tell the caller how many cases out of their scope share a token. A
// commune worker's child (their oldest case, found by name and phone)
// has 19 newer namesakes in the commune; a namesake of another commune,
// newer still, pushed the worker's child out of the whole name's newest
// firstPostings, and the child then scored by the phone alone (5, not
// 11): a worker who made those 19 cases could watch the score to learn
// that a child of that name had a case opened elsewhere since.
func TestACandidatesScoreDoesNotTellOfCasesOutOfScope(t *testing.T) {
	const mine, theirs = "00004@2025-07-01", "00070@2025-07-01"
	corpus := []corpusChild{{Name: "Nguyễn Thị Lan", BirthDate: "2017-05-01", Commune: mine, Caregiver: "Nguyễn Văn Hùng", Phone: "0912000000"}}
	for i := range firstPostings - 1 {
		corpus = append(corpus, corpusChild{Name: "Nguyễn Thị Lan", BirthDate: "2016-01-01", Commune: mine, Caregiver: "Trần Văn Bình", Phone: fmt.Sprintf("09%08d", 1000000+i)})
	}
	worker := access.Principal{UserID: "worker", Role: model.RoleCommuneWorker, Unit: access.UnitName(mustKey(mine))}
	q := Query{ChildName: "Nguyễn Thị Lan", Phone: "0912000000"}
	childOf := func(corpus []corpusChild) Candidate {
		t.Helper()
		s, store, ids := indexCorpus(t, corpus)
		got := viewed(t, store, func(tx datastore.ReadTx) ([]Candidate, error) { return s.candidates(tx, worker, q, MaxCandidates, "") })
		for _, c := range got {
			if c.Case.ID == ids[0] {
				return c
			}
		}
		t.Fatalf("the worker's child is not among %d candidates", len(got))
		return Candidate{}
	}
	alone := childOf(corpus)
	if alone.Score != 11 {
		t.Fatalf("the worker's child scores %v %v, want 11: the whole name and the phone", alone.Score, alone.Matched)
	}
	elsewhere := childOf(append(corpus, corpusChild{Name: "Nguyễn Thị Lan", BirthDate: "2018-03-03", Commune: theirs, Caregiver: "Lê Văn Tâm", Phone: "0987654321"}))
	if elsewhere.Score != alone.Score || !slices.Equal(elsewhere.Matched, alone.Matched) {
		t.Errorf("with a namesake of another commune the worker's child scores %v %v, without it %v %v: the score tells of a case out of scope",
			elsewhere.Score, elsewhere.Matched, alone.Score, alone.Matched)
	}
}

// A commune worker's child is found however many cases of other communes
// match the query better or as well: the search ranks the cases of the
// caller's scope alone, so the cases it reads, at most maxExamined, are
// of that scope. Here 250 namesakes of another commune, each newer
// (first among equal scores), came before the worker's child, and the
// search read the 200 best and found nothing.
func TestSearchFindsANarrowScopesMatchBehindTheBoundOfOthers(t *testing.T) {
	s, store, ids := indexCorpus(t, sameNames(maxExamined+50))
	worker := access.Principal{UserID: "worker", Role: model.RoleCommuneWorker, Unit: access.UnitName(mustKey("00004@2025-07-01"))}
	reads := 0
	got := viewed(t, store, func(tx datastore.ReadTx) ([]Candidate, error) {
		return s.candidates(casesCountingTx{ReadTx: tx, reads: &reads}, worker, Query{ChildName: "Nguyễn Thị Lan"}, IntakeCandidates, "")
	})
	if len(got) != 1 || got[0].Case.ID != ids[0] {
		t.Fatalf("the worker's search found %d candidates (%+v), want only their commune's case %d", len(got), got, ids[0])
	}
	if reads > IntakeCandidates+1 {
		t.Errorf("the search read %d cases, want at most %d: the others are out of the worker's scope", reads, IntakeCandidates+1)
	}
}

// casesCountingTx counts the cases a search reads.
type casesCountingTx struct {
	datastore.ReadTx
	reads *int
}

func (c casesCountingTx) CaseByID(id uint64) (model.Case, error) {
	*c.reads++
	return c.ReadTx.CaseByID(id)
}

// However many newer cases of other communes share every token of a
// commune worker's query, the worker's own match is found: a token's
// cases are read within the caller's scope (the scope index beside the
// token's postings), not as the newest of the city's first. Behind
// postingLimit+100 namesakes of another commune, the name alone finds the
// worker's child, whom a search that read the newest postingLimit cases
// of each token did not reach.
func TestSearchReadsATokensCasesWithinTheCallersScope(t *testing.T) {
	s, store, ids := indexCorpus(t, sameNames(postingLimit+100))
	worker := access.Principal{UserID: "worker", Role: model.RoleCommuneWorker, Unit: access.UnitName(mustKey("00004@2025-07-01"))}
	read := 0
	got := viewed(t, store, func(tx datastore.ReadTx) ([]Candidate, error) {
		return s.candidates(countingTx{ReadTx: tx, read: &read}, worker, Query{ChildName: "Nguyễn Thị Lan"}, IntakeCandidates, "")
	})
	if len(got) != 1 || got[0].Case.ID != ids[0] {
		t.Fatalf("the worker's search by the name found %d candidates (%+v), want only their commune's case %d", len(got), got, ids[0])
	}
	if read > 100 {
		t.Errorf("the search read %d postings, want a few: those of the worker's scope", read)
	}
}
