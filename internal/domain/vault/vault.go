// Package vault seals what storage must never hold in the clear: the
// children's private information (Decree 56 Art. 33), the caregivers and
// the free text of a report, under the data key of the report's case, and
// the reporter's identity (Art. 24) under a key of its own. Data keys are
// wrapped by the master key and kept in storage; the master key lives only
// in the key file. Rotate re-wraps every data key under a new master while
// reads go on.
package vault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/panics"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
)

// Vault seals and opens reports with data keys kept in storage. It is safe
// for concurrent use; the keyring can be replaced during a rotation.
type Vault struct {
	keyed atomic.Pointer[keyed]

	// unwrapped, when set (by the tests), is shown every plaintext data
	// key the vault unwraps, so that a test can see it cleared once used.
	unwrapped func(dataKey []byte)
}

// keyed is a keyring and the Sealers of the data keys it unwrapped, replaced
// together: a Sealer unwrapped under a keyring is never used under another,
// so a master retired by a rotation opens nothing from the cache either.
type keyed struct {
	ring    *keys.Keyring
	sealers sealerCache
}

// New returns a vault using ring.
func New(ring *keys.Keyring) *Vault {
	v := &Vault{}
	v.SetKeyring(ring)
	return v
}

// Keyring returns the keyring in use.
func (v *Vault) Keyring() *keys.Keyring { return v.keyed.Load().ring }

// SetKeyring replaces the keyring, for a rotation, and drops every data
// key's Sealer unwrapped under the one before.
func (v *Vault) SetKeyring(ring *keys.Keyring) { v.keyed.Store(&keyed{ring: ring}) }

// maxSealers bounds the data keys' Sealers a vault keeps (some 1.3 KB each):
// the keys in use at a moment are those of the few reports and cases being
// written and read, and a shared few (the audit log's).
const maxSealers = 1024

// sealerCache keeps the Sealers of data keys, so that a data key sealed
// or opened again (a report's case key and reporter key, read back for its
// search entry right after its write; the audit log's keys, for every
// search) is neither unwrapped nor given a new AES-GCM cipher each time.
// An entry is found only by the wrapped key as stored now, read in the
// caller's transaction: a key re-wrapped by a rotation or replaced has other
// bytes and misses, a key no longer stored is not found before the cache is
// asked. When full it is emptied, which keeps it bounded at no
// bookkeeping cost.
type sealerCache struct {
	mu sync.Mutex
	m  map[sealerKey]*keys.Sealer
}

// sealerKey is a data key's id (its additional data when wrapped) and its
// wrapped form, whole: the same key is the same unwrapping.
type sealerKey struct {
	id, master, sealed string
}

func keyOf(id string, w keys.WrappedKey) sealerKey {
	return sealerKey{id: id, master: w.MasterID, sealed: string(w.Sealed)}
}

func (c *sealerCache) get(k sealerKey) *keys.Sealer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func (c *sealerCache) put(k sealerKey, s *keys.Sealer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxSealers {
		c.m = make(map[sealerKey]*keys.Sealer)
	}
	c.m[k] = s
}

func (c *sealerCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Data key ids. A case's key seals the private part of all its reports; a
// report that belongs to no case has a key of its own until it joins one;
// each reporter has a key of their own, so disclosing a case never needs
// the reporter's key.
func caseKeyID(number string) string     { return "cases/" + number }
func reportKeyID(id string) string       { return "reports/" + id }
func reporterKeyID(id string) string     { return "reports/" + id + "/reporter" }
func privateAAD(reportID string) []byte  { return []byte("reports/" + reportID + "/private") }
func reporterAAD(reportID string) []byte { return []byte("reports/" + reportID + "/reporter") }

// privatePart is the sealed part of a report, stored as JSON.
type privatePart struct {
	Children        []childPrivate    `json:"children,omitempty"`
	Caregivers      []model.Caregiver `json:"caregivers,omitempty"`
	FamilySituation string            `json:"family_situation,omitempty"`
	ActionsTaken    string            `json:"actions_taken,omitempty"`
	Narrative       string            `json:"narrative,omitempty"`
}

// childPrivate is what a report says about a child beyond age and sex.
type childPrivate struct {
	FullName     string      `json:"full_name,omitempty"`
	BirthDate    vntime.Date `json:"birth_date,omitzero"`
	Location     string      `json:"location,omitempty"`
	Condition    string      `json:"condition,omitempty"`
	ExpectedHarm string      `json:"expected_harm,omitempty"`
	Residence    units.Key   `json:"residence,omitzero"` // where the child lives (Art. 33: residence)
}

// SealReport returns the stored form of r. Its private part is sealed
// under the data key of r's case, or of r itself when r belongs to no case
// (created when missing); its reporter under a new key of its own.
func (v *Vault) SealReport(tx datastore.KeyTx, r model.Report) (model.StoredReport, error) {
	s := model.StoredReport{
		ID:                   r.ID,
		Channel:              r.Channel,
		Means:                r.Means,
		ReceiveTime:          r.ReceiveTime,
		IncidentUnit:         r.IncidentUnit,
		CallType:             r.CallType,
		SuspectedAbuse:       r.SuspectedAbuse,
		SpecialCircumstances: r.SpecialCircumstances,
		ImmediateDanger:      r.ImmediateDanger,
		CaseNumber:           r.CaseNumber,
		CreateTime:           r.CreateTime,
		TakenBy:              r.TakenBy,
		TakerUnit:            r.TakerUnit,
		Children:             Summaries(r),
	}
	var err error
	if s.Private, err = v.sealPrivate(tx, r, privateKeyID(r.ID, r.CaseNumber)); err != nil {
		return model.StoredReport{}, err
	}
	reporter, err := json.Marshal(r.Reporter)
	if err != nil {
		return model.StoredReport{}, fmt.Errorf("seal reporter: %w", err)
	}
	if s.Reporter, err = v.seal(tx, reporterKeyID(r.ID), reporter, reporterAAD(r.ID)); err != nil {
		return model.StoredReport{}, err
	}
	return s, nil
}

func privateKeyID(reportID, caseNumber string) string {
	if caseNumber != "" {
		return caseKeyID(caseNumber)
	}
	return reportKeyID(reportID)
}

func (v *Vault) sealPrivate(tx datastore.KeyTx, r model.Report, keyID string) (model.Sealed, error) {
	p := privatePart{
		Caregivers:      r.Caregivers,
		FamilySituation: r.FamilySituation,
		ActionsTaken:    r.ActionsTaken,
		Narrative:       r.Narrative,
	}
	for _, c := range r.Children {
		p.Children = append(p.Children, childPrivate{
			FullName: c.FullName, BirthDate: c.BirthDate, Location: c.Location,
			Condition: c.Condition, ExpectedHarm: c.ExpectedHarm, Residence: c.ResidenceUnit,
		})
	}
	b, err := json.Marshal(p)
	if err != nil {
		return model.Sealed{}, fmt.Errorf("seal report: %w", err)
	}
	return v.seal(tx, keyID, b, privateAAD(r.ID))
}

// Summaries returns what may be shown of r's children outside the social
// case: age on the day of the report, and sex.
func Summaries(r model.Report) []model.ChildSummary {
	day := vntime.DateOf(r.ReceiveTime)
	var out []model.ChildSummary
	for _, c := range r.Children {
		s := model.ChildSummary{Sex: c.Sex}
		if c.EstimatedAge != nil {
			s.AgeYears, s.AgeEstimated = *c.EstimatedAge, true
		} else if !c.BirthDate.IsZero() {
			s.AgeYears = int32(c.BirthDate.YearsTo(day))
		}
		out = append(out, s)
	}
	return out
}

// OpenReport returns the report s stores, with the reporter's identity
// withheld (Reporter.Withheld); only OpenReporter reveals it.
func (v *Vault) OpenReport(tx datastore.KeyReader, s model.StoredReport) (model.Report, error) {
	r := model.Report{
		ID:                   s.ID,
		Channel:              s.Channel,
		Means:                s.Means,
		ReceiveTime:          s.ReceiveTime,
		IncidentUnit:         s.IncidentUnit,
		CallType:             s.CallType,
		SuspectedAbuse:       s.SuspectedAbuse,
		SpecialCircumstances: s.SpecialCircumstances,
		ImmediateDanger:      s.ImmediateDanger,
		CaseNumber:           s.CaseNumber,
		CreateTime:           s.CreateTime,
		TakenBy:              s.TakenBy,
		TakerUnit:            s.TakerUnit,
		Reporter:             model.Reporter{Withheld: true},
	}
	b, err := v.open(tx, s.Private, privateAAD(s.ID))
	if err != nil {
		return model.Report{}, err
	}
	var p privatePart
	if err := json.Unmarshal(b, &p); err != nil {
		return model.Report{}, fmt.Errorf("open report %s: %w", s.ID, err)
	}
	if len(p.Children) != len(s.Children) {
		return model.Report{}, fmt.Errorf("open report %s: %d sealed children, %d summaries", s.ID, len(p.Children), len(s.Children))
	}
	for i, c := range p.Children {
		child := model.Child{
			FullName: c.FullName, BirthDate: c.BirthDate, Sex: s.Children[i].Sex,
			Location: c.Location, Condition: c.Condition, ExpectedHarm: c.ExpectedHarm, ResidenceUnit: c.Residence,
		}
		if s.Children[i].AgeEstimated {
			age := s.Children[i].AgeYears
			child.EstimatedAge = &age
		}
		r.Children = append(r.Children, child)
	}
	r.Caregivers = p.Caregivers
	r.FamilySituation, r.ActionsTaken, r.Narrative = p.FamilySituation, p.ActionsTaken, p.Narrative
	return r, nil
}

// OpenReporter reveals the reporter of s. Callers audit it.
func (v *Vault) OpenReporter(tx datastore.KeyReader, s model.StoredReport) (model.Reporter, error) {
	b, err := v.open(tx, s.Reporter, reporterAAD(s.ID))
	if err != nil {
		return model.Reporter{}, err
	}
	var r model.Reporter
	if err := json.Unmarshal(b, &r); err != nil {
		return model.Reporter{}, fmt.Errorf("open reporter of %s: %w", s.ID, err)
	}
	return r, nil
}

// MoveToCase re-seals the private part of s under the data key of the case
// it now belongs to (s.CaseNumber), when a report joins a case after it was
// recorded.
func (v *Vault) MoveToCase(tx datastore.KeyTx, s model.StoredReport) (model.StoredReport, error) {
	want := privateKeyID(s.ID, s.CaseNumber)
	if s.Private.KeyID == want {
		return s, nil
	}
	b, err := v.open(tx, s.Private, privateAAD(s.ID))
	if err != nil {
		return model.StoredReport{}, err
	}
	if s.Private, err = v.seal(tx, want, b, privateAAD(s.ID)); err != nil {
		return model.StoredReport{}, err
	}
	return s, nil
}

// seal encrypts plaintext under the data key keyID, creating the key if it
// does not exist yet.
func (v *Vault) seal(tx datastore.KeyTx, keyID string, plaintext, aad []byte) (model.Sealed, error) {
	s, err := v.sealer(tx, keyID)
	if errors.Is(err, model.ErrNotFound) {
		s, err = v.newDataKey(tx, keyID)
	}
	if err != nil {
		return model.Sealed{}, err
	}
	data, err := s.Seal(plaintext, aad)
	if err != nil {
		return model.Sealed{}, fmt.Errorf("seal under %s: %w", keyID, err)
	}
	return model.Sealed{KeyID: keyID, Data: data}, nil
}

func (v *Vault) open(tx datastore.KeyReader, s model.Sealed, aad []byte) ([]byte, error) {
	sl, err := v.sealer(tx, s.KeyID)
	if err != nil {
		return nil, err
	}
	b, err := sl.Open(s.Data, aad)
	if err != nil {
		return nil, fmt.Errorf("open data sealed under %s: %w", s.KeyID, err)
	}
	return b, nil
}

// unwrap unwraps the data key id under ring. Its caller clears the
// plaintext it is given once used: a data key is in the clear in memory no
// longer than it takes to wrap it again or to make its Sealer.
func (v *Vault) unwrap(ring *keys.Keyring, w keys.WrappedKey, id string) ([]byte, error) {
	dk, err := ring.Unwrap(w, []byte(id))
	if err == nil && v.unwrapped != nil {
		v.unwrapped(dk)
	}
	return dk, err
}

// sealer returns the Sealer of the data key id as tx stores it, from the
// cache when that wrapped key was unwrapped before under this keyring.
func (v *Vault) sealer(tx datastore.KeyReader, id string) (*keys.Sealer, error) {
	w, err := tx.DataKey(id)
	if err != nil {
		return nil, err
	}
	kd := v.keyed.Load()
	k := keyOf(id, w)
	if s := kd.sealers.get(k); s != nil {
		return s, nil
	}
	dk, err := v.unwrap(kd.ring, w, id)
	if err != nil {
		return nil, fmt.Errorf("data key %s: %w", id, err)
	}
	defer clear(dk)
	s, err := keys.NewSealer(dk)
	if err != nil {
		return nil, fmt.Errorf("data key %s: %w", id, err)
	}
	kd.sealers.put(k, s)
	return s, nil
}

// newDataKey makes and stores the data key id, and returns its Sealer,
// kept for the reads that follow (a report's search entry opens what its
// write sealed). Were tx rolled back, the entry would match no stored key.
func (v *Vault) newDataKey(tx datastore.KeyTx, id string) (*keys.Sealer, error) {
	dk, err := keys.NewDataKey()
	if err != nil {
		return nil, err
	}
	defer clear(dk)
	kd := v.keyed.Load()
	w, err := kd.ring.Wrap(dk, []byte(id))
	if err != nil {
		return nil, err
	}
	s, err := keys.NewSealer(dk)
	if err != nil {
		return nil, fmt.Errorf("data key %s: %w", id, err)
	}
	if err := tx.PutDataKey(id, w); err != nil {
		return nil, fmt.Errorf("store data key %s: %w", id, err)
	}
	kd.sealers.put(keyOf(id, w), s)
	return s, nil
}

// Check proves at start that the keyring opens the stored data: it
// unwraps one data key of every master key the database uses. A wrong or
// missing key file fails here, loudly, instead of serving errors later. An
// empty database passes. It reads one data key per master id, so a start
// takes as long with a million cases as with none.
func (v *Vault) Check(ctx context.Context, store datastore.Store) error {
	return store.View(ctx, func(tx datastore.ReadTx) error {
		ks, err := tx.DataKeyPerMaster()
		if err != nil {
			return err
		}
		for _, k := range ks {
			dk, err := v.unwrap(v.Keyring(), k.Wrapped, k.ID)
			if err != nil {
				return fmt.Errorf("the master key does not open the data in this database (is it the right key file?): %w", err)
			}
			clear(dk) // opened to prove the key file right, used for nothing else
		}
		return nil
	})
}

// MastersInUse returns the ids of the master keys the stored data keys
// are wrapped under, in order of id: one when the data is under one
// master, more while a rotation is unfinished (or in a copy taken then),
// none in an empty database. It reads one data key per master.
func MastersInUse(ctx context.Context, store datastore.Store) ([]string, error) {
	var ids []string
	err := store.View(ctx, func(tx datastore.ReadTx) error {
		ks, err := tx.DataKeyPerMaster()
		if err != nil {
			return err
		}
		ids = ids[:0]
		for _, k := range ks {
			ids = append(ids, k.Wrapped.MasterID)
		}
		return nil
	})
	return ids, err
}

// CountNotUnder returns how many stored data keys are wrapped under a
// master other than masterID: those a Rotate to it would re-wrap, told
// before it runs so that its audit event can come first.
func CountNotUnder(ctx context.Context, store datastore.Store, masterID string) (int, error) {
	var n int
	err := store.View(ctx, func(tx datastore.ReadTx) error {
		n = 0
		for after := ""; ; {
			ks, next, err := tx.ListDataKeys(after, rotateBatch)
			if err != nil {
				return err
			}
			for _, k := range ks {
				if k.Wrapped.MasterID != masterID {
					n++
				}
			}
			if next == "" {
				return nil
			}
			after = next
		}
	})
	return n, err
}

// claimKeyID names the data key Claim puts under the master of the first
// instance of a shared store; it seals nothing.
const claimKeyID = "vault/master"

// Claim puts a data key under the keyring's current master into a store
// that holds none yet, in one transaction that writes nothing when it
// holds one. On a store shared by several instances, each with its own
// key file, the first to start then owns the store even before anything
// is sealed, and Check refuses every other master at its start: without
// it, two instances started on a new store with different key files (or
// one missing, and so created) would each seal under their own, and
// neither could open what the other wrote.
func (v *Vault) Claim(ctx context.Context, store datastore.Store) error {
	return store.Update(ctx, func(tx datastore.Tx) error {
		ks, _, err := tx.ListDataKeys("", 1)
		if err != nil || len(ks) > 0 {
			return err
		}
		_, err = v.newDataKey(tx, claimKeyID)
		return err
	})
}

// HasData reports whether the database holds any data key, i.e. encrypted
// data a lost key file would make unreadable.
func HasData(ctx context.Context, store datastore.Store) (bool, error) {
	var found bool
	err := store.View(ctx, func(tx datastore.ReadTx) error {
		ks, _, err := tx.ListDataKeys("", 1)
		found = len(ks) > 0
		return err
	})
	return found, err
}

// rotateBatch is how many data keys one transaction of Rotate re-wraps:
// small enough that writers are never held up for long.
const rotateBatch = 200

// Rotate re-wraps every data key that is not under the keyring's current
// master with the current master, in small transactions, and returns how
// many it re-wrapped. The keyring must still hold the old master, so reads
// keep working throughout; running it again after an interruption finishes
// the job.
func (v *Vault) Rotate(ctx context.Context, store datastore.Store) (int, error) {
	ring := v.Keyring()
	current := ring.Current()
	return InBatches(ctx, store, rotateBatch, func(tx datastore.Tx, after string, limit int) (string, int, error) {
		ks, next, err := tx.ListDataKeys(after, limit)
		if err != nil {
			return "", 0, err
		}
		n := 0
		for _, k := range ks {
			if k.Wrapped.MasterID == current.ID() {
				continue
			}
			dk, err := v.unwrap(ring, k.Wrapped, k.ID)
			if err != nil {
				return "", 0, fmt.Errorf("rotate data key %s: %w", k.ID, err)
			}
			w, err := current.Wrap(dk, []byte(k.ID))
			clear(dk) // wrapped again: its plaintext is needed no longer
			if err != nil {
				return "", 0, err
			}
			if err := tx.PutDataKey(k.ID, w); err != nil {
				return "", 0, err
			}
			n++
		}
		return next, n, nil
	})
}

// InBatches runs step in one transaction after another, each given the
// cursor the one before returned and how many items it may take (limit,
// or fewer where the store commits less at once: datastore.FitBatch),
// until a step returns no cursor; it adds up the counts of the committed
// steps. A long job (a rotation) so never holds the write lock for long,
// and running it again after an interruption finishes it.
func InBatches(ctx context.Context, store datastore.Store, limit int, step func(tx datastore.Tx, after string, limit int) (next string, n int, err error)) (int, error) {
	total, after := 0, ""
	for {
		var next string
		var n int
		var err error
		limit, err = datastore.FitBatch(limit, func(limit int) error {
			return store.Update(ctx, func(tx datastore.Tx) error {
				var err error
				next, n, err = step(tx, after, limit)
				return err
			})
		})
		if err != nil {
			return total, err
		}
		total += n
		if next == "" {
			return total, nil
		}
		after = next
	}
}

func dossierAAD(number string) []byte { return []byte("cases/" + number + "/dossier") }

// SealDossier seals the content of a case's steps under the case's data
// key (created if missing).
func (v *Vault) SealDossier(tx datastore.KeyTx, caseNumber string, d model.Dossier) (model.Sealed, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return model.Sealed{}, fmt.Errorf("seal dossier of %s: %w", caseNumber, err)
	}
	return v.seal(tx, caseKeyID(caseNumber), b, dossierAAD(caseNumber))
}

// OpenDossier opens a case's dossier; an empty one (never sealed) opens as
// an empty dossier.
func (v *Vault) OpenDossier(tx datastore.KeyReader, caseNumber string, s model.Sealed) (model.Dossier, error) {
	var d model.Dossier
	if s.KeyID == "" && len(s.Data) == 0 {
		return d, nil
	}
	b, err := v.open(tx, s, dossierAAD(caseNumber))
	if err != nil {
		return model.Dossier{}, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return model.Dossier{}, fmt.Errorf("open dossier of %s: %w", caseNumber, err)
	}
	return d, nil
}

// caseTexts is the free text a case carries outside its dossier: what a
// worker wrote about a transfer, a paused deadline and a police referral.
// It names suspects and families, so it is sealed under the case's data
// key like the dossier; the rest of the case stays in the clear for
// scoping, deadlines and the police view. The case's special-circumstance
// groups (Child Law Art. 10: disability, HIV, sexual abuse, ...) are the
// child's private information too, and travel with it.
type caseTexts struct {
	Referrals     []referralTexts             `json:"referrals,omitempty"` // by index in Case.PoliceReferrals
	Pauses        map[int]string              `json:"pauses,omitempty"`    // PauseReason by deadline id
	Transfers     map[int]transferText        `json:"transfers,omitempty"` // by transfer id
	Circumstances []model.SpecialCircumstance `json:"circumstances,omitempty"`
}

type referralTexts struct {
	SuspectedOffence string `json:"suspected_offence,omitempty"`
	ReferenceNumber  string `json:"reference_number,omitempty"`
	Investigators    string `json:"investigators,omitempty"`
	// Decisions are the numbers and reasons of the D16 decisions, by
	// index in PoliceReferral.Decisions.
	Decisions []decisionText `json:"decisions,omitempty"`
}

type decisionText struct {
	Number string `json:"number,omitempty"`
	Reason string `json:"reason,omitempty"`
}

type transferText struct {
	Reason      string `json:"reason,omitempty"`
	DeclineNote string `json:"decline_note,omitempty"`
}

func caseTextsAAD(number string) []byte { return []byte("cases/" + number + "/texts") }

// textsOf gathers the free text of c, and reports whether there is any.
func textsOf(c model.Case) (caseTexts, bool) {
	var t caseTexts
	some := false
	for _, r := range c.PoliceReferrals {
		rt := referralTexts{SuspectedOffence: r.SuspectedOffence, ReferenceNumber: r.ReferenceNumber, Investigators: r.Investigators}
		some = some || rt.SuspectedOffence != "" || rt.ReferenceNumber != "" || rt.Investigators != ""
		for _, d := range r.Decisions {
			rt.Decisions = append(rt.Decisions, decisionText{Number: d.Number, Reason: d.Reason})
			some = some || d.Number != "" || d.Reason != ""
		}
		t.Referrals = append(t.Referrals, rt)
	}
	for _, d := range c.Deadlines {
		if d.PauseReason != "" {
			if t.Pauses == nil {
				t.Pauses = map[int]string{}
			}
			t.Pauses[d.ID], some = d.PauseReason, true
		}
	}
	for _, tr := range c.Transfers {
		if tr.Reason != "" || tr.DeclineNote != "" {
			if t.Transfers == nil {
				t.Transfers = map[int]transferText{}
			}
			t.Transfers[tr.ID], some = transferText{Reason: tr.Reason, DeclineNote: tr.DeclineNote}, true
		}
	}
	if len(c.SpecialCircumstances) > 0 {
		t.Circumstances, some = c.SpecialCircumstances, true
	}
	return t, some
}

// HasClearText reports whether c carries free text in the clear: a case
// opened by OpenCase, or one a schema version 2 database stored that way.
func HasClearText(c model.Case) bool {
	_, some := textsOf(c)
	return some
}

// withoutTexts returns c with its free text removed. The slices are copied:
// c is the caller's, and stays as it was.
func withoutTexts(c model.Case) model.Case {
	c.PoliceReferrals = slices.Clone(c.PoliceReferrals)
	for i := range c.PoliceReferrals {
		r := &c.PoliceReferrals[i]
		r.SuspectedOffence, r.ReferenceNumber, r.Investigators = "", "", ""
		r.Decisions = slices.Clone(r.Decisions)
		for j := range r.Decisions {
			r.Decisions[j].Number, r.Decisions[j].Reason = "", ""
		}
	}
	c.Deadlines = slices.Clone(c.Deadlines)
	for i := range c.Deadlines {
		c.Deadlines[i].PauseReason = ""
	}
	c.Transfers = slices.Clone(c.Transfers)
	for i := range c.Transfers {
		c.Transfers[i].Reason, c.Transfers[i].DeclineNote = "", ""
	}
	c.SpecialCircumstances = nil
	return c
}

// errCaseNotOpened guards against a write that would lose the sealed text:
// a case read from storage must go through OpenCase before it is changed
// and sealed again.
var errCaseNotOpened = errors.New("the case's free text was not opened before the case was changed")

// SealCase returns the form of c that storage keeps (and that an
// idempotency record remembers): its free text sealed in Texts under the
// case's data key, the clear fields empty. c must have been opened by
// OpenCase (or be new); c itself is not changed.
func (v *Vault) SealCase(tx datastore.KeyTx, c model.Case) (model.Case, error) {
	if len(c.Texts.Data) > 0 {
		return model.Case{}, fmt.Errorf("seal case %s: %w", c.Number, errCaseNotOpened)
	}
	t, some := textsOf(c)
	if !some {
		return c, nil
	}
	b, err := json.Marshal(t)
	if err != nil {
		return model.Case{}, fmt.Errorf("seal free text of %s: %w", c.Number, err)
	}
	stored := withoutTexts(c)
	if stored.Texts, err = v.seal(tx, caseKeyID(c.Number), b, caseTextsAAD(c.Number)); err != nil {
		return model.Case{}, err
	}
	return stored, nil
}

// OpenCase returns c as storage keeps it with its free text opened into
// the clear fields and Texts emptied (which marks it open for SealCase).
// A case without sealed text is returned as it is: it has none, or it was
// stored in the clear by an older version.
func (v *Vault) OpenCase(tx datastore.KeyReader, c model.Case) (model.Case, error) {
	if c.Texts.KeyID == "" && len(c.Texts.Data) == 0 {
		return c, nil
	}
	b, err := v.open(tx, c.Texts, caseTextsAAD(c.Number))
	if err != nil {
		return model.Case{}, err
	}
	var t caseTexts
	if err := json.Unmarshal(b, &t); err != nil {
		return model.Case{}, fmt.Errorf("open free text of %s: %w", c.Number, err)
	}
	if len(t.Referrals) > len(c.PoliceReferrals) {
		return model.Case{}, fmt.Errorf("open free text of %s: %d sealed referrals, %d stored", c.Number, len(t.Referrals), len(c.PoliceReferrals))
	}
	c = withoutTexts(c) // copies the slices before they are filled in
	for i, r := range t.Referrals {
		p := &c.PoliceReferrals[i]
		p.SuspectedOffence, p.ReferenceNumber, p.Investigators = r.SuspectedOffence, r.ReferenceNumber, r.Investigators
		if len(r.Decisions) > len(p.Decisions) {
			return model.Case{}, fmt.Errorf("open free text of %s: %d sealed decisions of referral %d, %d stored", c.Number, len(r.Decisions), i, len(p.Decisions))
		}
		for j, d := range r.Decisions {
			p.Decisions[j].Number, p.Decisions[j].Reason = d.Number, d.Reason
		}
	}
	for i := range c.Deadlines {
		c.Deadlines[i].PauseReason = t.Pauses[c.Deadlines[i].ID]
	}
	for i := range c.Transfers {
		tt := t.Transfers[c.Transfers[i].ID]
		c.Transfers[i].Reason, c.Transfers[i].DeclineNote = tt.Reason, tt.DeclineNote
	}
	c.SpecialCircumstances = t.Circumstances
	c.Texts = model.Sealed{}
	return c, nil
}

// OpenCases opens each of cs in place, for a page of a list.
func (v *Vault) OpenCases(tx datastore.KeyReader, cs []model.Case) error {
	for i := range cs {
		c, err := v.OpenCase(tx, cs[i])
		if err != nil {
			return err
		}
		cs[i] = c
	}
	return nil
}

// sealClearBatch is how many cases one transaction of SealClearText reads
// or seals.
const sealClearBatch = 200

// ErrLeftInTheClear is the error of SealClearText when it passed over
// cases it could not seal: their free text stays in the clear, and so
// does the mark that makes a later run look for them.
var ErrLeftInTheClear = errors.New("cases whose free text could not be sealed were left in the clear")

// errSealPanicked is the error of a case whose sealing panicked.
var errSealPanicked = errors.New("its sealing panicked")

// passedOverShown bounds how many passed-over cases the error of
// SealClearText names; it counts them all.
const passedOverShown = 10

// SealClearText seals the free text that a database of schema version 2
// or older kept in the clear in its cases, in small transactions, and
// returns how many cases it sealed. It runs at every start before the
// service serves, but looks for such cases only while the store says some
// may be left (ClearTextPending, set by the migration of such a file), so
// a start does not read every case. It finds them with reads only, and
// clears the mark once none is left; a full database still starts (the
// mark stays, and a later start looks again). Sealing is a change of the
// stored case, so its etag changes once, but not the police view's, which
// shows nothing new.
//
// A case that cannot be sealed (on a damaged page, or whose sealing fails
// or panics) fails its batch's transaction; the batch is then sealed case
// by case, and such a case is passed over, so that it does not leave
// every case after it in the clear until it is mended; so is one the
// listing that finds them cannot read (listInClear). The cases passed
// over are reported together (ErrLeftInTheClear), and the mark stays for
// a later run to try them again. A full database, or ctx ending, ends the
// run.
func (v *Vault) SealClearText(ctx context.Context, store datastore.Store) (int, error) {
	var pending bool
	if err := store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		pending, err = tx.ClearTextPending()
		return err
	}); err != nil || !pending {
		return 0, err
	}
	todo, passed, lerr := listInClear(ctx, store)
	if lerr != nil {
		return 0, errors.Join(leftInTheClear(passed), lerr)
	}
	sealed, limit := 0, sealClearBatch
	for len(todo) > 0 {
		n := 0
		var err error
		limit, err = datastore.FitBatch(limit, func(limit int) error {
			n, err = v.sealClearCases(ctx, store, todo[:min(limit, len(todo))])
			return err
		})
		batch := todo[:min(limit, len(todo))]
		todo = todo[len(batch):]
		if err == nil {
			sealed += n
			continue
		}
		if endsSealing(ctx, err) {
			return sealed, errors.Join(leftInTheClear(passed), err)
		}
		// One case of the batch failed it: each alone, to find which.
		for _, number := range batch {
			n, err := v.sealClearCases(ctx, store, []string{number})
			if endsSealing(ctx, err) {
				return sealed, errors.Join(leftInTheClear(passed), err)
			}
			if err != nil {
				passed = append(passed, fmt.Errorf("case %s: %w", number, err))
			}
			sealed += n
		}
	}
	if len(passed) > 0 {
		return sealed, leftInTheClear(passed)
	}
	err := store.Update(ctx, func(tx datastore.Tx) error { return tx.ClearTextSealed() })
	if errors.Is(err, model.ErrFull) {
		return sealed, nil // every case is sealed; the mark goes at a later start
	}
	return sealed, err
}

// listInClear returns the numbers of the cases in the clear, newest
// first, and the cases it passed over because it could not read them. It
// lists them a page at a time; a page that fails (a case on a damaged
// page, or whose record does not decode) would end the listing there, and
// leave every older case in the clear, so from the last case it read it
// walks on down by id instead (datastore.CaseReader.LastCaseID), a batch
// of ids a read, and a batch that fails id by id, passing over each case
// it cannot read. Only an ended ctx, or a store that does not answer
// (model.ErrUnavailable), ends the listing.
func listInClear(ctx context.Context, store datastore.Store) (todo []string, passed []error, err error) {
	below := uint64(0) // the id of the last case listed, 0 before one
	for after := ""; ; {
		var next string
		var page []model.Case
		err := store.View(ctx, func(tx datastore.ReadTx) error {
			cs, cursor, err := tx.ListCases(datastore.CaseQuery{Match: InClear, After: after, Limit: sealClearBatch})
			page, next = cs, cursor
			return err
		})
		if ctx.Err() != nil {
			return nil, passed, ctx.Err()
		}
		if errors.Is(err, model.ErrUnavailable) {
			return nil, passed, err
		}
		if err != nil {
			break // walked by id from below
		}
		for _, c := range page {
			todo = append(todo, c.Number)
			below = c.ID
		}
		if next == "" {
			return todo, nil, nil
		}
		after = next
	}
	if below == 0 {
		if err := store.View(ctx, func(tx datastore.ReadTx) error {
			last, err := tx.LastCaseID()
			below = last + 1
			return err
		}); err != nil {
			return nil, nil, err
		}
	}
	// read returns the numbers of the cases in the clear among ids, in
	// one read transaction; an id no case has now is passed.
	read := func(ids []uint64) ([]string, error) {
		var numbers []string
		err := store.View(ctx, func(tx datastore.ReadTx) error {
			numbers = numbers[:0]
			for _, id := range ids {
				c, err := tx.CaseByID(id)
				if errors.Is(err, model.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if InClear(c) {
					numbers = append(numbers, c.Number)
				}
			}
			return nil
		})
		return numbers, err
	}
	for below > 1 {
		ids := make([]uint64, 0, sealClearBatch)
		for id := below - 1; id >= 1 && len(ids) < sealClearBatch; id-- {
			ids = append(ids, id)
		}
		below = ids[len(ids)-1]
		numbers, err := read(ids)
		if err == nil {
			todo = append(todo, numbers...)
			continue
		}
		if ctx.Err() != nil {
			return nil, passed, ctx.Err()
		}
		for _, id := range ids {
			numbers, err := read([]uint64{id})
			if ctx.Err() != nil {
				return nil, passed, ctx.Err()
			}
			if errors.Is(err, model.ErrUnavailable) {
				// The store does not answer: no case is readable now.
				return nil, passed, err
			}
			if err != nil {
				passed = append(passed, fmt.Errorf("case id %d: %w", id, err))
				continue
			}
			todo = append(todo, numbers...)
		}
	}
	return todo, passed, nil
}

// InClear reports whether c keeps free text in the clear, as a database
// of schema version 2 or older wrote it.
func InClear(c model.Case) bool { return len(c.Texts.Data) == 0 && HasClearText(c) }

// endsSealing reports whether err, of a transaction of SealClearText,
// ends the run rather than pass over a case: a full database has no room
// for the next case either, and an ended ctx wants the run to stop.
func endsSealing(ctx context.Context, err error) bool {
	return err != nil && (errors.Is(err, model.ErrFull) || ctx.Err() != nil)
}

// leftInTheClear is the error of the cases passed over, naming the first
// passedOverShown of them and counting all; nil for none.
func leftInTheClear(passed []error) error {
	if len(passed) == 0 {
		return nil
	}
	return fmt.Errorf("%w (%d): %w", ErrLeftInTheClear, len(passed), errors.Join(passed[:min(len(passed), passedOverShown)]...))
}

// sealClearCases seals the free text of the cases numbered in one
// transaction and returns how many it sealed. A panic is its error
// (errSealPanicked, described without its value, which may hold a
// child's name); the store rolled the transaction back.
func (v *Vault) sealClearCases(ctx context.Context, store datastore.Store, numbers []string) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, panics.Error(errSealPanicked, p)
		}
	}()
	err = store.Update(ctx, func(tx datastore.Tx) error {
		n = 0
		for _, number := range numbers {
			c, err := tx.CaseByNumber(number)
			if err != nil {
				return err
			}
			if !InClear(c) {
				continue // sealed since it was found
			}
			// Nothing the police see changes: their views keep their
			// etags and update times. c's free text is in the clear, as
			// StampPoliceViews takes it.
			before := c
			c.Revision++
			if err := access.StampPoliceViews(&c, func() (model.Case, error) { return before, nil }); err != nil {
				return err
			}
			stored, err := v.SealCase(tx, c)
			if err != nil {
				return err
			}
			if err := tx.UpdateCase(stored); err != nil {
				return fmt.Errorf("seal the free text of case %s: %w", c.Number, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// sealedReasonPrefix starts the stored form of an audit event's reason.
const sealedReasonPrefix = "sealed:"

// auditKeyID is the data key of the reasons in the audit log: one key of
// the log's own, since a reason may concern a report that belongs to no
// case, or a resource the caller could not see.
const auditKeyID = "audit/reasons"

func reasonAAD(e audit.Event) []byte { return []byte("audit/reason " + e.Action + " " + e.Resource) }

// SealReason seals e.Reason in place, before the event is appended: the
// reason a person gives for a disclosure is personal data, and the audit
// log must not keep it in the clear. The hash chain covers the sealed
// form, so the log verifies without the key. An empty reason stays empty.
func (v *Vault) SealReason(tx datastore.KeyTx, e *audit.Event) error {
	if e.Reason == "" {
		return nil
	}
	s, err := v.seal(tx, auditKeyID, []byte(e.Reason), reasonAAD(*e))
	if err != nil {
		return fmt.Errorf("seal the reason of %s: %w", e.Action, err)
	}
	e.Reason = sealedReasonPrefix + base64.RawStdEncoding.EncodeToString(s.Data)
	return nil
}

// OpenReason returns the reason of e as it was given, for auditors. An
// event appended before reasons were sealed holds its reason in the clear
// and is returned as it is; a sealed reason that does not open is an
// error.
func (v *Vault) OpenReason(tx datastore.KeyReader, e audit.Event) (string, error) {
	enc, sealed := strings.CutPrefix(e.Reason, sealedReasonPrefix)
	if !sealed {
		return e.Reason, nil
	}
	data, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil {
		return "", fmt.Errorf("audit event %d: the sealed reason is damaged: %w", e.Seq, err)
	}
	b, err := v.open(tx, model.Sealed{KeyID: auditKeyID, Data: data}, reasonAAD(e))
	if err != nil {
		return "", fmt.Errorf("audit event %d: %w", e.Seq, err)
	}
	return string(b), nil
}

// The queries of searches (who looked for which child) are sealed under a
// key of their own with a prefix of their own: OpenReason leaves them
// sealed, so that auditors, who read who did what but no case content,
// never read the names a search looked for; only OpenQuery opens them,
// for an inquiry into a search itself.
const (
	sealedQueryPrefix = "sealed-query:"
	queryKeyID        = "audit/search-queries"
)

// SealQuery seals query into e.Reason, before the event is appended. The
// hash chain covers the sealed form.
func (v *Vault) SealQuery(tx datastore.KeyTx, e *audit.Event, query []byte) error {
	s, err := v.seal(tx, queryKeyID, query, reasonAAD(*e))
	if err != nil {
		return fmt.Errorf("seal the query of %s: %w", e.Action, err)
	}
	e.Reason = sealedQueryPrefix + base64.RawStdEncoding.EncodeToString(s.Data)
	return nil
}

// OpenQuery returns the query SealQuery sealed into e, and false when e
// holds none.
func (v *Vault) OpenQuery(tx datastore.KeyReader, e audit.Event) ([]byte, bool, error) {
	enc, ok := strings.CutPrefix(e.Reason, sealedQueryPrefix)
	if !ok {
		return nil, false, nil
	}
	data, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil {
		return nil, true, fmt.Errorf("audit event %d: the sealed query is damaged: %w", e.Seq, err)
	}
	b, err := v.open(tx, model.Sealed{KeyID: queryKeyID, Data: data}, reasonAAD(e))
	if err != nil {
		return nil, true, fmt.Errorf("audit event %d: %w", e.Seq, err)
	}
	return b, true, nil
}

// TOTP secrets of people who sign in to the console are sealed under one
// data key of their own, each bound to its user by the additional data, so
// that a sealed secret copied to another user does not open.
const totpKeyID = "users/totp"

func totpAAD(userID string) []byte { return []byte("users/" + userID + "/totp") }

// SealTOTP seals a user's TOTP secret for storage.
func (v *Vault) SealTOTP(tx datastore.KeyTx, userID, secret string) (model.Sealed, error) {
	s, err := v.seal(tx, totpKeyID, []byte(secret), totpAAD(userID))
	if err != nil {
		return model.Sealed{}, fmt.Errorf("seal the TOTP secret of %s: %w", userID, err)
	}
	return s, nil
}

// OpenTOTP returns a user's TOTP secret as SealTOTP sealed it.
func (v *Vault) OpenTOTP(tx datastore.KeyReader, userID string, s model.Sealed) (string, error) {
	b, err := v.open(tx, s, totpAAD(userID))
	if err != nil {
		return "", fmt.Errorf("the TOTP secret of %s: %w", userID, err)
	}
	return string(b), nil
}
