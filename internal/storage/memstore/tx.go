package memstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// tx is a transaction over its own fork of the state.
type tx struct {
	st    *state // nil once the transaction ended
	ended bool
}

// end closes the transaction. A committed state's tables are owned by the
// transaction that wrote them, so a caller that kept its tx and wrote
// after the commit would change what others read: dropping the state makes
// such a use fail at once instead.
func (t *tx) end() { t.ended, t.st = true, nil }

var (
	_ datastore.Tx = (*tx)(nil)

	errTxEnded = errors.New("audit events: the transaction has ended; consume the sequence inside View or Update")
)

// reportEntry is a stored report and the fields its lists select on.
type reportEntry struct {
	raw      []byte
	callType model.CallType
	takenBy  string
}

// caseEntry is a stored case and the fields its lists and updates check.
// scope and queue are its entries in boltstore's scope and queue indexes
// (storekey.CaseIndexKeys), pure functions of the case, so computed when
// it is stored.
type caseEntry struct {
	raw          []byte
	number       string
	unit         units.Key
	status       model.CaseStatus
	revision     uint64
	scope, queue [][]byte
}

// tokenEntry is a stored token and its user.
type tokenEntry struct {
	raw    []byte
	userID string
}

// ---------------------------------------------------------------------------
// Reports

func (t *tx) Report(id string) (model.StoredReport, error) {
	key, err := storekey.ReportKey(id)
	if err != nil {
		return model.StoredReport{}, err
	}
	return t.reportByKey(key)
}

func (t *tx) reportByKey(key []byte) (model.StoredReport, error) {
	e, ok := t.st.reports.get(string(key))
	if !ok {
		return model.StoredReport{}, fmt.Errorf("report %s: %w", uuid.UUID(key), model.ErrNotFound)
	}
	return decodeAs[model.StoredReport](e.raw)
}

func (t *tx) CreateReport(r model.StoredReport) error {
	key, err := storekey.ReportKey(r.ID)
	if err != nil {
		return err
	}
	if err := storekey.CheckID("report taker", r.TakenBy, true); err != nil {
		return err
	}
	if t.st.reports.has(string(key)) {
		return fmt.Errorf("report %s: %w", r.ID, model.ErrAlreadyExists)
	}
	if _, err := t.reportIndexKeys(key, r); err != nil {
		return err
	}
	return t.putReport(key, r)
}

// UpdateReport refuses a new taker, as boltstore does: who recorded a
// report is a fact of the past.
func (t *tx) UpdateReport(r model.StoredReport) error {
	key, err := storekey.ReportKey(r.ID)
	if err != nil {
		return err
	}
	prev, ok := t.st.reports.get(string(key))
	if !ok {
		return fmt.Errorf("update report %s: %w", r.ID, model.ErrNotFound)
	}
	if prev.takenBy != r.TakenBy {
		return fmt.Errorf("update report %s: the taker cannot change (stored %q, update carries %q)", r.ID, prev.takenBy, r.TakenBy)
	}
	if _, err := t.reportIndexKeys(key, r); err != nil {
		return fmt.Errorf("update report %s: %w", r.ID, err)
	}
	return t.putReport(key, r)
}

func (t *tx) putReport(key []byte, r model.StoredReport) error {
	raw, err := encode(r)
	if err != nil {
		return err
	}
	t.st.reports.put(string(key), reportEntry{raw: raw, callType: r.CallType, takenBy: r.TakenBy})
	return nil
}

// reportIndexKeys returns r's entries in boltstore's report scope index:
// those of its case while its CaseNumber names a stored one. They are
// computed when read, so they follow the case through its updates.
func (t *tx) reportIndexKeys(key []byte, r model.StoredReport) ([][]byte, error) {
	var c *model.Case
	if r.CaseNumber != "" {
		switch found, err := t.CaseByNumber(r.CaseNumber); {
		case err == nil:
			c = &found
		case !errors.Is(err, model.ErrNotFound):
			return nil, err
		}
	}
	return storekey.ReportIndexKeys(key, r, c)
}

// ListReports reads what boltstore's index for q would hold (the taker's
// reports, else those of the scope keys, else those of the call type,
// else all) and checks the other conditions on each record.
func (t *tx) ListReports(q datastore.ReportQuery) ([]model.StoredReport, string, error) {
	// A report Match refuses is passed over as absent, as boltstore does.
	load := func(key []byte) (model.StoredReport, error) {
		r, err := t.reportByKey(key)
		if err == nil && q.Match != nil && !q.Match(r) {
			return r, storekey.ErrOutOfScope
		}
		return r, err
	}
	keep := func(r model.StoredReport) bool { return q.CallType == 0 || r.CallType == q.CallType }
	if q.TakenBy == "" && q.Scopes != nil {
		var index [][]byte
		for key := range t.st.reports.m {
			r, err := t.reportByKey([]byte(key))
			if err != nil {
				return nil, "", err
			}
			ks, err := t.reportIndexKeys([]byte(key), r)
			if err != nil {
				return nil, "", err
			}
			index = append(index, ks...)
		}
		return pageMerged(index, q.Scopes, storekey.ReportKeyLen, q.After, q.Limit, load, keep)
	}
	var prefix []byte
	indexed := func(reportEntry) bool { return true }
	switch {
	case q.TakenBy != "":
		prefix = storekey.StringPrefix(q.TakenBy)
		indexed = func(e reportEntry) bool { return e.takenBy == q.TakenBy }
	case q.CallType != 0:
		prefix = storekey.U32(uint32(q.CallType))
		indexed = func(e reportEntry) bool { return e.callType == q.CallType }
	}
	return pageDesc(t.st.reports.m, prefix, storekey.ReportKeyLen, q.After, q.Limit, indexed,
		func(key string) []byte { return []byte(key) },
		load, keep)
}

// pageDesc pages, newest first, through an index built from the entries
// of m that indexed keeps: prefix followed by the record key (idKey of the
// entry's key), walked with storekey.ScanDesc so the cursors and pages are
// boltstore's. load reads the record of an index entry; keep checks the
// conditions the index does not.
func pageDesc[K comparable, E, V any](m map[K]E, prefix []byte, idLen int, after string, limit int,
	indexed func(E) bool, idKey func(K) []byte, load func(id []byte) (V, error), keep func(V) bool,
) ([]V, string, error) {
	var index [][]byte
	for k, e := range m {
		if indexed(e) {
			index = append(index, append(slices.Clip(prefix), idKey(k)...))
		}
	}
	var out []V
	collect := collector(&out, load, keep)
	next, err := storekey.ScanDesc(newCursor(index, nil), prefix, idLen, after, limit, func(k []byte, take bool) error {
		return collect(k[len(prefix):], take)
	})
	return out, next, err
}

// pageMerged pages, newest first, through the entries of index (keys of a
// scope index: a scope key's prefix, then a record key of idLen bytes)
// under any of scopes, with storekey.ScanMerged as boltstore does. load
// and keep are pageDesc's.
func pageMerged[V any](index [][]byte, scopes []string, idLen int, after string, limit int,
	load func(id []byte) (V, error), keep func(V) bool,
) ([]V, string, error) {
	var out []V
	next, err := storekey.ScanMerged(openSorted(index), storekey.ScopePrefixes(scopes), idLen, true, after, limit, collector(&out, load, keep))
	return out, next, err
}

// collector is the callback of a list walk: it loads the record of an
// index entry's id, leaves it out unless keep, and appends it to out when
// the walk takes it.
func collector[V any](out *[]V, load func(id []byte) (V, error), keep func(V) bool) func(id []byte, take bool) error {
	return func(id []byte, take bool) error {
		v, err := load(id)
		if err != nil {
			return err
		}
		if !keep(v) {
			return storekey.ErrSkip
		}
		if take {
			*out = append(*out, v)
		}
		return nil
	}
}

// ---------------------------------------------------------------------------
// Cases

func (t *tx) CaseByNumber(number string) (model.Case, error) {
	id, ok := t.st.caseNumbers.get(number)
	if !ok {
		return model.Case{}, fmt.Errorf("case %s: %w", number, model.ErrNotFound)
	}
	return t.CaseByID(id)
}

// ClearTextPending implements datastore.CaseReader: memstore holds no
// data of older versions, so there is never clear text to seal.
func (t *tx) ClearTextPending() (bool, error) { return false, nil }

// ClearTextSealed implements datastore.CaseWriter.
func (t *tx) ClearTextSealed() error { return nil }

// LastCaseID implements datastore.CaseReader.
func (t *tx) LastCaseID() (uint64, error) { return t.st.lastCaseID, nil }

func (t *tx) CaseByID(id uint64) (model.Case, error) {
	e, ok := t.st.cases.get(id)
	if !ok {
		return model.Case{}, fmt.Errorf("case id %d: %w", id, model.ErrNotFound)
	}
	c, err := decodeAs[model.Case](e.raw)
	if err != nil {
		return model.Case{}, fmt.Errorf("case id %d: %w", id, err)
	}
	return c, nil
}

func (t *tx) NextCaseSequence(year int) (uint64, error) {
	if year < 0 || year > 0xffff {
		return 0, fmt.Errorf("case sequence: year %d out of range", year)
	}
	n, _ := t.st.sequences.get(year)
	n++
	t.st.sequences.put(year, n)
	return n, nil
}

// CreateCase numbers cases from 1 in the transaction's state, so a
// rollback takes the id back, as bbolt's bucket sequence does.
func (t *tx) CreateCase(c *model.Case) error {
	if c.Number == "" {
		return errors.New("create case: the case number is empty")
	}
	if t.st.caseNumbers.has(c.Number) {
		return fmt.Errorf("case %s: %w", c.Number, model.ErrAlreadyExists)
	}
	if err := t.putCase(t.st.lastCaseID+1, *c); err != nil {
		return err
	}
	t.st.lastCaseID++
	c.ID = t.st.lastCaseID
	t.st.caseNumbers.put(c.Number, c.ID)
	return nil
}

func (t *tx) UpdateCase(c model.Case) error {
	prev, ok := t.st.cases.get(c.ID)
	if !ok {
		return fmt.Errorf("case id %d: %w", c.ID, model.ErrNotFound)
	}
	if prev.revision+1 != c.Revision {
		return fmt.Errorf("case %s: stored revision %d, update carries %d: %w", c.Number, prev.revision, c.Revision, model.ErrConflict)
	}
	if prev.number != c.Number {
		return fmt.Errorf("case %s: the case number cannot change", prev.number)
	}
	return t.putCase(c.ID, c)
}

// putCase refuses a case whose index keys no store can hold before it
// writes anything, as boltstore refuses it.
func (t *tx) putCase(id uint64, c model.Case) error {
	c.ID = id
	scope, queue, err := storekey.CaseIndexKeys(c)
	if err != nil {
		return err
	}
	raw, err := encode(c)
	if err != nil {
		return err
	}
	t.st.cases.put(id, caseEntry{raw: raw, number: c.Number, unit: c.ResponsibleUnit, status: c.Status, revision: c.Revision, scope: scope, queue: queue})
	return nil
}

// ListCases reads what boltstore's index for q would hold (the unit's
// cases, else those of the scope keys, else those of the status, else
// all) and checks the other conditions on each record.
func (t *tx) ListCases(q datastore.CaseQuery) ([]model.Case, string, error) {
	// A case out of q.Scopes or Match is passed over as absent, as
	// boltstore does, Match seeing every case read as there.
	load := func(id []byte) (model.Case, error) {
		c, err := t.CaseByID(binary.BigEndian.Uint64(id))
		if err == nil && ((q.Match != nil && !q.Match(c)) || (q.Scopes != nil && !storekey.InListScope(c, q.Scopes, q.HeldBy))) {
			return c, storekey.ErrOutOfScope
		}
		return c, err
	}
	keep := func(c model.Case) bool {
		return (q.ResponsibleUnit.IsZero() || c.ResponsibleUnit == q.ResponsibleUnit) && (q.Status == 0 || c.Status == q.Status) &&
			(q.Filter == nil || q.Filter(c))
	}
	// A caller with scope keys reads their entries unless the unit they
	// name is wholly theirs, as boltstore does.
	if q.Scopes != nil && !storekey.UnitInListScope(q.ResponsibleUnit, q.Scopes, q.HeldBy) {
		// The entries of the units held (q.HeldBy), as boltstore's
		// index of cases by unit holds them, beside the scope entries.
		var index [][]byte
		for id, e := range t.st.cases.m {
			index = append(index, e.scope...)
			if slices.Contains(q.HeldBy, e.unit) {
				index = append(index, append(storekey.UnitPrefix(e.unit), storekey.U64(id)...))
			}
		}
		scopes, held := storekey.ListScopePrefixes(q.Scopes, q.HeldBy)
		var out []model.Case
		next, err := storekey.ScanMerged(openSorted(index), slices.Concat(scopes, held), storekey.ScopeSuffixLen, true, q.After, q.Limit, collector(&out, load, keep))
		return out, next, err
	}
	var prefix []byte
	indexed := func(caseEntry) bool { return true }
	switch {
	case !q.ResponsibleUnit.IsZero():
		prefix = storekey.UnitPrefix(q.ResponsibleUnit)
		indexed = func(e caseEntry) bool { return e.unit == q.ResponsibleUnit }
	case q.Status != 0:
		prefix = storekey.U32(uint32(q.Status))
		indexed = func(e caseEntry) bool { return e.status == q.Status }
	}
	return pageDesc(t.st.cases.m, prefix, storekey.CaseKeyLen, q.After, q.Limit, indexed, storekey.U64, load, keep)
}

// ListQueue walks boltstore's queue index, built from the entries of
// every case.
func (t *tx) ListQueue(q datastore.QueueQuery) ([]model.Case, string, error) {
	return storekey.ListQueue(t.queueIndex(), q, t.CaseByID)
}

// QueueCaseIDs walks the index ListQueue walks, and reads no case.
func (t *tx) QueueCaseIDs(q datastore.QueueQuery) ([]uint64, string, error) {
	return storekey.QueueCaseIDs(t.queueIndex(), q)
}

// queueIndex opens boltstore's queue index, built from the entries of
// every case.
func (t *tx) queueIndex() func() storekey.Cursor {
	var index [][]byte
	for _, e := range t.st.cases.m {
		index = append(index, e.queue...)
	}
	return openSorted(index)
}

// ---------------------------------------------------------------------------
// Idempotency

func (t *tx) Idempotency(key string) (model.IdempotencyRecord, error) {
	e, ok := t.st.idempotency.get(key)
	if !ok {
		return model.IdempotencyRecord{}, fmt.Errorf("request %s: %w", key, model.ErrNotFound)
	}
	return decodeAs[model.IdempotencyRecord](e.raw)
}

func (t *tx) PutIdempotency(r model.IdempotencyRecord) error {
	if r.Key == "" {
		return errors.New("put idempotency record: the key is empty")
	}
	if t.st.idempotency.has(r.Key) {
		return fmt.Errorf("request %s: %w", r.Key, model.ErrAlreadyExists)
	}
	raw, err := encode(r)
	if err != nil {
		return err
	}
	t.st.idempotency.put(r.Key, idempotencyEntry{raw: raw, at: r.CreateTime})
	return nil
}

// DeleteIdempotencyBefore orders the records by boltstore's index key, so
// records at one instant go in the same order in both stores.
func (t *tx) DeleteIdempotencyBefore(before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("delete idempotency records: limit %d must be positive", limit)
	}
	end := storekey.IdempotencyNanos(before)
	var doomed [][]byte
	for key, e := range t.st.idempotency.m {
		if storekey.IdempotencyNanos(e.at) < end {
			doomed = append(doomed, storekey.IdempotencyTimeKey(e.at, key))
		}
	}
	slices.SortFunc(doomed, bytes.Compare)
	doomed = doomed[:min(limit, len(doomed))]
	for _, k := range doomed {
		t.st.idempotency.del(string(k[8:]))
	}
	return len(doomed), nil
}

// ---------------------------------------------------------------------------
// Users, tokens, police units and data keys

// getRecord decodes the record under id in tb, or returns
// model.ErrNotFound naming what was looked up.
func getRecord[T any](tb *table[string, []byte], what, id string) (T, error) {
	raw, ok := tb.get(id)
	if !ok {
		var zero T
		return zero, fmt.Errorf("%s %q: %w", what, id, model.ErrNotFound)
	}
	v, err := decodeAs[T](raw)
	if err != nil {
		return v, fmt.Errorf("%s %q: %w", what, id, err)
	}
	return v, nil
}

// putRecord stores v under id in tb: mustExist false creates (and refuses
// a taken id), true replaces (and refuses a missing one).
func putRecord(tb *table[string, []byte], what, id string, v any, mustExist bool) error {
	switch exists := tb.has(id); {
	case exists && !mustExist:
		return fmt.Errorf("%s %q: %w", what, id, model.ErrAlreadyExists)
	case !exists && mustExist:
		return fmt.Errorf("%s %q: %w", what, id, model.ErrNotFound)
	}
	raw, err := encode(v)
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, id, err)
	}
	tb.put(id, raw)
	return nil
}

func (t *tx) User(id string) (model.User, error) {
	return getRecord[model.User](&t.st.users, "user", id)
}

func (t *tx) CreateUser(u model.User) error {
	if err := storekey.CheckID("user", u.ID, false); err != nil {
		return err
	}
	return putRecord(&t.st.users, "user", u.ID, u, false)
}

func (t *tx) UpdateUser(u model.User) error {
	return putRecord(&t.st.users, "user", u.ID, u, true)
}

func (t *tx) ListUsers(after string, limit int) ([]model.User, string, error) {
	var out []model.User
	next, err := scanAscTable(&t.st.users, after, limit, func(k, v []byte) error {
		u, err := decodeAs[model.User](v)
		if err != nil {
			return fmt.Errorf("user %q: %w", k, err)
		}
		out = append(out, u)
		return nil
	})
	return out, next, err
}

// scanAscTable pages through tb in order of id with storekey.ScanAsc.
func scanAscTable(tb *table[string, []byte], after string, limit int, fn func(k, v []byte) error) (string, error) {
	return storekey.ScanAsc(sortedTable(tb), after, limit, fn)
}

// sortedTable is a cursor over tb's entries in order of id.
func sortedTable(tb *table[string, []byte]) *sortedCursor {
	ks := make([][]byte, 0, len(tb.m))
	vs := make([][]byte, 0, len(tb.m))
	for k, v := range tb.m {
		ks, vs = append(ks, []byte(k)), append(vs, v)
	}
	return newCursor(ks, vs)
}

// ListActiveUsersOf derives the entries of the index of users by unit
// (storekey.UserUnitKeys) from the users, as TokensOfUserPage derives
// its own, and walks them as the file store walks its index.
func (t *tx) ListActiveUsersOf(of []datastore.UnitRole, after string, limit int) ([]model.User, string, error) {
	var index [][]byte
	for id, raw := range t.st.users.m {
		u, err := decodeAs[model.User](raw)
		if err != nil {
			return nil, "", fmt.Errorf("user %q: %w", id, err)
		}
		index = append(index, storekey.UserUnitKeys(u)...)
	}
	var out []model.User
	next, err := storekey.ScanUsersOfUnits(func() storekey.Cursor { return newCursor(index, nil) }, of, after, limit, func(id string) error {
		u, err := t.User(id)
		if err != nil {
			return fmt.Errorf("active users: %w", err)
		}
		out = append(out, u)
		return nil
	})
	return out, next, err
}

func (t *tx) CountUsers() (int, error) { return len(t.st.users.m), nil }

func (t *tx) Token(id string) (model.Token, error) {
	e, ok := t.st.tokens.get(id)
	if !ok {
		return model.Token{}, fmt.Errorf("token %q: %w", id, model.ErrNotFound)
	}
	return decodeAs[model.Token](e.raw)
}

func (t *tx) CreateToken(tok model.Token) error {
	if err := storekey.CheckID("token", tok.ID, false); err != nil {
		return err
	}
	if !t.st.users.has(tok.UserID) {
		return fmt.Errorf("token %q: user %q: %w", tok.ID, tok.UserID, model.ErrNotFound)
	}
	if t.st.tokens.has(tok.ID) {
		return fmt.Errorf("token %q: %w", tok.ID, model.ErrAlreadyExists)
	}
	return t.putToken(tok)
}

// UpdateToken refuses a new user: a credential handed to one person must
// never start to act as another.
func (t *tx) UpdateToken(tok model.Token) error {
	prev, ok := t.st.tokens.get(tok.ID)
	if !ok {
		return fmt.Errorf("update token %q: %w", tok.ID, model.ErrNotFound)
	}
	if prev.userID != tok.UserID {
		return fmt.Errorf("update token %q: the user cannot change (stored %q, update carries %q)", tok.ID, prev.userID, tok.UserID)
	}
	return t.putToken(tok)
}

func (t *tx) DeleteToken(id string) error {
	if !t.st.tokens.has(id) {
		return fmt.Errorf("delete token %q: %w", id, model.ErrNotFound)
	}
	t.st.tokens.del(id)
	return nil
}

func (t *tx) putToken(tok model.Token) error {
	raw, err := encode(tok)
	if err != nil {
		return fmt.Errorf("token %q: %w", tok.ID, err)
	}
	t.st.tokens.put(tok.ID, tokenEntry{raw: raw, userID: tok.UserID})
	return nil
}

func (t *tx) TokensOfUser(userID string) ([]model.Token, error) {
	var ids []string
	for id, e := range t.st.tokens.m {
		if e.userID == userID {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]model.Token, 0, len(ids))
	for _, id := range ids {
		tok, err := t.Token(id)
		if err != nil {
			return nil, fmt.Errorf("tokens of user %q: %w", userID, err)
		}
		out = append(out, tok)
	}
	return out, nil
}

// TokensOfUserPage pages through boltstore's index of the user's tokens,
// built from the tokens.
func (t *tx) TokensOfUserPage(userID, after string, limit int, keep func(model.Token) bool) ([]model.Token, string, error) {
	prefix := storekey.StringPrefix(userID)
	var index [][]byte
	for id, e := range t.st.tokens.m {
		if e.userID == userID {
			index = append(index, append(bytes.Clone(prefix), id...))
		}
	}
	var out []model.Token
	next, err := storekey.ScanPrefixAsc(newCursor(index, nil), prefix, after, limit, func(id []byte, take bool) error {
		tok, err := t.Token(string(id))
		if err != nil {
			return fmt.Errorf("tokens of user %q: %w", userID, err)
		}
		if keep != nil && !keep(tok) {
			return storekey.ErrSkip
		}
		if take {
			out = append(out, tok)
		}
		return nil
	})
	return out, next, err
}

func (t *tx) PoliceUnit(id string) (model.PoliceUnit, error) {
	return getRecord[model.PoliceUnit](&t.st.policeUnits, "police unit", id)
}

func (t *tx) CreatePoliceUnit(p model.PoliceUnit) error {
	if err := storekey.CheckID("police unit", p.ID, false); err != nil {
		return err
	}
	return putRecord(&t.st.policeUnits, "police unit", p.ID, p, false)
}

func (t *tx) ListPoliceUnits() ([]model.PoliceUnit, error) {
	var out []model.PoliceUnit
	for _, id := range slices.Sorted(maps.Keys(t.st.policeUnits.m)) {
		p, err := t.PoliceUnit(id)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (t *tx) ListPoliceUnitsPage(after string, limit int) ([]model.PoliceUnit, string, error) {
	var out []model.PoliceUnit
	next, err := scanAscTable(&t.st.policeUnits, after, limit, func(k, v []byte) error {
		p, err := decodeAs[model.PoliceUnit](v)
		if err != nil {
			return fmt.Errorf("police unit %q: %w", k, err)
		}
		out = append(out, p)
		return nil
	})
	return out, next, err
}

func (t *tx) DataKey(id string) (keys.WrappedKey, error) {
	return getRecord[keys.WrappedKey](&t.st.dataKeys, "data key", id)
}

// PutDataKey overwrites: a key rotation re-wraps a data key in place.
func (t *tx) PutDataKey(id string, w keys.WrappedKey) error {
	if err := storekey.CheckID("data key", id, false); err != nil {
		return err
	}
	raw, err := encode(w)
	if err != nil {
		return fmt.Errorf("data key %q: %w", id, err)
	}
	t.st.dataKeys.put(id, raw)
	return nil
}

// DataKeyPerMaster scans every data key: memstore keeps no index by
// master.
func (t *tx) DataKeyPerMaster() ([]datastore.DataKey, error) {
	return storekey.FirstDataKeyPerMaster(sortedTable(&t.st.dataKeys), decodeAs[keys.WrappedKey])
}

func (t *tx) ListDataKeys(after string, limit int) ([]datastore.DataKey, string, error) {
	var out []datastore.DataKey
	next, err := scanAscTable(&t.st.dataKeys, after, limit, func(k, v []byte) error {
		w, err := decodeAs[keys.WrappedKey](v)
		if err != nil {
			return fmt.Errorf("data key %q: %w", k, err)
		}
		out = append(out, datastore.DataKey{ID: string(k), Wrapped: w})
		return nil
	})
	return out, next, err
}

// ---------------------------------------------------------------------------
// Case timelines

// AppendCaseEvents numbers the events after the case's last one; the
// case must exist, as in boltstore.
func (t *tx) AppendCaseEvents(caseID uint64, events ...model.CaseEvent) ([]model.CaseEvent, error) {
	if len(events) == 0 {
		return nil, nil
	}
	if !t.st.cases.has(caseID) {
		return nil, fmt.Errorf("append events to case id %d: %w", caseID, model.ErrNotFound)
	}
	stored, _ := t.st.caseEvents.get(caseID)
	// Clip: the committed slice's spare capacity must not be written.
	stored = slices.Clip(stored)
	out := make([]model.CaseEvent, 0, len(events))
	for _, e := range events {
		e.Seq = uint64(len(stored)) + 1
		raw, err := encode(e)
		if err != nil {
			return nil, fmt.Errorf("case id %d event %d: %w", caseID, e.Seq, err)
		}
		stored = append(stored, raw)
		out = append(out, e)
	}
	t.st.caseEvents.put(caseID, stored)
	return out, nil
}

func (t *tx) CaseEvents(caseID, after uint64, limit int) ([]model.CaseEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("case events: limit %d must be positive", limit)
	}
	stored, _ := t.st.caseEvents.get(caseID)
	var out []model.CaseEvent
	for i := after; i < uint64(len(stored)) && len(out) < limit; i++ {
		e, err := decodeAs[model.CaseEvent](stored[i])
		if err != nil {
			return nil, fmt.Errorf("case id %d event %d: %w", caseID, i+1, err)
		}
		e.Seq = i + 1
		out = append(out, e)
	}
	return out, nil
}

func (t *tx) CaseEventsNewestFirst(caseID, before uint64, limit int) ([]model.CaseEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("case events: limit %d must be positive", limit)
	}
	stored, _ := t.st.caseEvents.get(caseID)
	end := uint64(len(stored)) // events 1..end; seq i+1 is at index i
	if before != 0 && before-1 < end {
		end = before - 1
	}
	var out []model.CaseEvent
	for i := end; i > 0 && len(out) < limit; i-- {
		e, err := decodeAs[model.CaseEvent](stored[i-1])
		if err != nil {
			return nil, fmt.Errorf("case id %d event %d: %w", caseID, i, err)
		}
		e.Seq = i
		out = append(out, e)
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// Scheduler timers

func (t *tx) PutTimer(tm model.Timer) error {
	k, err := storekey.TimerKey(tm)
	if err != nil {
		return err
	}
	t.st.timers.put(string(k), struct{}{})
	return nil
}

// DeleteTimer of a timer no store can hold is nil, like that of any other
// absent timer.
func (t *tx) DeleteTimer(tm model.Timer) error {
	k, err := storekey.TimerKey(tm)
	if err != nil || !t.st.timers.has(string(k)) {
		return nil
	}
	t.st.timers.del(string(k))
	return nil
}

// sortedTimers returns the timers in key order: by instant, then case id,
// then deadline id.
func (t *tx) sortedTimers() ([]model.Timer, error) {
	out := make([]model.Timer, 0, len(t.st.timers.m))
	for _, k := range slices.Sorted(maps.Keys(t.st.timers.m)) {
		tm, err := storekey.ParseTimerKey([]byte(k))
		if err != nil {
			return nil, err
		}
		out = append(out, tm)
	}
	return out, nil
}

func (t *tx) DueTimers(until time.Time, limit int) ([]model.Timer, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("due timers: limit %d must be positive", limit)
	}
	end, ok := storekey.DueUntil(until)
	if !ok {
		return nil, nil
	}
	all, err := t.sortedTimers()
	if err != nil {
		return nil, err
	}
	var out []model.Timer
	for _, tm := range all {
		if len(out) == limit || uint64(tm.At.UnixNano()) > end {
			break
		}
		out = append(out, tm)
	}
	return out, nil
}

func (t *tx) NextTimer() (model.Timer, bool, error) {
	all, err := t.sortedTimers()
	if err != nil || len(all) == 0 {
		return model.Timer{}, false, err
	}
	return all[0], true, nil
}

// ---------------------------------------------------------------------------
// Outbox and delivery cursors

// AppendNotifications numbers entries from the transaction's sequence,
// which a rollback takes back and which never goes down.
func (t *tx) AppendNotifications(ns ...model.Notification) ([]model.Notification, error) {
	if len(ns) == 0 {
		return nil, nil
	}
	out := make([]model.Notification, 0, len(ns))
	for _, n := range ns {
		n.Seq = t.st.outboxSeq + 1
		raw, err := encode(n)
		if err != nil {
			return nil, fmt.Errorf("outbox entry %d: %w", n.Seq, err)
		}
		t.st.outbox.put(n.Seq, raw)
		t.st.outboxSeq = n.Seq
		out = append(out, n)
	}
	return out, nil
}

func (t *tx) Notifications(after uint64, limit int) ([]model.Notification, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("notifications: limit %d must be positive", limit)
	}
	var out []model.Notification
	// Below the tail every entry was pruned: start there, so that a read
	// costs its page, not the seqs pruned before it.
	start := after
	if t.st.outboxTail > 0 {
		start = max(after, t.st.outboxTail-1)
	}
	for seq := start; seq < t.st.outboxSeq && len(out) < limit; seq++ {
		raw, ok := t.st.outbox.get(seq + 1)
		if !ok {
			continue
		}
		n, err := decodeAs[model.Notification](raw)
		if err != nil {
			return nil, fmt.Errorf("outbox entry %d: %w", seq+1, err)
		}
		n.Seq = seq + 1
		out = append(out, n)
	}
	return out, nil
}

func (t *tx) OutboxHead() (uint64, error) { return t.st.outboxSeq, nil }

func (t *tx) OutboxTail() (uint64, error) {
	if t.st.outboxSeq == 0 {
		return 0, nil
	}
	return max(t.st.outboxTail, 1), nil
}

// PruneNotifications removes from the tail up; the entries are
// contiguous from outboxTail (AppendNotifications leaves no gaps).
func (t *tx) PruneNotifications(through uint64, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("prune notifications: limit %d must be positive", limit)
	}
	if t.st.outboxSeq == 0 {
		return 0, nil
	}
	through = min(through, t.st.outboxSeq-1)
	n := 0
	for seq := max(t.st.outboxTail, 1); seq <= through && n < limit; seq++ {
		t.st.outbox.del(seq)
		t.st.outboxTail = seq + 1
		n++
	}
	return n, nil
}

func (t *tx) Cursor(name string) (uint64, error) {
	seq, _ := t.st.cursors.get(name)
	return seq, nil
}

func (t *tx) PutCursor(name string, seq uint64) error {
	if err := storekey.CheckID("cursor", name, false); err != nil {
		return err
	}
	t.st.cursors.put(name, seq)
	return nil
}

// ---------------------------------------------------------------------------
// Audit

func (t *tx) AuditHead() (uint64, []byte, error) {
	if t.st.auditSeq == 0 && t.st.auditHash == nil {
		return 0, nil, nil
	}
	return t.st.auditSeq, bytes.Clone(t.st.auditHash), nil
}

// AppendAudit seals the events onto the head of this transaction with
// storekey.AppendAudit, as boltstore does, and stores them in the audit
// package's encoding, which is what the hash covers.
func (t *tx) AppendAudit(events ...audit.Event) ([]audit.Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	out, seq, hash, err := storekey.AppendAudit(t.st.auditSeq, t.st.auditHash, events, t.putAuditEvent)
	if err != nil {
		return nil, fmt.Errorf("append audit: %w", err)
	}
	t.st.auditSeq, t.st.auditHash = seq, hash
	return out, nil
}

// IndexAuditByTime has nothing to do: a memstore is never older than its
// index by time, which ListAuditEvents builds from the events' times.
func (t *tx) IndexAuditByTime(int) (int, bool, error) { return 0, true, nil }

func (t *tx) AuditIndexedByTime() (bool, error) { return true, nil }

// AuditIndexGap finds none: ListAuditEvents reads the events themselves.
func (t *tx) AuditIndexGap([]audit.Event) (int, string, error) { return -1, "", nil }

func (t *tx) putAuditEvent(e audit.Event) error {
	raw, err := audit.Encode(e)
	if err != nil {
		return err
	}
	if t.st.audit.has(e.Seq) {
		return fmt.Errorf("event seq %d is already stored: the recorded head is behind the log", e.Seq)
	}
	t.st.audit.put(e.Seq, auditEntry{raw: raw, caseName: e.Case, actor: e.Actor, at: e.Time})
	return nil
}

// AuditEvents yields the events as stored, in order of seq. The sequence
// must be consumed inside the transaction, as boltstore's must.
func (t *tx) AuditEvents(from uint64) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		if t.ended {
			yield(audit.Event{}, errTxEnded)
			return
		}
		for _, seq := range slices.Sorted(maps.Keys(t.st.audit.m)) {
			if seq < from {
				continue
			}
			e, err := audit.Decode(t.st.audit.m[seq].raw)
			if err != nil {
				yield(audit.Event{}, fmt.Errorf("audit event at key seq %d: %w", seq, err))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// ListAuditEvents reads what boltstore's index for q would hold (the
// case's events, else the actor's, else, for a time range, the index by
// time, else all) and checks every condition on the decoded event.
func (t *tx) ListAuditEvents(q datastore.AuditQuery) ([]audit.Event, string, error) {
	load := func(id []byte) (audit.Event, error) {
		seq := binary.BigEndian.Uint64(id)
		e, err := audit.Decode(t.st.audit.m[seq].raw)
		if err != nil {
			return e, fmt.Errorf("audit event at key seq %d: %w", seq, err)
		}
		return e, nil
	}
	keep := func(e audit.Event) bool { return storekey.AuditMatches(q, e) }
	var prefix []byte
	indexed := func(auditEntry) bool { return true }
	switch {
	case q.Case != "":
		prefix = storekey.StringPrefix(q.Case)
		indexed = func(e auditEntry) bool { return e.caseName == q.Case }
	case q.Actor != "":
		prefix = storekey.StringPrefix(q.Actor)
		indexed = func(e auditEntry) bool { return e.actor == q.Actor }
	case !q.From.IsZero() || !q.To.IsZero():
		index := make([][]byte, 0, len(t.st.audit.m))
		for seq, e := range t.st.audit.m {
			index = append(index, storekey.AuditTimeKey(e.at, seq))
		}
		var out []audit.Event
		collect := collector(&out, load, keep)
		next, err := storekey.ScanAuditTime(newCursor(index, nil), q, func(k []byte, take bool) error {
			return collect(k[8:], take)
		})
		return out, next, err
	}
	return pageDesc(t.st.audit.m, prefix, storekey.SeqKeyLen, q.After, q.Limit, indexed, storekey.U64, load, keep)
}
