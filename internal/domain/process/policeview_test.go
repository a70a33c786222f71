package process_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// A police liaison who takes a step of the police track gets the police
// view of the case back from the engine itself, not only from the API: no
// reports, handlers, dossier or hand-overs, only their own unit's referral
// and deadlines. The same holds for the answer to a retry. The commune
// worker who referred the case gets it whole.
func TestPoliceStepAnswersThePoliceView(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	w.clk.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) // Monday 16:00 in Hanoi
	number := w.openCaseAt(t, w.clk.Now().Add(-time.Hour), false, model.AbuseSexual).Number
	name := "cases/" + number
	worker := principal("worker.badinh")
	refer := func(c model.Case, unit string) model.Case {
		t.Helper()
		c, err := w.eng.ReferToPolice(w.ctx, worker, process.Request{Case: name, Etag: c.Etag()}, unit, "xâm hại tình dục")
		if err != nil {
			t.Fatalf("refer to %s: %v", unit, err)
		}
		return c
	}
	c := refer(model.Case{Revision: 1}, policeLocal)
	c = refer(c, policeCity)
	if len(c.ReportIDs) == 0 || len(c.Handlers) == 0 || len(c.PoliceReferrals) != 2 {
		t.Fatalf("the referring worker got %+v, want the whole case", c)
	}

	police := principal("police.badinh")
	w.clk.Set(w.clk.Now().Add(30 * time.Minute))
	req := process.Request{Case: name, Etag: c.Etag(), RequestID: "ack-1", Fingerprint: []byte("ack CA-123")}
	got, err := w.eng.AcknowledgePoliceReferral(w.ctx, police, req, "CA-123")
	if err != nil {
		t.Fatal(err)
	}
	var opened model.Case
	err = w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		stored, err := tx.CaseByNumber(number)
		if err != nil {
			return err
		}
		opened, err = w.vault.OpenCase(tx, stored)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := access.PoliceView(opened, policeLocal)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the police liaison got\n%+v\nwant the police view\n%+v", got, want)
	}
	if len(got.ReportIDs) != 0 || len(got.Handlers) != 0 || len(got.PoliceReferrals) != 1 {
		t.Errorf("the police liaison got reports %v, handlers %v, referrals %+v", got.ReportIDs, got.Handlers, got.PoliceReferrals)
	}
	again, err := w.eng.AcknowledgePoliceReferral(w.ctx, police, req, "CA-123")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, want) {
		t.Errorf("the retry answered\n%+v\nwant the police view\n%+v", again, want)
	}
}
