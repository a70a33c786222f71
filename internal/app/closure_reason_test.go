package app_test

import (
	"slices"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// Issue 4: "closure records the reason. A closed case can be reopened with
// a reason." The chair of Phường Ba Đình closes a case on Tue 12 May 2026
// because the family moved away, and reopens it on Mon 18 May when the
// family is back. Each reason is required (blank is refused, naming the
// field), and each is kept on the case, readable in the full view, beside
// the CLOSED and REOPENED events of the timeline.
func TestClosureAndReopeningKeepTheirReasons(t *testing.T) {
	ts := startServerAt(t, hn(2026, 5, 12, 9, 0), "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	p := ts.process()
	chair := ts.as(t, "bd.chair")
	name := openCase(t, ts, hn(2026, 5, 12, 8, 30), "00004")

	closeReq := &pb.ApproveClosureRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name),
		Ground: pb.ClosureGround_CLOSURE_GROUND_MOVED_AWAY, Reason: "   "}
	_, err := p.ApproveClosure(chair, closeReq)
	wantField(t, err, "reason")
	closeReq.Reason = "gia đình đã chuyển vào TP Hồ Chí Minh"
	c, err := p.ApproveClosure(chair, closeReq)
	if err != nil {
		t.Fatalf("close: %v", err)
	}
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_CLOSED {
		t.Fatalf("status after closure: %v", c.GetStatus())
	}

	ts.setClock(t, hn(2026, 5, 18, 10, 0))
	reopenReq := &pb.ReopenCaseRequest{Name: name, Etag: c.GetEtag(), Reason: "\t"}
	_, err = p.ReopenCase(chair, reopenReq)
	wantField(t, err, "reason")
	reopenReq.Reason = "gia đình đã quay lại phường, trẻ lại bị bỏ mặc"
	if _, err = p.ReopenCase(chair, reopenReq); err != nil {
		t.Fatalf("reopen: %v", err)
	}

	c = getCase(t, ts, "bd.chair", name)
	notes := map[string][]string{}
	for _, n := range c.GetDossier().GetNotes() {
		notes[n.GetKind()] = append(notes[n.GetKind()], n.GetText())
	}
	if !slices.Equal(notes["CLOSURE"], []string{closeReq.Reason}) {
		t.Errorf("closure notes %q, want the chair's reason %q", notes["CLOSURE"], closeReq.Reason)
	}
	if !slices.Equal(notes["REOPENED"], []string{reopenReq.Reason}) {
		t.Errorf("reopening notes %q, want the chair's reason %q", notes["REOPENED"], reopenReq.Reason)
	}
	events := caseEvents(t, ts, "bd.chair", name)
	inOrder(t, events, "CLOSED", "REOPENED")
	for _, e := range events {
		if (e.GetKind() == "CLOSED" || e.GetKind() == "REOPENED") && (e.GetActor() != "users/bd.chair" || e.GetTime() == nil) {
			t.Errorf("%s event: actor %q time %v, want the chair and a time", e.GetKind(), e.GetActor(), e.GetTime())
		}
	}
}
