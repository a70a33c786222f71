package vault_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/keys"
)

// storedType is a record type storage keeps, with the step the domain
// takes before storage writes it (sealing, or nothing) and the encoding
// storage writes. To retarget the test at other stored records (storage's
// own protobuf records), change toStored and encode; the walk stays.
type storedType struct {
	sample    any // a pointer to a zero value of the type the domain holds
	toStored  func(t *testing.T, tx datastore.Tx, v *vault.Vault, rec any) any
	encode    func(stored any) ([]byte, error)
	sealedAll bool // the whole record is sealed (the dossier)
}

func asStored(_ *testing.T, _ datastore.Tx, _ *vault.Vault, rec any) any { return rec }

// storedTypes lists every record type storage keeps, and the types kept
// inside idempotency records (IdempotencyRecord.Result holds the first
// answer: a case as SealCase stores it, a created user and its token
// without hash, or a key rotation's new master id and count).
var storedTypes = []storedType{
	{sample: &model.Report{}, toStored: func(t *testing.T, tx datastore.Tx, v *vault.Vault, rec any) any {
		s, err := v.SealReport(tx, *rec.(*model.Report))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{sample: &model.Case{}, toStored: func(t *testing.T, tx datastore.Tx, v *vault.Vault, rec any) any {
		s, err := v.SealCase(tx, *rec.(*model.Case))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{sample: &model.Dossier{}, sealedAll: true, toStored: func(t *testing.T, tx datastore.Tx, v *vault.Vault, rec any) any {
		s, err := v.SealDossier(tx, "HN-2026-00001", *rec.(*model.Dossier))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{sample: &audit.Event{}, toStored: func(t *testing.T, tx datastore.Tx, v *vault.Vault, rec any) any {
		e := *rec.(*audit.Event)
		if err := v.SealReason(tx, &e); err != nil {
			t.Fatal(err)
		}
		return e
	}, encode: func(stored any) ([]byte, error) { return audit.Encode(stored.(audit.Event)) }},
	{sample: &model.CaseEvent{}, toStored: asStored},
	{sample: &model.Notification{}, toStored: asStored},
	{sample: &model.Timer{}, toStored: asStored},
	{sample: &model.User{}, toStored: asStored},
	{sample: &model.Token{}, toStored: asStored},
	{sample: &model.PoliceUnit{}, toStored: asStored},
	{sample: &model.IdempotencyRecord{}, toStored: asStored},
	{sample: &keys.WrappedKey{}, toStored: asStored},
	// The search index: its tokens are keyed hashes (bytes), never text.
	{sample: &datastore.SearchEntry{}, toStored: asStored},
}

// clearStrings is the reviewed allow-list: the string fields storage keeps
// in the clear. Each carries a code, an id or the name of a unit or of a
// member of staff, never what was said about a child, a family, a suspect
// or a reporter. Adding a field here needs the same review.
var clearStrings = map[string]string{
	"Report.ID":                "a random UUID",
	"Report.IncidentUnit.Code": "an administrative unit's code",
	"Report.CaseNumber":        "a case number HN-YYYY-NNNNN",
	"Report.TakenBy":           "a user id",
	"Report.TakerUnit":         "a unit's resource name",

	"Case.Number":                                   "a case number",
	"Case.MergedInto":                               "a case number",
	"Case.MergedFrom[]":                             "case numbers",
	"Case.ResponsibleUnit.Code":                     "an administrative unit's code",
	"Case.IncidentUnit.Code":                        "an administrative unit's code",
	"Case.ReportIDs[]":                              "report UUIDs",
	"Case.FirstReportID":                            "a report UUID",
	"Case.Handlers[].Code":                          "administrative unit codes",
	"Case.IntakeUsers[]":                            "user ids",
	"Case.IntakeUnits[]":                            "unit resource names",
	"Case.ResponsibleOfficer":                       "a user id",
	"Case.PoliceReferrals[].PoliceUnit":             "a police unit's resource name",
	"Case.PoliceAlerted[]":                          "police units' resource names",
	"Case.PoliceViews[].PoliceUnit":                 "police units' resource names",
	"Case.LateRecordings[].Unit":                    "a unit resource name",
	"Case.PoliceReferrals[].ReferredBy":             "a user id",
	"Case.PoliceReferrals[].State":                  "a state code",
	"Case.PoliceReferrals[].Outcome":                "PROSECUTED, NOT_PROSECUTED or SUSPENDED, checked on input",
	"Case.PoliceReferrals[].Decisions[].Kind":       "EXTENSION, SUSPENSION or RESUMPTION, set by the step",
	"Case.PoliceReferrals[].Decisions[].UntilDate":  "a date, checked on input",
	"Case.PoliceReferrals[].Decisions[].RecordedBy": "a user id",
	"Case.PlanState":                                "a state code",
	"Case.Services[].StartDate":                     "a date",
	"Case.Services[].ExpectedEndDate":               "a date",
	"Case.Services[].State":                         "a state code",
	"Case.Deadlines[].Kind":                         "a deadline code",
	"Case.Deadlines[].Ref":                          "a transfer, service or police unit reference made by the domain",
	"Case.Deadlines[].Clock":                        "a clock code",
	"Case.Deadlines[].Unit":                         "a unit's resource name",
	"Case.Deadlines[].CalendarVersion":              "the working-day calendar's version",
	"Case.Deadlines[].State":                        "a state code",
	"Case.Deadlines[].Escalations[].To":             "a unit's resource name",
	"Case.Transfers[].From":                         "a unit's resource name",
	"Case.Transfers[].To":                           "a unit's resource name",
	"Case.Transfers[].ProposedBy":                   "a user id",
	"Case.Transfers[].State":                        "a state code",
	"Case.Transfers[].DecidedBy":                    "a user id",

	"Event.Actor":          "a user id",
	"Event.Role":           "a role code",
	"Event.Unit":           "a unit's resource name",
	"Event.Action":         "an action code",
	"Event.Resource":       "a resource name",
	"Event.Case":           "a case's resource name",
	"Event.RequestID":      "a request id of the documented form, or one the server made",
	"Event.Outcome":        "an outcome code",
	"Event.Token":          "the public part of a token",
	"Event.TokenCreatedBy": "a user id",

	"CaseEvent.Actor":  "a user id",
	"CaseEvent.Kind":   "an event code",
	"CaseEvent.Detail": "made by the domain from codes, unit names and times, never from a caller's text",

	"Notification.Kind":    "an event code",
	"Notification.Case":    "a case's resource name",
	"Notification.Units[]": "unit resource names",
	"Notification.Detail":  "made by the domain from codes, unit names and times, never from a caller's text",

	"User.ID":                  "a user id chosen by an admin",
	"User.DisplayName":         "a member of staff's name: the staff directory, not case data",
	"User.Unit":                "a unit's resource name",
	"User.Phone":               "a member of staff's work phone, shown to the police as the officer's",
	"User.SignIn.PasswordHash": "an argon2id hash of a console password (salted, slow): what must be kept to check one, never the password",
	"Token.ID":                 "the public part of a token",
	"Token.UserID":             "a user id",
	"Token.CreatedBy":          "a user id",

	"PoliceUnit.ID":              "a police unit id chosen by an admin",
	"PoliceUnit.DisplayName":     "a police unit's name",
	"PoliceUnit.Covers[].Code":   "administrative unit codes",
	"IdempotencyRecord.Key":      "a user id, a method and the caller's request_id",
	"IdempotencyRecord.Resource": "the resource name or id the request produced",
	"WrappedKey.MasterID":        "a master key's id",
	"SearchEntry.KeyID":          "the id of the key its tokens are made under",
}

// TestEveryStoredStringIsSealedOrReviewed fills every string of every
// stored record type (nested structs, slices, maps and pointers included)
// with a marker of its own, takes each record the way the domain stores
// it, and looks for the markers in what storage would write. A marker in
// the clear must belong to a field of the reviewed allow-list; an entry of
// the allow-list whose marker did not appear is stale and fails too.
func TestEveryStoredStringIsSealedOrReviewed(t *testing.T) {
	s := newStore(t)
	v := vault.New(keys.NewKeyring(master(t)))
	seen := map[string]bool{}
	for _, st := range storedTypes {
		typeName := reflect.TypeOf(st.sample).Elem().Name()
		t.Run(typeName, func(t *testing.T) {
			markers := map[string]string{} // marker -> field path
			fill(reflect.ValueOf(st.sample).Elem(), typeName, markers)
			if len(markers) == 0 && typeName != "Timer" {
				t.Fatalf("no string field found in %s", typeName)
			}
			var raw []byte
			err := s.Update(ctx, func(tx datastore.Tx) error {
				stored := st.toStored(t, tx, v, st.sample)
				var err error
				if st.encode != nil {
					raw, err = st.encode(stored)
				} else {
					raw, err = json.Marshal(stored) // as boltstore's encode
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for marker, path := range markers {
				seen[path] = true
				clear := strings.Contains(string(raw), marker)
				_, allowed := clearStrings[path]
				switch {
				case clear && !allowed:
					t.Errorf("%s is stored in the clear: seal it, or review it onto the allow-list", path)
				case !clear && allowed:
					t.Errorf("%s is on the allow-list but not stored in the clear: remove the entry", path)
				case st.sealedAll && allowed:
					t.Errorf("%s is on the allow-list of a record that is sealed whole", path)
				}
			}
		})
	}
	for path := range clearStrings {
		if !seen[path] {
			t.Errorf("the allow-list names %s, which no stored record has", path)
		}
	}
}

// fill sets every settable string reachable from v to a distinct marker
// and records it under the field's path. Sealed data is left alone: it is
// the output of sealing, not an input. Unexported fields (time.Time's
// internals) are not stored by JSON and are skipped. A struct met again
// inside itself (a dossier keeps the dossiers of the cases merged into it)
// is filled once, on its outer level: its strings are the same fields.
func fill(v reflect.Value, path string, markers map[string]string) {
	fillIn(v, path, markers, map[reflect.Type]bool{})
}

func fillIn(v reflect.Value, path string, markers map[string]string, within map[reflect.Type]bool) {
	if v.Type() == reflect.TypeOf(model.Sealed{}) {
		return
	}
	fill := func(v reflect.Value, path string, markers map[string]string) { fillIn(v, path, markers, within) }
	switch v.Kind() {
	case reflect.String:
		m := fmt.Sprintf("qmark%04dq", len(markers))
		markers[m] = path
		v.SetString(m)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(v.Elem(), path, markers)
	case reflect.Struct:
		if within[v.Type()] {
			return
		}
		within[v.Type()] = true
		defer delete(within, v.Type())
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Tag.Get("json") == "-" {
				continue
			}
			fill(v.Field(i), path+"."+f.Name, markers)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // hashes, ciphertext and encoded answers: see storedTypes
		}
		if v.Len() == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		}
		for i := range v.Len() {
			fill(v.Index(i), path+"[]", markers)
		}
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		k := reflect.New(v.Type().Key()).Elem()
		fill(k, path+"{key}", markers)
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, path+"{}", markers)
		v.SetMapIndex(k, e)
	}
}

// storedAs names the stored types that reach storage through another
// entry of storedTypes: the domain seals a Report into a StoredReport.
var storedAs = map[reflect.Type]reflect.Type{
	reflect.TypeFor[model.StoredReport](): reflect.TypeFor[model.Report](),
}

// Every record type a write of the storage contract takes (the arguments
// of datastore.Tx's Create, Update, Put and Append methods) is walked by
// TestEveryStoredStringIsSealedOrReviewed: a record type added to the
// contract without an entry in storedTypes fails here, so the rule stays
// mechanical.
func TestStoredTypesCoverEveryWrite(t *testing.T) {
	walked := map[reflect.Type]bool{}
	for _, st := range storedTypes {
		walked[reflect.TypeOf(st.sample).Elem()] = true
	}
	tx := reflect.TypeFor[datastore.Tx]()
	writes := 0
	for i := range tx.NumMethod() {
		m := tx.Method(i)
		if !slices.ContainsFunc([]string{"Create", "Update", "Put", "Append"}, func(p string) bool { return strings.HasPrefix(m.Name, p) }) {
			continue
		}
		writes++
		for j := range m.Type.NumIn() {
			in := m.Type.In(j)
			for in.Kind() == reflect.Pointer || in.Kind() == reflect.Slice {
				in = in.Elem()
			}
			if in.Kind() != reflect.Struct {
				continue
			}
			if as, ok := storedAs[in]; ok {
				in = as
			}
			if !walked[in] {
				t.Errorf("datastore.Tx.%s stores %s, which storedTypes does not walk: add it", m.Name, in)
			}
		}
	}
	if writes < 10 {
		t.Fatalf("only %d write methods found on datastore.Tx; the walk of the contract is broken", writes)
	}
}

// The walk itself finds nested, slice, map and pointer fields: a check of
// the helper, so a later change to it cannot make the test vacuous.
func TestFillReachesEveryString(t *testing.T) {
	type inner struct{ S string }
	type rec struct {
		A string
		B *inner
		C []inner
		D map[string]inner
		E model.Sealed
		f string
		G string `json:"-"`
	}
	var r rec
	markers := map[string]string{}
	fill(reflect.ValueOf(&r).Elem(), "rec", markers)
	var paths []string
	for _, p := range markers {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	want := []string{"rec.A", "rec.B.S", "rec.C[].S", "rec.D{key}", "rec.D{}.S"}
	if !slices.Equal(paths, want) {
		t.Errorf("fill reached %v, want %v", paths, want)
	}
	if r.f != "" || r.G != "" || r.E.KeyID != "" {
		t.Errorf("fill set a field that is not stored: %+v", r)
	}
}

// A case's free text survives SealCase and OpenCase exactly, leaves the
// caller's case untouched, cannot be opened as another case's, and a case
// changed without being opened is refused rather than stored without its
// text.
func TestCaseTexts(t *testing.T) {
	s := newStore(t)
	v := vault.New(keys.NewKeyring(master(t)))
	c := model.Case{
		Number: "HN-2026-00007",
		PoliceReferrals: []model.PoliceReferral{
			{PoliceUnit: "policeUnits/a", SuspectedOffence: "Điều 146", ReferenceNumber: "CA/117", Investigators: "CQĐT",
				Decisions: []model.PoliceDecision{{Kind: model.PoliceExtension, Number: "12/QĐ-CSĐT", Reason: "xác minh nhiều nơi", UntilDate: "2027-02-04"}}},
			{PoliceUnit: "policeUnits/b"},
		},
		Deadlines: []model.Deadline{{ID: 1}, {ID: 4, PauseReason: "chờ giám định"}},
		Transfers: []model.Transfer{{ID: 2, Reason: "chuyển nhà", DeclineNote: "không thuộc phường"}, {ID: 3}},
		// Health and abuse: the child's private information, sealed too.
		SpecialCircumstances: []model.SpecialCircumstance{model.CircumstanceHIVAIDS, model.CircumstanceSexuallyAbused},
	}
	want := c
	want.PoliceReferrals = slices.Clone(c.PoliceReferrals)
	want.PoliceReferrals[0].Decisions = slices.Clone(c.PoliceReferrals[0].Decisions)
	var stored model.Case
	err := s.Update(ctx, func(tx datastore.Tx) error {
		var err error
		stored, err = v.SealCase(tx, c)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("SealCase changed its argument: %+v", c)
	}
	if vault.HasClearText(stored) || stored.Texts.KeyID != "cases/HN-2026-00007" {
		t.Errorf("stored form: clear text %v, sealed under %q", vault.HasClearText(stored), stored.Texts.KeyID)
	}
	if len(stored.SpecialCircumstances) > 0 {
		t.Errorf("stored form: special circumstances %v in the clear", stored.SpecialCircumstances)
	}
	err = s.Update(ctx, func(tx datastore.Tx) error {
		opened, err := v.OpenCase(tx, stored)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(opened, want) {
			t.Errorf("OpenCase = %+v, want %+v", opened, want)
		}
		other := stored
		other.Number = "HN-2026-00008"
		if _, err := v.OpenCase(tx, other); err == nil {
			t.Error("the free text of one case opened as another's")
		}
		if _, err := v.SealCase(tx, stored); err == nil {
			t.Error("SealCase took a case whose text was not opened")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// SealClearText runs at every start. With nothing to seal it only reads:
// a write there would fail on a full disk and keep the service from
// starting, where reads should go on.
func TestSealClearTextWithNothingToSealWritesNothing(t *testing.T) {
	s, path := openFileStore(t)
	v := vault.New(keys.NewKeyring(master(t)))
	err := s.Update(ctx, func(tx datastore.Tx) error {
		for _, number := range []string{"HN-2026-00001", "HN-2026-00002"} {
			c := model.Case{Number: number, ResponsibleUnit: commune, IncidentUnit: commune, Revision: 1,
				Transfers: []model.Transfer{{ID: 1, Reason: "chuyển nhà"}}}
			stored, err := v.SealCase(tx, c)
			if err != nil {
				return err
			}
			if err := tx.CreateCase(&stored); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := v.SealClearText(ctx, s); err != nil || n != 0 {
		t.Fatalf("SealClearText = %d, %v; want 0, nil", n, err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("SealClearText wrote to a database with nothing to seal")
	}
}
