package app_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// limitsPolicy sets every policy limit of issue 4 (and issue 11's
// acknowledge_emergency, late_recording and plan_resubmit) away from the
// shipped default, so that each deadline below can only have its due time
// from the file.
const limitsPolicy = `{
  "acknowledge": {"hours": 6},
  "acknowledge_emergency": {"hours": 1},
  "late_recording": {"hours": 2},
  "transfer_accept": {"hours": 3},
  "police_acknowledge": {"hours": 4},
  "plan_resubmit": {"working_days": 1},
  "escalation_step": {"hours": 5}
}`

// Issue 4: the policy deadlines "come from a policy file (--policy ...) so
// a deployment can tighten them". On Tue 10 March 2026 in Phường Ba Đình,
// with every limit of the file tightened: an ordinary case must be
// acknowledged in 6 hours, an emergency in 1, a police referral in 4, a
// transfer accepted in 3; emergency measures recorded 2¼ hours after they
// were applied are flagged late; a returned plan is due again after one
// working day.
func TestPolicyFileSetsEveryLimit(t *testing.T) {
	now := hn(2026, 3, 10, 9, 0) // Tuesday
	ts := startServerAt(t, now, limitsPolicy)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	p := ts.process()
	worker, chair := ts.as(t, "bd.worker"), ts.as(t, "bd.chair")

	ordinary := openCase(t, ts, hn(2026, 3, 10, 8, 50), "00004")
	checkDeadline(t, findDeadline(t, getCase(t, ts, "bd.worker", ordinary), "ACKNOWLEDGE", ""), "OPEN", hn(2026, 3, 10, 15, 0))

	emergency := reportEmergency(t, ts, hn(2026, 3, 10, 8, 30), "00004", "", false, true)
	c := getCase(t, ts, "bd.worker", emergency)
	checkDeadline(t, findDeadline(t, c, "ACKNOWLEDGE", ""), "OPEN", hn(2026, 3, 10, 10, 0))

	c, err := p.ReferCaseToPolice(worker, &pb.ReferCaseToPoliceRequest{Name: emergency, Etag: c.GetEtag(),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 134 BLHS"})
	if err != nil {
		t.Fatalf("refer: %v", err)
	}
	policeAck := findDeadline(t, c, "POLICE_ACKNOWLEDGE", "policeUnits/ca-ba-dinh")
	checkDeadline(t, policeAck, "OPEN", hn(2026, 3, 10, 13, 0))

	c, err = p.ProposeTransfer(worker, &pb.ProposeTransferRequest{Name: ordinary, Etag: etagOf(t, ts, "bd.worker", ordinary),
		ToUnit: pHoanKiem, Reason: "trẻ sống ở Hoàn Kiếm"})
	if err != nil {
		t.Fatalf("propose transfer: %v", err)
	}
	checkDeadline(t, findDeadline(t, c, "TRANSFER_ACCEPT", "transfer-1"), "OPEN", hn(2026, 3, 10, 12, 0))

	// 11:00: the chair records measures applied at 08:45, 2 h 15 min ago.
	ts.setClock(t, hn(2026, 3, 10, 11, 0))
	// What fell due on the emergency case by then fires as the clock
	// moves (its acknowledgement's warnings and breach at 10:00), and must
	// be out before its etag is read: the last is the police
	// acknowledgement's first warning, at 11:00.
	waitEvents(t, ts, "bd.chair", emergency, "DEADLINE_WARNING", policeAck.GetId(), 1)
	_, err = p.RecordEmergencyMeasures(chair, &pb.RecordEmergencyMeasuresRequest{Name: emergency, Etag: etagOf(t, ts, "bd.chair", emergency),
		Measures: "đưa trẻ đến nhà bà ngoại", AppliedBy: "Chủ tịch UBND phường", AppliedTime: timestamppb.New(hn(2026, 3, 10, 8, 45))})
	if err != nil {
		t.Fatalf("emergency measures: %v", err)
	}
	if m := getCase(t, ts, "bd.chair", emergency).GetDossier().GetEmergencyMeasures(); len(m) != 1 || !m[0].GetLateRecording() {
		t.Errorf("measures recorded 2¼ hours after they were applied: %v, want flagged late (late_recording 2 h)", m)
	}

	// A plan returned at 11:00 on Tuesday is due again at 24:00 on
	// Wednesday, one working day on.
	third := openCase(t, ts, ts.clock.Now(), "00004")
	name, day := toPlanDraft(t, ts, third[len("cases/"):])
	submitPlan(t, ts, name, day)
	c, err = p.ReturnPlan(chair, &pb.ReturnPlanRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name), Reason: "thiếu chi phí"})
	if err != nil {
		t.Fatalf("return the plan: %v", err)
	}
	checkDeadline(t, findDeadline(t, c, "PLAN_RESUBMIT", "plan-1"), "OPEN", hn(2026, 3, 12, 0, 0))
}

// Issue 4: "an overdue step at the next level" is a policy limit too. In
// June 2024 (districts still in force) a case of Phường Trúc Bạch nobody
// acknowledges breaches at 15:00 and goes to Quận Ba Đình; the district
// does not act within the file's escalation_step of 5 hours from the
// escalation at 15:01, so just after 20:01 (the district's last instant)
// it goes on to the city, the same evening (the shipped default is a
// working day).
func TestPolicyFileSetsTheEscalationStep(t *testing.T) {
	start := hn(2024, 6, 4, 9, 0) // Tuesday
	ts := startServerAt(t, start, limitsPolicy)
	ts.addUser(t, "tb.worker", pb.Role_ROLE_COMMUNE_WORKER, pTrucBach)
	name := openCase(t, ts, start, "00004")
	ack := findDeadline(t, getCase(t, ts, "tb.worker", name), "ACKNOWLEDGE", "")
	checkDeadline(t, ack, "OPEN", hn(2024, 6, 4, 15, 0))

	ts.setClock(t, hn(2024, 6, 4, 15, 1))
	waitEvents(t, ts, "tb.worker", name, "ESCALATED", ack.GetId(), 1)
	ts.setClock(t, hn(2024, 6, 4, 20, 2))
	waitEvents(t, ts, "tb.worker", name, "ESCALATED", ack.GetId(), 2)
	e := findDeadline(t, getCase(t, ts, "tb.worker", name), "ACKNOWLEDGE", "").GetEscalations()
	if len(e) != 2 || e[0].GetToUnit() != pDistrictBD || e[1].GetToUnit() != pCity || e[1].GetTime().AsTime().After(hn(2024, 6, 4, 20, 2).Add(time.Second)) {
		t.Errorf("escalations %v, want the district at 15:01, then the city by 20:02", e)
	}
}
