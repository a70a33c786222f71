package intake

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/search"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/memstore"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

// A report's write body may run more than once (datastore.Store), and on
// etcd ahead of its commit, each run taking a case id. The first run of
// a write here is undone; before it runs again, another instance commits
// a case about another child under the id that run took, and a third
// write of this instance, whose early search came before that case, looks
// at it in its own write (search.LateCandidates). The search was told of
// the undone run's id from inside the body, and so scored the other
// instance's case by this report's tokens, and left it out; it is now
// told once the write has committed.
func TestAnUndoneRunsCaseIDIsNotTakenForTheReports(t *testing.T) {
	ctx := context.Background()
	reg, err := units.Load()
	if err != nil {
		t.Fatal(err)
	}
	master, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	v := vault.New(keys.NewKeyring(master))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := time.Date(2026, 3, 12, 10, 0, 0, 0, time.UTC)
	store := memstore.New()
	instance := func(s datastore.Store) (*Service, *search.Service) {
		srch := search.New(search.Deps{Store: store, Units: reg, Vault: v, Clock: clock.NewFake(now), Log: log})
		return New(Deps{Store: s, Units: reg, Vault: v, Clock: clock.NewFake(now), Log: log, Search: srch}), srch
	}
	operator := access.Principal{UserID: "op", Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}
	city := access.Principal{UserID: "city", Role: model.RoleCityOfficer, Unit: "units/01@2020-01-01"}
	call := func(name string) CreateReportInput {
		return CreateReportInput{IncidentCommuneCode: "00004", Report: model.Report{
			ReceiveTime: now.Add(-time.Hour), CallType: model.CallIntervention,
			Children: []model.Child{{FullName: name, BirthDate: vntime.Date{Year: 2016, Month: 1, Day: 2}, Sex: model.SexFemale}},
			Reporter: model.Reporter{Anonymous: true},
		}}
	}
	other, _ := instance(store) // another instance on the same store

	// The third write's early search, before any case.
	third := call("Trần Minh Khôi").Report
	if third.IncidentUnit, err = units.ParseKey("00004@2025-07-01"); err != nil {
		t.Fatal(err)
	}
	var since search.Since
	var srch *search.Service
	var otherCase string
	var late []search.Candidate
	done := false
	between := func() {
		if done {
			return
		}
		done = true
		r, err := other.CreateReport(ctx, operator, call("Trần Minh Khôi"))
		if err != nil {
			t.Errorf("the other instance's report: %v", err)
			return
		}
		otherCase = r.CaseNumber
		if err := store.View(ctx, func(tx datastore.ReadTx) (err error) {
			late, err = srch.LateCandidates(tx, city, since, 0, "", nil)
			return err
		}); err != nil {
			t.Errorf("late candidates: %v", err)
		}
	}
	var mine *Service
	mine, srch = instance(storagetest.Rerunning(store, between))
	if err := store.View(ctx, func(tx datastore.ReadTx) (err error) {
		since, err = srch.SinceOf(tx, city, third)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := mine.CreateReport(ctx, operator, call("Phạm Thu Trang")); err != nil {
		t.Fatal(err)
	}
	if !done || otherCase == "" {
		t.Fatalf("the other instance's case was not stored between the runs (%q)", otherCase)
	}
	var got []string
	for _, c := range late {
		got = append(got, c.Case.Number)
	}
	if len(got) != 1 || got[0] != otherCase {
		t.Errorf("a write of the same moment about the child of %s is told of %v, want [%s]: the id an undone run took was scored by that run's report", otherCase, got, otherCase)
	}
}
