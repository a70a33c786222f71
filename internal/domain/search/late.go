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
// but for a case of another instance, no entry.

// maxLate bounds the cases a write looks at beyond its early search: the
// newest, should more have been opened in between.
const maxLate = 64

// maxLateMade bounds the entries a write makes for cases whose tokens it
// has nowhere else (opened by another instance on the same store, and
// not yet indexed).
const maxLateMade = 4

// Since is what the early search of a report's candidates could not see:
// the cases opened after its transaction and those whose entries were
// pending in it, with the query's probes and their tokens under the
// index key of the master then current.
type Since struct {
	lastCaseID uint64
	pending    []uint64
	keyID      string
	query      Query
	probes     []probe
	tokens     []string // of probes, by place
}

// SinceOf returns, inside the early search's transaction, what a search
// for the candidates of a report taken by p could not see. A report that
// looks for nothing needs nothing.
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
	master := s.vault.Keyring().Current()
	tk := newTokenizer(master.IndexKey())
	probes := q.probes(s.communes)
	tokens := make([]string, len(probes))
	for i, pr := range probes {
		tokens[i] = string(tk.token(pr.feature))
	}
	return Since{lastCaseID: last, pending: pending, keyID: EntryKeyID(master), query: q, probes: probes, tokens: tokens}, nil
}

// LateCandidates returns found with the cases since left out that the
// report's query matches, as p may see them, best first, at most
// IntakeCandidates, inside the write's transaction tx, leaving out the
// case the report opened or joined (skip).
func (s *Service) LateCandidates(tx datastore.ReadTx, p access.Principal, since Since, skip string, found []Candidate) ([]Candidate, error) {
	if len(since.probes) == 0 || since.keyID != s.currentKeyID() {
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
	type lateHit struct {
		hit
		cand Candidate
	}
	var late []lateHit
	made := 0
	for _, id := range slices.Backward(ids) {
		c, err := tx.CaseByID(id)
		if errors.Is(err, model.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.Number == skip || shown[c.Number] {
			continue
		}
		tokens, ok, err := s.lateTokens(tx, c, since.keyID, &made)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		h := hit{id: id}
		for i := range since.probes {
			if _, ok := tokens[since.tokens[i]]; ok {
				h.addProbe(&since.probes[i])
			}
		}
		if h.sum(); h.total < since.query.least() {
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
		late = append(late, lateHit{hit: h, cand: Candidate{Case: shaped, View: view, Score: h.total, Matched: h.fields()}})
	}
	if len(late) == 0 {
		return found, nil
	}
	// The late cases are the newest: before the early ones among equal
	// scores, as a search ranks newer cases first.
	slices.SortStableFunc(late, func(a, b lateHit) int {
		if c := cmp.Compare(b.total, a.total); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	out := make([]Candidate, 0, len(late)+len(found))
	for _, l := range late {
		out = append(out, l.cand)
	}
	out = append(out, found...)
	slices.SortStableFunc(out, func(a, b Candidate) int { return cmp.Compare(b.Score, a.Score) })
	return out[:min(len(out), IntakeCandidates)], nil
}

// lateTokens returns the tokens of c's entry under keyID: those a write
// of this instance made before its transaction when c is the case its
// report opened (Opening), else the stored entry when it is written and
// current, else an entry made here, at most maxLateMade a write (made
// counts them). ok is false for a case left out.
func (s *Service) lateTokens(tx datastore.ReadTx, c model.Case, keyID string, made *int) (map[string]struct{}, bool, error) {
	if len(c.ReportIDs) == 1 {
		if tokens, ok := s.opening.tokens(c.ReportIDs[0], keyID); ok {
			return tokens, true, nil
		}
	}
	pending, err := tx.SearchPending(c.ID-1, 1)
	if err != nil {
		return nil, false, err
	}
	if len(pending) == 0 || pending[0] != c.ID {
		e, err := tx.SearchEntry(c.ID)
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

// openingTokens are the tokens of the reports this instance is storing
// with the cases they open, by report id, made before their writes
// (Opening) and kept until their cases' entries are written: what a
// write of the same moment scores such a case by (LateCandidates), where
// the case's entry is still to be written.
type openingTokens struct {
	mu       sync.Mutex
	byReport map[string]openingEntry
}

type openingEntry struct {
	keyID  string
	tokens map[string]struct{}
}

func newOpeningTokens() *openingTokens {
	return &openingTokens{byReport: map[string]openingEntry{}}
}

func (o *openingTokens) tokens(reportID, keyID string) (map[string]struct{}, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.byReport[reportID]
	if !ok || e.keyID != keyID {
		return nil, false
	}
	return e.tokens, true
}

// Opening records the tokens of r, a report about to be stored with the
// case it opens (its reporter in the clear, as the entry of the case
// holds it), until the returned release, which the caller calls once
// the case's entry is written or the write failed.
func (s *Service) Opening(r model.Report) (release func()) {
	master := s.vault.Keyring().Current()
	e := openingEntry{keyID: EntryKeyID(master), tokens: tokenSet(Tokens(master.IndexKey(), s.units, r))}
	s.opening.mu.Lock()
	s.opening.byReport[r.ID] = e
	s.opening.mu.Unlock()
	return func() {
		s.opening.mu.Lock()
		delete(s.opening.byReport, r.ID)
		s.opening.mu.Unlock()
	}
}
