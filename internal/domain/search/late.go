package search

import (
	"cmp"
	"errors"
	"slices"
	"sync"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// A report's candidates are found before its write, in a read
// transaction of their own (intake), and the index entries of the cases
// other writes open are written after those writes commit (Indexed). So
// two operators who take calls about the same child at the same moment
// each opened a case and neither was told of the other's: the later
// write committed after the other's case, but its search had read the
// index before that case was in it. The later write now looks, in its
// own transaction, at the cases its early search could not see (Since):
// those opened since, and those whose entry was still to be written
// then. A case has few of them (the writes of the same moment), and each
// is scored from tokens already made, so the write's transaction, which
// holds back every other write of its group commit, makes no search and,
// but for a case of another instance or one committed a moment before
// its write told this service its id, no entry.

// maxLate bounds the cases a write looks at beyond its early search: the
// newest, should more have been opened in between.
const maxLate = 64

// maxLateMade bounds the entries a write makes for cases whose tokens it
// has nowhere else (opened by another instance on the same store, and
// not yet indexed).
const maxLateMade = 4

// Since is what the early search of a report's candidates could not see:
// the cases opened after its transaction and those whose entries were
// pending in it, with the query and the index key of the master then
// current.
type Since struct {
	lastCaseID uint64
	pending    []uint64
	keyID      string
	query      Query
	probes     *lateProbes
}

// lateProbes are a query's probes and their tokens under one index key,
// made once for every run of a write's body.
type lateProbes struct {
	probes []probe
	tokens []string // of probes, by place
}

// SinceOf returns, inside the early search's transaction, what a search
// for the candidates of a report taken by p could not see. A report that
// looks for nothing needs nothing. The probes' tokens are made here, out
// of the write, when other writes are under way (cases pending, or
// reports of this instance opening cases); a write alone makes them only
// should a case be opened before it after all.
func (s *Service) SinceOf(tx datastore.ReadTx, p access.Principal, r model.Report) (Since, error) {
	q := QueryOfReport(r)
	if q.Empty() {
		return Since{}, nil
	}
	q.Reporters = p.MayKnowReporter()
	last, err := tx.LastCaseID()
	if err != nil {
		return Since{}, err
	}
	pending, err := tx.SearchPending(0, maxLate)
	if err != nil {
		return Since{}, err
	}
	since := Since{lastCaseID: last, pending: pending, keyID: s.currentKeyID(), query: q, probes: &lateProbes{}}
	if len(pending) > 0 || s.opening.any() {
		since.makeProbes(s)
	}
	return since, nil
}

// makeProbes makes the probes of the query and their tokens, once.
func (since Since) makeProbes(s *Service) *lateProbes {
	lp := since.probes
	if lp.probes != nil {
		return lp
	}
	tk := newTokenizer(s.vault.Keyring().Current().IndexKey())
	lp.probes = since.query.probes(s.communes)
	lp.tokens = make([]string, len(lp.probes))
	for i, pr := range lp.probes {
		lp.tokens[i] = string(tk.token(pr.feature))
	}
	return lp
}

// LateCandidates returns found with the cases since left out that the
// report's query matches, as p may see them, best first, at most
// IntakeCandidates, inside the write's transaction tx, leaving out the
// case the report opened or joined (its id skipID, its number skip).
func (s *Service) LateCandidates(tx datastore.ReadTx, p access.Principal, since Since, skipID uint64, skip string, found []Candidate) ([]Candidate, error) {
	if since.probes == nil || since.keyID != s.currentKeyID() {
		// Nothing to look for; or the master was rotated in between, and
		// the tokens are another key's: the early search stands.
		return found, nil
	}
	last, err := tx.LastCaseID()
	if err != nil {
		return nil, err
	}
	ids := slices.Clone(since.pending)
	for id := last; id > since.lastCaseID && len(ids) < maxLate+len(since.pending); id-- {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return found, nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	shown := make(map[string]bool, len(found))
	for _, c := range found {
		shown[c.Case.Number] = true
	}
	// A late case must score at least what the last of a full list does
	// to enter it (before it among equals, being newer).
	least := since.query.least()
	if len(found) == IntakeCandidates {
		least = max(least, found[len(found)-1].Score)
	}
	var hits []hit
	var lp *lateProbes
	made := 0
	for _, id := range slices.Backward(ids) {
		if id == skipID {
			continue
		}
		// Scored by id, from tokens made already, without reading the
		// case: of the writes of the moment, most are no candidate.
		tokens, ok, err := s.lateTokens(tx, id, since.keyID, &made)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if lp == nil {
			lp = since.makeProbes(s)
		}
		h := hit{id: id}
		for i := range lp.probes {
			if _, ok := tokens[lp.tokens[i]]; ok {
				h.addProbe(&lp.probes[i])
			}
		}
		if h.sum(); h.total >= least {
			hits = append(hits, h)
		}
	}
	if len(hits) == 0 {
		return found, nil
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if c := cmp.Compare(b.total, a.total); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	// The late cases are the newest: before the early ones among equal
	// scores, as a search ranks newer cases first. Only as many are read
	// and shaped for the caller as the list holds.
	var out []Candidate
	for _, h := range hits {
		if len(out) == IntakeCandidates {
			break
		}
		c, err := tx.CaseByID(h.id)
		if errors.Is(err, model.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.Number == skip || shown[c.Number] {
			continue
		}
		if r, ok := s.openingReport(h.id); ok && (len(c.ReportIDs) != 1 || c.ReportIDs[0] != r) {
			// Not the case of the report recorded under its id:
			// never so while OpeningCase follows the commit, but a
			// case scored by another report's tokens must not be shown.
			continue
		}
		view := s.policy.SearchView(p, Method, c)
		if view == access.ViewFull {
			if c, err = s.vault.OpenCase(tx, c); err != nil {
				return nil, err
			}
		}
		shaped, ok := access.Shape(p, view, c)
		if !ok {
			continue // out of scope: as if the case did not exist
		}
		out = append(out, Candidate{Case: shaped, View: view, Score: h.total, Matched: h.fields()})
	}
	if len(out) == 0 {
		return found, nil
	}
	out = append(out, found...)
	slices.SortStableFunc(out, func(a, b Candidate) int { return cmp.Compare(b.Score, a.Score) })
	return out[:min(len(out), IntakeCandidates)], nil
}

// lateTokens returns the tokens of the entry of the case with the given
// id under keyID: those of the report that opened it in this instance
// (Opening), else the stored entry when it is written and current, else
// an entry made here, at most maxLateMade a write (made counts them). ok
// is false for a case left out.
func (s *Service) lateTokens(tx datastore.ReadTx, id uint64, keyID string, made *int) (map[string]struct{}, bool, error) {
	if tokens, ok := s.openingTokens(id, keyID); ok {
		return tokens, true, nil
	}
	pending, err := tx.SearchPending(id-1, 1)
	if err != nil {
		return nil, false, err
	}
	if len(pending) == 0 || pending[0] != id {
		e, err := tx.SearchEntry(id)
		switch {
		case err == nil && e.KeyID == keyID:
			return tokenSet(e.Tokens), true, nil
		case err != nil && !errors.Is(err, model.ErrNotFound):
			return nil, false, err
		}
	}
	if *made == maxLateMade {
		return nil, false, nil
	}
	*made++
	c, err := tx.CaseByID(id)
	if errors.Is(err, model.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	e, err := s.entryOf(tx, c)
	if err != nil {
		// A case whose entry cannot be made is left out, as the index
		// leaves it out until it can (skipUnindexable).
		return nil, false, nil
	}
	return tokenSet(e.Tokens), true, nil
}

func tokenSet(tokens [][]byte) map[string]struct{} {
	set := make(map[string]struct{}, len(tokens))
	for _, t := range tokens {
		set[string(t)] = struct{}{}
	}
	return set
}

// openingTokens are the reports this instance is storing with the cases
// they open, by report id from before their writes (Opening) and by the
// id of their case once the write committed it (OpeningCase), until their
// cases' entries are written; and their tokens once a write of the same
// moment needs them (LateCandidates), where the case's entry is still to
// be written. The report is in memory already, for its own request; its
// tokens are made once, by the first write that asks.
type openingTokens struct {
	mu       sync.Mutex
	byReport map[string]*openingEntry
	byCase   map[uint64]*openingEntry
}

type openingEntry struct {
	report model.Report
	caseID uint64
	once   sync.Once
	keyID  string
	tokens map[string]struct{}
}

func newOpeningTokens() *openingTokens {
	return &openingTokens{byReport: map[string]*openingEntry{}, byCase: map[uint64]*openingEntry{}}
}

// any reports whether a report of this instance is opening a case.
func (o *openingTokens) any() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.byReport) > 0
}

func (s *Service) openingEntry(caseID uint64) (*openingEntry, bool) {
	s.opening.mu.Lock()
	defer s.opening.mu.Unlock()
	e, ok := s.opening.byCase[caseID]
	return e, ok
}

// openingReport returns the id of the report whose write gave its case
// caseID, in this instance, while its entry is to be written.
func (s *Service) openingReport(caseID uint64) (string, bool) {
	e, ok := s.openingEntry(caseID)
	if !ok {
		return "", false
	}
	return e.report.ID, true
}

func (s *Service) openingTokens(caseID uint64, keyID string) (map[string]struct{}, bool) {
	e, ok := s.openingEntry(caseID)
	if !ok {
		return nil, false
	}
	e.once.Do(func() {
		master := s.vault.Keyring().Current()
		e.keyID, e.tokens = EntryKeyID(master), tokenSet(Tokens(master.IndexKey(), s.units, e.report))
	})
	if e.keyID != keyID {
		return nil, false
	}
	return e.tokens, true
}

// Opening records r, a report about to be stored with the case it opens
// (its reporter in the clear, as the entry of the case holds it), until
// the returned release, which the caller calls once the case's entry is
// written or the write failed.
func (s *Service) Opening(r model.Report) (release func()) {
	e := &openingEntry{report: r}
	s.opening.mu.Lock()
	s.opening.byReport[r.ID] = e
	s.opening.mu.Unlock()
	return func() {
		s.opening.mu.Lock()
		defer s.opening.mu.Unlock()
		delete(s.opening.byReport, r.ID)
		if s.opening.byCase[e.caseID] == e {
			delete(s.opening.byCase, e.caseID)
		}
	}
}

// OpeningCase records the id of the case that the report reportID,
// recorded by Opening, opened: once its write has committed, never from
// inside the write's body. A body may run more than once, and on etcd
// ahead of its commit, each run taking an id; an id recorded from a run
// that was undone would be another write's case by then, scored by this
// report's tokens and so left out (TestAnUndoneRunsCaseIDIsNotTakenForTheReports).
// Until it is recorded, the writes of the same moment score the case
// from an entry they make (lateTokens).
func (s *Service) OpeningCase(reportID string, caseID uint64) {
	s.opening.mu.Lock()
	defer s.opening.mu.Unlock()
	e, ok := s.opening.byReport[reportID]
	if !ok {
		return
	}
	if s.opening.byCase[e.caseID] == e {
		delete(s.opening.byCase, e.caseID)
	}
	e.caseID = caseID
	s.opening.byCase[caseID] = e
}
