// Package search finds the child: a blind index over the sealed names,
// birth dates, phones and communes of every case, and the ranked search
// over it that hotline staff run before opening a case. The index holds
// keyed tokens only (HMAC-SHA-256 under an index key derived from the
// master key, see keys.MasterKey.IndexKey) of values normalised so that
// the same child typed differently meets itself: no plain value, and no
// hash anyone without the key could compute, ever reaches storage.
// It applies the access rules to every answer and audits every search
// with its query sealed. It must not know about protobuf, gRPC or bbolt.
package search

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
)

// Method is the API method a search is: its row of the access table says
// who may search and what each gets.
const Method = "CaseService/SearchCases"

// MaxCandidates is the most candidates a search returns, and
// IntakeCandidates how many a new report's answer lists.
const (
	MaxCandidates    = 20
	IntakeCandidates = 5
)

// A search reads each token's cases newest first, at first only the
// newest firstPostings of them: a name or a birth date that more cases
// share than that (a common name in a large city) brings its newest
// cases, and the older ones that the query's other fields single out
// come by the tokens of a name with the birth date, which few cases
// share at any size. So a search costs about the same in a city of a
// million cases as in one of ten thousand. When that first pass leaves
// the caller fewer candidates than they asked for because cases it ranked
// are out of their scope (a commune's staff, whose cases are a few of the
// city's), the search reads again up to postingLimit cases a token,
// O(matches) as before. firstPostings is MaxCandidates: one token's cases
// can fill a search's answer.
const (
	firstPostings = MaxCandidates
	postingLimit  = 2000
)

// Service indexes cases and searches them.
type Service struct {
	store  datastore.Store
	units  *units.Registry
	policy *access.Policy
	vault  *vault.Vault
	clock  clock.Clock
	log    *slog.Logger
	queue  *indexQueue // the writes waiting for their index entries
	// communes are the communes a query's commune looks up, kept
	// (communeCache).
	communes *communeCache
	// opening are the tokens of the reports being stored with the cases
	// they open (Opening), for the writes of the same moment.
	opening *openingTokens
}

// Deps are what the service needs.
type Deps struct {
	Store datastore.Store
	Units *units.Registry
	Vault *vault.Vault
	Clock clock.Clock
	Log   *slog.Logger
}

// New returns a search service.
func New(d Deps) *Service {
	return &Service{store: d.Store, units: d.Units, policy: access.New(d.Units), vault: d.Vault, clock: d.Clock, log: d.Log,
		queue: newIndexQueue(), communes: newCommuneCache(d.Units), opening: newOpeningTokens()}
}

// Candidate is a case a search found, as its caller may see it.
type Candidate struct {
	Case  model.Case      // shaped for the caller: whole, or the candidate view
	View  access.CaseView // ViewFull or ViewCandidate
	Score float64
	// Matched are the query's fields the case matched, in the order of
	// the Field constants.
	Matched []Field
}

// IndexCase (re)writes c's index entry from all its reports, under the
// index key of the current master, inside the caller's transaction: the
// tokens change with the case, in the same commit. It clears the case's
// pending mark (MarkPending).
func (s *Service) IndexCase(tx datastore.Tx, c model.Case) error {
	e, err := s.entryOf(tx, c)
	if err != nil {
		return err
	}
	return tx.PutSearchEntry(e)
}

// entryOf makes c's index entry from all its reports, as tx has them,
// writing nothing.
func (s *Service) entryOf(tx datastore.ReadTx, c model.Case) (datastore.SearchEntry, error) {
	master := s.vault.Keyring().Current()
	var reports []model.Report
	for _, id := range c.ReportIDs {
		stored, err := tx.Report(id)
		if err != nil {
			return datastore.SearchEntry{}, fmt.Errorf("index case %s: %w", c.Number, err)
		}
		r, err := s.vault.OpenReport(tx, stored)
		if err != nil {
			return datastore.SearchEntry{}, fmt.Errorf("index case %s: %w", c.Number, err)
		}
		// The reporter's phone finds the case again when the same person
		// calls back; it is opened here only to be MAC'd, never shown.
		if r.Reporter, err = s.vault.OpenReporter(tx, stored); err != nil {
			return datastore.SearchEntry{}, fmt.Errorf("index case %s: %w", c.Number, err)
		}
		reports = append(reports, r)
	}
	return datastore.SearchEntry{
		CaseID: c.ID, KeyID: EntryKeyID(master), Tokens: Tokens(master.IndexKey(), s.units, reports...),
	}, nil
}

// indexFormat is the way this version makes an entry's tokens. It follows
// the master key's id in every entry (EntryKeyID) and in the record that
// the index is complete (SetSearchIndexedUnder), so that an entry of
// another format is stale exactly as one under another master is: at
// start CatchUp indexes every case again (Rebuild), as after a rotation.
// Format 2 puts the reporter's names and phones under kinds of their own;
// before it they shared a caregiver's, and matched anyone's search.
// Format 3 folds Đ's look-alikes (ð, ɖ) to d, as Fold does đ. Format 4
// drops format characters (a zero-width space, a word joiner) inside a
// name, where format 3 broke the syllable at them. Format 5 folds
// full-width letters and digits to ASCII and the Cyrillic and Greek
// letters drawn as Latin ones (a Cyrillic Н, a Greek Ρ) to the Latin
// letter they show, which format 4 kept apart. Format 6 reads only the
// width forms so, where format 5 took every compatibility form (NFKC),
// which writes some single letters as several words.
const indexFormat = "/6"

// reporterKindsSince is the first format whose entries keep the
// reporter's names and phones under kinds of their own: an entry of it or
// a later one (a KeyID with a format suffix) holds no reporter's value
// under a caregiver's kind.
const reporterKindsSince = 2

// keepsReporterApart reports whether an entry made under keyID (or an
// index recorded complete under it) keeps the reporter's values under
// kinds of their own, being of format reporterKindsSince or later.
func keepsReporterApart(keyID string) bool {
	_, format, ok := strings.Cut(keyID, "/")
	n, err := strconv.Atoi(format)
	return ok && err == nil && n >= reporterKindsSince
}

// EntryKeyID is the KeyID of an index entry made now under master: its
// id and the index format.
func EntryKeyID(master keys.MasterKey) string { return master.ID() + indexFormat }

// currentKeyID is the KeyID of the entries made now.
func (s *Service) currentKeyID() string { return EntryKeyID(s.vault.Keyring().Current()) }

// scoreFields are the query's fields in the one order a score sums them
// in (float sums are not associative) and a candidate lists them in.
var scoreFields = [...]Field{FieldBirthDate, FieldBirthYear, FieldCaregiverName, FieldChildName, FieldCommune, FieldPhone}

// tieBreaker reports whether a field only breaks ties: its weight and the
// other tie-breakers' together stay under MinScore
// (TestTieBreakersCannotQualify), so no case qualifies by them alone.
func tieBreaker(f Field) bool { return f == FieldBirthYear || f == FieldCommune }

// fieldIndex is the place of f in scoreFields.
func fieldIndex(f Field) int {
	for i, g := range scoreFields {
		if g == f {
			return i
		}
	}
	panic("search: unknown field " + string(f))
}

// hit is what one case matched: the best weight per field (by the
// field's place in scoreFields), and the score once they are all in. A
// search may touch thousands of cases: a hit allocates nothing more.
type hit struct {
	id      uint64
	best    [len(scoreFields)]float64
	matched [len(scoreFields)]bool
	total   float64
}

// add adds a match in the field of slot i (its place in scoreFields).
func (h *hit) add(i int, weight float64) {
	h.best[i], h.matched[i] = max(h.best[i], weight), true
}

// addProbe adds what a match of p gives: its field, and the second one of
// a name with the birth date.
func (h *hit) addProbe(p *probe) {
	h.add(p.slot, p.weight)
	if p.also != "" {
		h.add(p.alsoSlot, p.alsoWeight)
	}
}

// gains reports whether a match of p could add to h: p's field is not
// matched as strongly yet, or p has a second field.
func (h *hit) gains(p *probe) bool {
	return p.also != "" || !h.matched[p.slot] || h.best[p.slot] < p.weight
}

func (h *hit) sum() {
	h.total = 0
	for i := range scoreFields {
		if h.matched[i] {
			h.total += h.best[i]
		}
	}
}

// fields are the fields h matched, in the order of scoreFields.
func (h *hit) fields() []Field {
	var out []Field
	for i, f := range scoreFields {
		if h.matched[i] {
			out = append(out, f)
		}
	}
	return out
}

// lookup is a probe's token under one master's index key. It points into
// the query's probes: a probe is large, and a search makes dozens of
// look-ups.
type lookup struct {
	*probe
	token []byte
}

// rank returns the cases q matches with at least q.least(), best first
// (newest first among equals), looking each token up under the index key
// of every master in the keyring: during a rotation a case is indexed
// under the old key until Rebuild reaches it, and is found all the same.
// It reads at most limit cases of each token, the newest, and skips a
// token that cannot bring a case into the first k (skippable); it
// reports whether it read less than every match (partial), and the
// tokens read only in part (cut), which an older case found by another
// token did not count (ownScores counts them for the cases shown).
func (s *Service) rank(tx datastore.ReadTx, q Query, limit, k int) (_ []hit, cut []lookup, partial bool, _ error) {
	// The hits in one slice, found by id through at: a search's cost is
	// its postings, so it allocates per search rather than per case.
	hits := make([]hit, 0, 4*limit)
	at := make(map[uint64]int, 4*limit)
	probes := q.probes(s.communes)
	// A year or a commune only break ties (their weights together stay
	// under MinScore): when the query has anything else, a case that
	// qualifies is found by that, and the tie-breakers are looked up for
	// the cases found, one key each, instead of reading their tokens'
	// thousands of cases.
	finders, breakers := make([]*probe, 0, len(probes)), make([]*probe, 0, len(probes))
	for i := range probes {
		if p := &probes[i]; tieBreaker(p.field) {
			breakers = append(breakers, p)
		} else {
			finders = append(finders, p)
		}
	}
	if len(finders) == 0 {
		finders, breakers = breakers, nil
	}
	// The strongest first (a name with the birth date, a whole name, a
	// phone), so that the weaker ones may be skipped.
	slices.SortStableFunc(finders, func(a, b *probe) int { return cmp.Compare(strength(b), strength(a)) })
	var among []lookup           // looked up among the cases found
	top := make([]float64, 0, k) // kthTotal's heap
	for _, m := range s.vault.Keyring().Masters() {
		tk := newTokenizer(m.IndexKey())
		toks := make([][]byte, len(finders))
		for i, p := range finders {
			toks[i] = tk.token(p.feature)
		}
		// read are the tokens read, by probe id (numberProbes): every
		// case a token counts for (its newest limit) is in hits; complete
		// those read to their end.
		read, complete := make([]bool, len(probes)), make([]bool, len(probes))
		fetched := 0 // the tokens of finders[:fetched] are prefetched
		for i, p := range finders {
			tok := toks[i]
			// The k-th best score of the cases found so far, which
			// only a token read changes: the same for every finder
			// asked about below.
			kth, full := kthTotal(hits, k, top)
			if p.also == "" && full && skippable(p, probes, read, complete, kth) {
				among, partial = append(among, lookup{p, tok}), true
				continue
			}
			if i >= fetched {
				// First the tokens of the strongest tier (the finders as
				// strong as p), whose cases may make the weaker ones
				// skippable; then every other token not skippable now. A
				// token skippable now stays so (the cases found and the
				// tokens read only grow), so the second fetch holds all
				// that is read after it.
				fetched = len(finders)
				if i == 0 {
					fetched = 1
					for fetched < len(finders) && strength(finders[fetched]) == strength(p) {
						fetched++
					}
				}
				next := [][]byte{tok}
				for j := i + 1; j < fetched; j++ {
					if finders[j].also != "" || !full || !skippable(finders[j], probes, read, complete, kth) {
						next = append(next, toks[j])
					}
				}
				if !q.scoped {
					tx.Prefetch(datastore.Prefetch{Tokens: next, TokenLimit: limit})
				}
			}
			ids, err := casesWithToken(tx, q, tok, limit)
			if err != nil {
				return nil, nil, false, err
			}
			read[p.id] = true
			if len(ids) == limit {
				partial = true
				cut = append(cut, lookup{p, tok})
			} else {
				complete[p.id] = true
			}
			for _, id := range ids {
				i, ok := at[id]
				if !ok {
					i = len(hits)
					at[id] = i
					hits = append(hits, hit{id: id})
				}
				hits[i].addProbe(p)
			}
		}
		for _, p := range breakers {
			among = append(among, lookup{p, tk.token(p.feature)})
		}
	}
	// A case the look-ups cannot lift to MinScore is left out before
	// they are made: a common family and middle name finds thousands of
	// cases by one syllable off, and each look-up is a seek.
	var lift [len(scoreFields)]float64
	for _, l := range among {
		i := fieldIndex(l.field)
		lift[i] = max(lift[i], l.weight)
	}
	var most float64
	for _, w := range lift {
		most += w
	}
	var lifted []int // the places in hits of the cases looked up, by id
	for i := range hits {
		if hits[i].sum(); hits[i].total+most >= q.least() {
			lifted = append(lifted, i)
		}
	}
	slices.SortFunc(lifted, func(a, b int) int { return cmp.Compare(hits[a].id, hits[b].id) })
	liftable := make([]uint64, len(lifted))
	for i, h := range lifted {
		liftable[i] = hits[h].id
	}
	if len(liftable) > 0 && len(among) > 0 {
		toks := make([][]byte, len(among))
		for i, l := range among {
			toks[i] = l.token
		}
		tx.Prefetch(datastore.Prefetch{AmongTokens: toks, AmongCaseIDs: liftable})
	}
	asked := make([]uint64, 0, len(liftable))
	for _, l := range among {
		// A case that matched l's field with l's weight or more gains
		// nothing by it, and is not asked about: a commune's versions
		// and the years about an age are a dozen tokens of one weight,
		// of which a case matches one.
		asked = asked[:0]
		for _, i := range lifted {
			if h := &hits[i]; h.gains(l.probe) {
				asked = append(asked, h.id)
			}
		}
		if len(asked) == 0 {
			continue
		}
		ids, err := tx.CasesWithTokenAmong(l.token, asked)
		if err != nil {
			return nil, nil, false, err
		}
		for _, id := range ids {
			hits[at[id]].addProbe(l.probe)
		}
	}
	if !q.Reporters {
		if err := withoutOlderEntries(tx, hits); err != nil {
			return nil, nil, false, err
		}
	}
	out := hits[:0]
	for _, h := range hits {
		if h.sum(); h.total >= q.least() {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b hit) int {
		if c := cmp.Compare(b.total, a.total); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	return out, cut, partial, nil
}

// casesWithToken reads the newest limit cases of a token, those of the
// caller's scope alone when q is scoped.
func casesWithToken(tx datastore.ReadTx, q Query, token []byte, limit int) ([]uint64, error) {
	if q.scoped {
		return tx.CasesWithTokenInScopes(token, q.scopes, q.held, limit)
	}
	return tx.CasesWithToken(token, limit)
}

// withoutOlderEntries takes from hits what a phone and a caregiver's name
// matched in an entry of a format before the reporter's kinds
// (keepsReporterApart), while the index is not recorded complete in such
// a format: the rebuild that makes such entries anew runs in the
// background while the service answers (CatchUp), and an older entry
// holds the reporter's name and phone under a caregiver's kinds, so that
// its match could confirm a guess at who reported. A caregiver's match
// there waits for the rebuild too; once the index is complete in such a
// format, this reads one key.
func withoutOlderEntries(tx datastore.ReadTx, hits []hit) error {
	under, err := tx.SearchIndexedUnder()
	if err != nil || keepsReporterApart(under) {
		return err
	}
	phone, caregiver := fieldIndex(FieldPhone), fieldIndex(FieldCaregiverName)
	for i := range hits {
		h := &hits[i]
		if !h.matched[phone] && !h.matched[caregiver] {
			continue
		}
		e, err := tx.SearchEntry(h.id)
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return err
		}
		if err != nil || !keepsReporterApart(e.KeyID) {
			h.best[phone], h.matched[phone] = 0, false
			h.best[caregiver], h.matched[caregiver] = 0, false
		}
	}
	return nil
}

// strength is what a match of p adds to a case's score at most: the
// finders are read strongest first.
func strength(p *probe) float64 { return p.weight + p.alsoWeight }

// skippable reports whether reading the cases of p can change nothing in
// the first k of the ranking: k cases found already score kth or more (by
// what found them; the look-ups only add; kthTotal), more than any case p
// would bring first could. Such a case matches p, and in each field at
// best the strongest probe not read yet (a token read counts for its
// cases read, which are found already), and not the birth date when p is
// a name read with that date to its end (it would have been found under
// that). The cases found already are then looked p up for, one key each
// (among). read and complete are by probe id (numberProbes).
func skippable(p *probe, probes []probe, read, complete []bool, kth float64) bool {
	var best [len(scoreFields)]float64
	best[p.slot] = p.weight
	for i := range probes {
		o := &probes[i]
		if o.also != "" || o.id == p.id || read[o.id] {
			continue
		}
		if (o.field == FieldBirthDate && p.hasDated && completed(complete, p.datedID)) ||
			(p.field == FieldBirthDate && o.hasDated && completed(complete, o.datedID)) {
			continue
		}
		best[o.slot] = max(best[o.slot], o.weight)
	}
	var bound float64
	for _, w := range best {
		bound += w
	}
	// A case bound can reach cannot pass the k-th best, nor tie with it
	// (ties go to the newer case, and a skipped one may be newer).
	return bound < kth
}

// completed reports whether the probe of id was read to its end; id is -1
// for no probe.
func completed(complete []bool, id int) bool { return id >= 0 && complete[id] }

// kthTotal sums each hit and returns the k-th best total, and false when
// there are fewer than k hits. It keeps the k best in top, a min-heap
// (its first is the k-th best), rather than sort every total for every
// token a search asks about: a search asks dozens of times, among
// hundreds of hits.
func kthTotal(hits []hit, k int, top []float64) (float64, bool) {
	if len(hits) < k {
		return 0, false
	}
	top = top[:0]
	for i := range hits {
		hits[i].sum()
		t := hits[i].total
		switch {
		case len(top) < k:
			top = append(top, t)
			for c := len(top) - 1; c > 0 && top[(c-1)/2] > top[c]; c = (c - 1) / 2 {
				top[c], top[(c-1)/2] = top[(c-1)/2], top[c]
			}
		case t > top[0]:
			top[0] = t
			siftDown(top)
		}
	}
	return top[0], true
}

// siftDown restores the min-heap top after its first was raised.
func siftDown(top []float64) {
	for c := 0; ; {
		least := c
		if l := 2*c + 1; l < len(top) && top[l] < top[least] {
			least = l
		}
		if r := 2*c + 2; r < len(top) && top[r] < top[least] {
			least = r
		}
		if least == c {
			return
		}
		top[c], top[least] = top[least], top[c]
		c = least
	}
}

// maxExamined bounds the cases a search reads to find the ones its
// caller may see: the best-ranked cases beyond it are left out rather
// than let a caller read the whole ranking. The ranking holds the cases
// of the caller's scope alone (Query.scopes), so those it passes over
// are ones the scope keys let through and the case's view did not.
const maxExamined = 200

// candidates returns up to limit candidates of q that p may see, best
// first, shaped for p; skip leaves out a case (the one a new report just
// opened).
func (s *Service) candidates(tx datastore.ReadTx, p access.Principal, q Query, limit int, skip string) ([]Candidate, error) {
	q.Reporters = p.MayKnowReporter()
	if keys, held, all := s.policy.SearchScope(p, Method); !all {
		q.scopes, q.held, q.scoped = keys, held, true
	}
	// One more than limit: the case skip names may be among the first.
	out, again, err := s.candidatesUpTo(tx, p, q, limit, skip, firstPostings, limit+1)
	if err != nil || !again {
		return out, err
	}
	out, _, err = s.candidatesUpTo(tx, p, q, limit, skip, postingLimit, maxExamined)
	return out, err
}

// candidatesUpTo is candidates reading at most postings cases a token, and
// ranking exactly the first k cases (rank). It
// reports whether reading more could give the caller more candidates: it
// gave fewer than limit, a case of the ranking was out of the caller's
// scope, and the ranking read less than every match.
func (s *Service) candidatesUpTo(tx datastore.ReadTx, p access.Principal, q Query, limit int, skip string, postings, k int) (_ []Candidate, again bool, _ error) {
	hits, cut, partial, err := s.rank(tx, q, postings, k)
	if err != nil {
		return nil, false, err
	}
	hidden := false
	var out []Candidate
	var shown []hit // out's hits, in out's order
	fetched := 0    // the cases of hits[:fetched] are prefetched
	for i, h := range hits {
		if len(out) == limit || i == maxExamined {
			break
		}
		if i == fetched {
			// The cases the loop reads if none is out of the caller's
			// scope; once some were, twice as many each time.
			fetched = min(len(hits), maxExamined, i+max(limit+1, fetched))
			ids := make([]uint64, 0, fetched-i)
			for _, h := range hits[i:fetched] {
				ids = append(ids, h.id)
			}
			tx.Prefetch(datastore.Prefetch{CaseIDs: ids})
		}
		c, err := tx.CaseByID(h.id)
		if err != nil {
			return nil, false, fmt.Errorf("search: indexed case id %d: %w", h.id, err)
		}
		if c.Number == skip {
			continue
		}
		view := s.policy.SearchView(p, Method, c)
		if view == access.ViewFull {
			if c, err = s.vault.OpenCase(tx, c); err != nil {
				return nil, false, err
			}
		}
		shaped, ok := access.Shape(p, view, c)
		if !ok {
			hidden = true
			continue // out of scope: as if the case did not exist
		}
		if out == nil {
			// A candidate holds a whole case: growing the slice would
			// copy each several times.
			out, shown = make([]Candidate, 0, limit), make([]hit, 0, limit)
		}
		out = append(out, Candidate{Case: shaped, View: view, Score: h.total, Matched: h.fields()})
		shown = append(shown, h)
	}
	if partial && hidden && len(out) < limit {
		return out, true, nil // read again: the scores of that reading count
	}
	if err := ownScores(tx, q, cut, out, shown); err != nil {
		return nil, false, err
	}
	return out, false, nil
}

// ownScores gives each candidate shown the score and matched fields of its
// own case, whatever other cases share its tokens: a token of more cases
// than a search reads (its newest) did not count for an older case found
// by another token, and how many newer cases pushed it out, out of the
// caller's scope too, would otherwise show in its score. The tokens read
// in part (cut) are looked up among the cases shown, one key each, and out
// is ranked again by the scores made whole (newest first among equals).
func ownScores(tx datastore.ReadTx, q Query, cut []lookup, out []Candidate, shown []hit) error {
	if len(cut) == 0 || len(shown) == 0 {
		return nil
	}
	at := make(map[uint64]int, len(shown))
	ids := make([]uint64, len(shown))
	for i, h := range shown {
		at[h.id], ids[i] = i, h.id
	}
	slices.Sort(ids)
	toks := make([][]byte, len(cut))
	for i, l := range cut {
		toks[i] = l.token
	}
	tx.Prefetch(datastore.Prefetch{AmongTokens: toks, AmongCaseIDs: ids})
	asked := make([]uint64, 0, len(ids))
	for _, l := range cut {
		// As in rank: a case that matched l's field as strongly is not
		// asked about; the newest cases, shown first, were found by the
		// tokens cut.
		asked = asked[:0]
		for _, id := range ids {
			if shown[at[id]].gains(l.probe) {
				asked = append(asked, id)
			}
		}
		if len(asked) == 0 {
			continue
		}
		found, err := tx.CasesWithTokenAmong(l.token, asked)
		if err != nil {
			return err
		}
		for _, id := range found {
			shown[at[id]].addProbe(l.probe)
		}
	}
	if !q.Reporters {
		if err := withoutOlderEntries(tx, shown); err != nil {
			return err
		}
	}
	order := make([]int, len(shown))
	for i := range shown {
		shown[i].sum()
		out[i].Score, out[i].Matched = shown[i].total, shown[i].fields()
		order[i] = i
	}
	// By the hits' ids: a case in the candidate view may carry none.
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(shown[b].total, shown[a].total); c != 0 {
			return c
		}
		return cmp.Compare(shown[b].id, shown[a].id)
	})
	ranked := make([]Candidate, len(out))
	for i, j := range order {
		ranked[i] = out[j]
	}
	copy(out, ranked)
	return nil
}

// Search returns the candidates of q that p may see, best first, at most
// limit (MaxCandidates when 0 or more). Every search is audited, with the
// query sealed in the event's reason: who looked for which child is
// itself personal data.
func (s *Service) Search(ctx context.Context, p access.Principal, q Query, limit int) ([]Candidate, error) {
	if !p.May(Method) {
		return nil, model.ErrPermissionDenied
	}
	if q.Empty() {
		return nil, model.InvalidField("query", "search.not_empty", "give at least one of child_name, birth_date, birth_year, phone, commune_code and caregiver_name")
	}
	if limit <= 0 || limit > MaxCandidates {
		limit = MaxCandidates
	}
	if q.CommuneCode != "" {
		// A caller may still name a commune of before the 2025 reform
		// (people go on using the old names): its last version, whose
		// successors the query's commune brings in, as a case's
		// predecessors are in its entry.
		today := vntime.DateOf(s.clock.Now())
		u, ok := s.units.InForce(q.CommuneCode, today)
		if !ok {
			u, ok = s.units.Ended(q.CommuneCode, today)
		}
		if !ok || u.Level != units.LevelCommune {
			// Not quoted back: the schema takes any 10 characters here,
			// and a caller's name or phone typed into it would go into
			// the answer and the log with the call's error.
			return nil, model.InvalidField("commune_code", "unit.commune", "names no commune, in force today or before the 2025 reform (a GSO code such as 00004)")
		}
		q.Commune, q.CommuneCode = u.Key, ""
	}
	// A search asked for by a caregiver's name, a birth date, a commune
	// or a year, which cannot reach MinScore, finds the cases that match
	// all it gives rather than none. A report's candidates at intake
	// (CandidatesOf) keep MinScore: they are offered unasked.
	q.need = min(MinScore, reach(q.probes(s.communes)))
	var out []Candidate
	err := s.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		out, err = s.candidates(tx, p, q, limit, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.Audit(ctx, p, q, out); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "cases searched", "by", p.UserID, "candidates", len(out))
	return out, nil
}

// CandidatesOf returns the candidates a report taken by p has, inside the
// caller's transaction (that of the create, so that what it lists is what
// the commit saw), leaving out the case the report opened or joined. The
// caller audits them (AuditEvents).
func (s *Service) CandidatesOf(tx datastore.ReadTx, p access.Principal, r model.Report) ([]Candidate, error) {
	q := QueryOfReport(r)
	if q.Empty() {
		return nil, nil
	}
	return s.candidates(tx, p, q, IntakeCandidates, r.CaseNumber)
}

// sealedQuery is the query as an audit event's sealed reason keeps it.
type sealedQuery struct {
	Query
	Candidates []string `json:"candidates,omitempty"`
}

// AuditEvents returns the audit events of a search by p: action
// "case.search" on "cases", the query and the case numbers it found sealed
// in the reason (vault.SealQuery, which auditors' lists leave sealed: a
// query holds a child's name) inside tx; then one "case.search" on each
// case found, naming no query, so that the case's trail shows who was
// shown it, as a list's page does.
func (s *Service) AuditEvents(tx datastore.KeyTx, p access.Principal, q Query, found []Candidate) ([]audit.Event, error) {
	sq := sealedQuery{Query: q}
	for _, c := range found {
		sq.Candidates = append(sq.Candidates, c.Case.Number)
	}
	b, err := json.Marshal(sq)
	if err != nil {
		return nil, fmt.Errorf("audit search: %w", err)
	}
	now := s.clock.Now()
	e := p.Event(now, "case.search", "cases", "", audit.OutcomeOK)
	if err := s.vault.SealQuery(tx, &e, b); err != nil {
		return nil, err
	}
	events := []audit.Event{e}
	for _, c := range found {
		res := access.CaseResource(c.Case.Number)
		events = append(events, p.Event(now, "case.search", res, res, audit.OutcomeOK))
	}
	return events, nil
}

// Audit records a search by p that found found. It is an audit of a read,
// so it goes through Batch, which a full database still accepts.
func (s *Service) Audit(ctx context.Context, p access.Principal, q Query, found []Candidate) error {
	err := s.store.Batch(ctx, func(tx datastore.Tx) error {
		events, err := s.AuditEvents(tx, p, q, found)
		if err != nil {
			return err
		}
		_, err = tx.AppendAudit(events...)
		return err
	})
	if err != nil {
		return fmt.Errorf("record audit events: %w", err)
	}
	return nil
}

// rebuildBatch is how many cases one transaction of Rebuild indexes:
// small enough that writers are never held up for long.
const rebuildBatch = 100

// Rebuild indexes every case that has no entry, or one made under another
// master's index key or in another format (EntryKeyID), in small transactions, and returns how many it
// indexed. It runs after a rotation of the master key (the keyring still
// holding the old master, so searches find the cases not yet reached
// under the old key) and at start (for cases stored before the index
// existed). Running it again after an interruption finishes the job.
// Once it has been through every case, it records the index complete
// under the current master's key, so that the next start skips it
// (CatchUp). A case whose entry cannot be made is left out, the others
// indexed, and marked (MarkPending), so that the catch-up tries it again
// on its own.
func (s *Service) Rebuild(ctx context.Context) (int, error) {
	current := s.currentKeyID()
	total, after := 0, ""
	var unindexable []error // the cases whose entry cannot be made, left out
	for {
		// The cases of a batch that need indexing are found in a read
		// transaction: at each start, with every case indexed already,
		// the rebuild reads and writes nothing, and commits nothing that
		// would share the disk with the service's own writes.
		var todo []uint64
		var next string
		err := s.store.View(ctx, func(tx datastore.ReadTx) error {
			cs, n, err := tx.ListCases(datastore.CaseQuery{After: after, Limit: rebuildBatch})
			if err != nil {
				return err
			}
			todo, next = todo[:0], n
			for _, c := range cs {
				if stale, err := staleEntry(tx, c.ID, current); err != nil {
					return err
				} else if stale {
					todo = append(todo, c.ID)
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		n, err := s.indexStale(ctx, todo, current)
		total += n
		var bad *unindexableError
		if err != nil && !errors.As(err, &bad) {
			return total, errors.Join(append(unindexable, err)...)
		}
		unindexable = append(unindexable, err)
		if next == "" {
			// The cases left out are marked, and the index recorded
			// complete: the catch-up every 30 s tries those cases alone
			// (IndexMarked), where a rebuild would walk every case again.
			failed := errors.Join(unindexable...)
			if ids := unindexableCases(failed); len(ids) > 0 {
				if err := s.store.Update(ctx, func(tx datastore.Tx) error {
					for _, id := range ids {
						if err := s.MarkPending(tx, id); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					return total, errors.Join(failed, fmt.Errorf("search index: mark the cases left out: %w", err))
				}
			}
			return total, errors.Join(failed, s.recordIndexedUnder(ctx, current))
		}
		after = next
	}
}

// indexStale indexes the cases of ids whose entry is still stale, in one
// transaction, and returns how many it indexed. A transaction too large
// for the store (etcd's operations a commit: a case's entry is some 40
// postings, each put and, under a new master, the old one deleted) is
// split in halves, so that cases with many postings, or a store started
// with lower limits, slow a rebuild down instead of stopping it for good;
// a lone case too large fails.
func (s *Service) indexStale(ctx context.Context, ids []uint64, current string) (int, error) {
	return skipUnindexable(ids, func(ids []uint64) (int, error) { return s.indexStaleAtOnce(ctx, ids, current) })
}

func (s *Service) indexStaleAtOnce(ctx context.Context, ids []uint64, current string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	n := 0
	err := s.store.Update(ctx, func(tx datastore.Tx) error {
		n = 0 // the body may run again
		for _, id := range ids {
			// Looked at again: a write since the read may have indexed
			// it.
			if stale, err := staleEntry(tx, id, current); err != nil || !stale {
				if err != nil {
					return err
				}
				continue
			}
			if err := s.writeEntry(tx, id); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if errors.Is(err, model.ErrTooLarge) && len(ids) > 1 {
		half := len(ids) / 2
		first, err := s.indexStaleAtOnce(ctx, ids[:half], current)
		if err != nil {
			return first, err
		}
		second, err := s.indexStaleAtOnce(ctx, ids[half:], current)
		return first + second, err
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

// staleEntry reports whether a case has no index entry, or one whose
// KeyID is not current (another master, another format).
func staleEntry(tx datastore.ReadTx, id uint64, current string) (bool, error) {
	e, err := tx.SearchEntry(id)
	if errors.Is(err, model.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return e.KeyID != current, nil
}

// recordIndexedUnder records the index complete under master current,
// writing only when it is not recorded so already.
func (s *Service) recordIndexedUnder(ctx context.Context, current string) error {
	under, err := s.indexedUnder(ctx)
	if err == nil && under != current {
		err = s.store.Update(ctx, func(tx datastore.Tx) error { return tx.SetSearchIndexedUnder(current) })
	}
	if err != nil {
		return fmt.Errorf("search index: record it complete: %w", err)
	}
	return nil
}
