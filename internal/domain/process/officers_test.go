package process_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// officerIDs are the ids of users.
func officerIDs(us []model.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

// createUsers stores users as the identity service would.
func (w *world) createUsers(t *testing.T, users ...model.User) {
	t.Helper()
	if err := w.store.Update(w.ctx, func(tx datastore.Tx) error {
		for _, u := range users {
			u.CreateTime = start
			if err := tx.CreateUser(u); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// allOfficers reads every page of ListAssignableOfficers, limit at a time.
func (w *world) allOfficers(t *testing.T, p access.Principal, name string, limit int) (ids []string, pages int) {
	t.Helper()
	for after := ""; ; {
		got, next, err := w.eng.ListAssignableOfficers(w.ctx, p, name, process.OfficersPage{After: after, Limit: limit})
		if err != nil {
			t.Fatalf("%s lists the officers of %s: %v", p.UserID, name, err)
		}
		if len(got) > limit {
			t.Fatalf("a page of %d holds %d officers", limit, len(got))
		}
		ids, pages = append(ids, officerIDs(got)...), pages+1
		if next == "" {
			return ids, pages
		}
		after = next
	}
}

// TestListAssignableOfficersAreThoseTheStepAccepts: the people offered as a
// case's officer are those AssignOfficer accepts for its responsible unit
// (its active workers), page by page; only someone who may name the
// officer asks (PermissionDenied for anyone else), of a case in their
// scope (NotFound otherwise) of their own unit; every answer is audited on
// the case.
func TestListAssignableOfficersAreThoseTheStepAccepts(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	c := w.openCaseAt(t, start, false, model.AbuseNeglect)
	name := "cases/" + c.Number
	w.createUsers(t,
		model.User{ID: "bd.worker", DisplayName: "Lan", Role: model.RoleCommuneWorker, Unit: unitBaDinh},
		model.User{ID: "bd.worker2", DisplayName: "Minh", Role: model.RoleCommuneWorker, Unit: unitBaDinh},
		model.User{ID: "bd.gone", Role: model.RoleCommuneWorker, Unit: unitBaDinh, DisableTime: start},
		model.User{ID: "bd.chair", Role: model.RoleCommuneChair, Unit: unitBaDinh},
		model.User{ID: "other.worker", Role: model.RoleCommuneWorker, Unit: unitOther},
		model.User{ID: "police", Role: model.RolePoliceLiaison, Unit: policeLocal},
	)
	want := []string{"bd.worker", "bd.worker2"}
	for _, limit := range []int{1, 2, 100} {
		if got, _ := w.allOfficers(t, principal("chair.badinh"), name, limit); !slices.Equal(got, want) {
			t.Errorf("pages of %d: %v, want %v", limit, got, want)
		}
	}
	// The city, which sees the case but does not hold it, is refused as
	// AssignOfficer refuses it.
	var pre *model.PreconditionError
	if _, _, err := w.eng.ListAssignableOfficers(w.ctx, principal("city"), name, process.OfficersPage{Limit: 100}); !errors.As(err, &pre) || pre.Reason != "NOT_RESPONSIBLE_UNIT" {
		t.Errorf("the city asks: %v, want NOT_RESPONSIBLE_UNIT", err)
	}

	for _, tc := range []struct {
		who  string
		want error
	}{
		{"chair.other", model.ErrNotFound},           // another commune's chair: out of scope
		{"worker.badinh", model.ErrPermissionDenied}, // names no officer
		{"police.badinh", model.ErrPermissionDenied},
	} {
		got, next, err := w.eng.ListAssignableOfficers(w.ctx, principal(tc.who), name, process.OfficersPage{Limit: 100})
		if !errors.Is(err, tc.want) || got != nil || next != "" {
			t.Errorf("%s lists the officers: %v, %q, %v; want %v and no one", tc.who, officerIDs(got), next, err, tc.want)
		}
	}
	if _, _, err := w.eng.ListAssignableOfficers(w.ctx, principal("chair.badinh"), "cases/nope", process.OfficersPage{Limit: 100}); !errors.As(err, new(*model.FieldError)) {
		t.Errorf("a bad case name: %v, want a field error", err)
	}

	// Audited on the case: the chair's four pages (two, one and one: a
	// page is short only when it is the last, so no cursor leads to an
	// empty one), the city's refusal and the other commune chair's, as
	// absent.
	var events []audit.Event
	if err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		var err error
		events, _, err = tx.ListAuditEvents(datastore.AuditQuery{Case: access.CaseResource(c.Number), Limit: 100})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, e := range events {
		if e.Action == "case.officers.list" {
			listed = append(listed, strings.TrimSpace(e.Actor+" "+e.Outcome+" "+e.Reason))
		}
	}
	slices.Sort(listed)
	if wantEvents := []string{"chair.badinh ok", "chair.badinh ok", "chair.badinh ok", "chair.badinh ok", "chair.other not_found", "city refused NOT_RESPONSIBLE_UNIT"}; !slices.Equal(listed, wantEvents) {
		t.Errorf("the case's trail of officer lists: %v, want %v", listed, wantEvents)
	}
}

// TestListAssignableOfficersPagesAreFullAmongThousandsOfUsers: the
// officers of a commune are read from the index of active users by unit
// and role, so a commune's few workers among thousands of the service's
// other users (of other communes, of other roles in the same commune,
// disabled) fill their pages: full pages of the limit, in order of user
// id, each worker once, and no cursor after the last. (Scanning every
// user, as the list did, gave an empty first page and a cursor.)
func TestListAssignableOfficersPagesAreFullAmongThousandsOfUsers(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	c := w.openCaseAt(t, start, false, model.AbuseNeglect)
	name := "cases/" + c.Number
	var others []model.User
	for i := range 2500 {
		others = append(others, model.User{ID: fmt.Sprintf("a.other%04d", i), Role: model.RoleCommuneWorker, Unit: unitOther})
	}
	for i := range 20 {
		others = append(others,
			model.User{ID: fmt.Sprintf("b.chair%02d", i), Role: model.RoleCommuneChair, Unit: unitBaDinh},
			model.User{ID: fmt.Sprintf("b.gone%02d", i), Role: model.RoleCommuneWorker, Unit: unitBaDinh, DisableTime: start})
	}
	w.createUsers(t, others...)
	workers := []string{"c.worker1", "m.worker2", "z.worker3"}
	for _, id := range workers {
		w.createUsers(t, model.User{ID: id, Role: model.RoleCommuneWorker, Unit: unitBaDinh})
	}

	chair := principal("chair.badinh")
	got, next, err := w.eng.ListAssignableOfficers(w.ctx, chair, name, process.OfficersPage{Limit: 100})
	if err != nil || !slices.Equal(officerIDs(got), workers) || next != "" {
		t.Fatalf("one page of 100: %v, %q, %v; want %v and no next page", officerIDs(got), next, err, workers)
	}
	got, next, err = w.eng.ListAssignableOfficers(w.ctx, chair, name, process.OfficersPage{Limit: 2})
	if err != nil || !slices.Equal(officerIDs(got), workers[:2]) || next == "" {
		t.Fatalf("the first page of 2: %v, %q, %v; want %v and a next page", officerIDs(got), next, err, workers[:2])
	}
	got, next, err = w.eng.ListAssignableOfficers(w.ctx, chair, name, process.OfficersPage{After: next, Limit: 2})
	if err != nil || !slices.Equal(officerIDs(got), workers[2:]) || next != "" {
		t.Fatalf("the second page of 2: %v, %q, %v; want %v and no next page", officerIDs(got), next, err, workers[2:])
	}
	for _, limit := range []int{1, 3} {
		ids, pages := w.allOfficers(t, chair, name, limit)
		if wantPages := (len(workers) + limit - 1) / limit; !slices.Equal(ids, workers) || pages != wantPages {
			t.Errorf("pages of %d: %v in %d pages, want %v in %d", limit, ids, pages, workers, wantPages)
		}
	}
}

// TestListAssignableOfficersFollowsEveryChangeOfAUser: a worker created,
// disabled, enabled again, given another role or moved to another unit
// is offered, or no longer, by the next call.
func TestListAssignableOfficersFollowsEveryChangeOfAUser(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	c := w.openCaseAt(t, start, false, model.AbuseNeglect)
	name := "cases/" + c.Number
	chair := principal("chair.badinh")
	offered := func() []string {
		t.Helper()
		ids, _ := w.allOfficers(t, chair, name, 100)
		return ids
	}
	update := func(id string, change func(*model.User)) {
		t.Helper()
		if err := w.store.Update(w.ctx, func(tx datastore.Tx) error {
			u, err := tx.User(id)
			if err != nil {
				return err
			}
			change(&u)
			return tx.UpdateUser(u)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got := offered(); got != nil {
		t.Fatalf("before any worker: %v", got)
	}
	w.createUsers(t, model.User{ID: "bd.worker", Role: model.RoleCommuneWorker, Unit: unitBaDinh})
	steps := []struct {
		what   string
		change func(*model.User)
		want   []string
	}{
		{"disabled", func(u *model.User) { u.DisableTime = start }, nil},
		{"enabled again", func(u *model.User) { u.DisableTime = time.Time{} }, []string{"bd.worker"}},
		{"made a chair", func(u *model.User) { u.Role = model.RoleCommuneChair }, nil},
		{"a worker again", func(u *model.User) { u.Role = model.RoleCommuneWorker }, []string{"bd.worker"}},
		{"moved to another commune", func(u *model.User) { u.Unit = unitOther }, nil},
		{"moved back", func(u *model.User) { u.Unit = unitBaDinh }, []string{"bd.worker"}},
		{"renamed", func(u *model.User) { u.DisplayName = "Lan" }, []string{"bd.worker"}},
	}
	if got := offered(); !slices.Equal(got, []string{"bd.worker"}) {
		t.Fatalf("once created: %v, want bd.worker", got)
	}
	for _, st := range steps {
		update("bd.worker", st.change)
		if got := offered(); !slices.Equal(got, st.want) {
			t.Errorf("the worker %s: %v, want %v", st.what, got, st.want)
		}
	}
}

// TestListAssignableOfficersOfAClosedCaseIsRefusedAsTheStep: AssignCase
// accepts no one on a closed case, so the list is refused as the step
// is (CASE_CLOSED), not answered with people the step would refuse.
func TestListAssignableOfficersOfAClosedCaseIsRefusedAsTheStep(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	worker, chair := principal("worker.badinh"), principal("chair.badinh")
	step := stepOK(t)
	c := w.openCaseAt(t, start, false, model.AbuseNeglect)
	name := "cases/" + c.Number
	req := func() process.Request { return process.Request{Case: name, Etag: c.Etag()} }
	w.createUsers(t, model.User{ID: "bd.worker", Role: model.RoleCommuneWorker, Unit: unitBaDinh})
	c = step(w.eng.Acknowledge(w.ctx, worker, req()))
	if got, _ := w.allOfficers(t, chair, name, 100); !slices.Equal(got, []string{"bd.worker"}) {
		t.Fatalf("the open case's officers: %v", got)
	}
	c = step(w.eng.ApproveClosure(w.ctx, chair, req(), process.Closure{Ground: model.ClosureMovedAway, Reason: "gia đình chuyển đi"}))
	_, err := w.eng.AssignOfficer(w.ctx, chair, req(), "users/bd.worker")
	var stepErr, listErr *model.PreconditionError
	if !errors.As(err, &stepErr) || stepErr.Reason != "CASE_CLOSED" {
		t.Fatalf("assign on the closed case: %v, want CASE_CLOSED", err)
	}
	got, next, err := w.eng.ListAssignableOfficers(w.ctx, chair, name, process.OfficersPage{Limit: 100})
	if !errors.As(err, &listErr) || listErr.Reason != stepErr.Reason || got != nil || next != "" {
		t.Errorf("the closed case's officers: %v, %q, %v; want %s as the step and no one", officerIDs(got), next, err, stepErr.Reason)
	}
}

// TestListAssignableOfficersOfACaseTheCityHolds: the officers of a case
// the city holds are its active city officers and the social work
// centre's active supervisors (access.Policy.ActsFor), two groups of the
// index merged in order of user id across pages, and no one else: not
// the hotline's supervisors, the centre's operators, or a disabled
// officer.
func TestListAssignableOfficersOfACaseTheCityHolds(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	step := stepOK(t)
	c := w.openCaseAt(t, start, false, model.AbuseNeglect)
	name := "cases/" + c.Number
	req := func() process.Request { return process.Request{Case: name, Etag: c.Etag()} }
	c = step(w.eng.ProposeTransfer(w.ctx, principal("worker.badinh"), req(), unitCity, "cần dịch vụ của thành phố"))
	c = step(w.eng.AcceptTransfer(w.ctx, principal("city"), req()))
	w.createUsers(t,
		model.User{ID: "a.centre", Role: model.RoleHotlineSupervisor, Unit: model.OrgSocialWorkCentre},
		model.User{ID: "b.city", Role: model.RoleCityOfficer, Unit: unitCity},
		model.User{ID: "c.centre", Role: model.RoleHotlineSupervisor, Unit: model.OrgSocialWorkCentre},
		model.User{ID: "d.city", Role: model.RoleCityOfficer, Unit: unitCity},
		model.User{ID: "e.hotline", Role: model.RoleHotlineSupervisor, Unit: model.OrgHotline111},
		model.User{ID: "f.operator", Role: model.RoleHotlineOperator, Unit: model.OrgSocialWorkCentre},
		model.User{ID: "g.gone", Role: model.RoleCityOfficer, Unit: unitCity, DisableTime: start},
		model.User{ID: "h.worker", Role: model.RoleCommuneWorker, Unit: unitBaDinh},
	)
	want := []string{"a.centre", "b.city", "c.centre", "d.city"}
	for _, limit := range []int{1, 2, 3, 100} {
		ids, pages := w.allOfficers(t, principal("city"), name, limit)
		if wantPages := (len(want) + limit - 1) / limit; !slices.Equal(ids, want) || pages != wantPages {
			t.Errorf("pages of %d: %v in %d pages, want %v in %d", limit, ids, pages, want, wantPages)
		}
	}
	// Each one offered is one the step accepts.
	for _, id := range want {
		c = step(w.eng.AssignOfficer(w.ctx, principal("city"), req(), "users/"+id))
	}
}
