package app_test

// Issue 12's merge on real dates: two cases of one child in two communes,
// each with its own clocks, one with a police track, merged by the city.

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The hotline opens a case in Ba Đình at 09:00 on Monday 2 March 2026 and
// the commune refers it to the police; a second call at 11:00 opens
// another for the same child in Hoàn Kiếm. The city merges the first into
// the second: the old number resolves to the survivor, whose
// acknowledgement counts from the first call, and which carries the
// police track with its clocks; the first case's timers are gone, so its
// deadlines fire once, on the survivor.
func TestMergeTwoCasesOfOneChild(t *testing.T) {
	first := hn(2026, 3, 2, 9, 0) // Monday
	ts := startServerAt(t, first, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	for _, u := range []struct {
		id   string
		role pb.Role
		unit string
	}{
		{"bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh},
		{"bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh},
		{"hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem},
		{"hk.chair", pb.Role_ROLE_COMMUNE_CHAIR, pHoanKiem},
		{"city", pb.Role_ROLE_CITY_OFFICER, pCity},
		{"police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh"},
		{"auditor", pb.Role_ROLE_AUDITOR, "orgs/system"},
	} {
		ts.addUser(t, u.id, u.role, u.unit)
	}
	p := ts.process()
	city := ts.as(t, "city")

	old := openCase(t, ts, first, "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	ts.setClock(t, hn(2026, 3, 2, 10, 0))
	if _, err := p.ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: old, Etag: etagOf(t, ts, "bd.worker", old),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146"}); err != nil {
		t.Fatalf("refer: %v", err)
	}
	// No clock warns before 21:00, half of the first day: the merge at
	// noon meets both cases as the calls left them.
	ts.setClock(t, hn(2026, 3, 2, 11, 0))
	survivor := openCase(t, ts, hn(2026, 3, 2, 11, 0), "00070")
	ts.setClock(t, hn(2026, 3, 2, 12, 0))
	// What the absorbed case's steps recorded stays readable after the
	// merge, in the survivor's dossier.
	const oldNote = "mẹ trẻ gọi lại NOTEMARK-7077"
	if _, err := p.AddCaseNote(ts.as(t, "bd.worker"), &pb.AddCaseNoteRequest{Name: old, Etag: etagOf(t, ts, "bd.worker", old), Text: oldNote}); err != nil {
		t.Fatalf("note on the absorbed case: %v", err)
	}
	before := getCase(t, ts, "city", old)
	oldAck := findDeadline(t, before, "ACKNOWLEDGE", "")
	oldD13 := findDeadline(t, before, "D13_POLICE_FORWARD", "policeUnits/ca-ba-dinh")
	if q := queue(t, ts, "bd.worker", pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN); !slices.Contains(q, old) {
		t.Fatalf("before the merge Ba Đình's queue is %v, want %s in it", q, old)
	}

	merge := func(user, name, etag, absorbed, absorbedEtag, requestID string) (*pb.Case, error) {
		return p.MergeCase(ts.as(t, user), &pb.MergeCaseRequest{Name: name, Etag: etag, AbsorbedCase: absorbed,
			AbsorbedEtag: absorbedEtag, Reason: "cùng một trẻ: cùng tên, ngày sinh và người chăm sóc", RequestId: requestID})
	}
	etag := etagOf(t, ts, "city", survivor)

	// Refusals first; none changes either case.
	_, err := merge("city", survivor, etag, survivor, etag, "")
	wantField(t, err, "absorbed_case")
	_, err = merge("city", survivor, etag, old, "999", "")
	wantCode(t, err, codes.Aborted)
	_, err = merge("city", survivor, "999", old, before.GetEtag(), "")
	wantCode(t, err, codes.Aborted)
	// Each commune's chair sees only one of the two: the other is absent.
	_, err = merge("hk.chair", survivor, etag, old, before.GetEtag(), "")
	wantCode(t, err, codes.NotFound)
	_, err = merge("bd.chair", old, before.GetEtag(), survivor, etag, "")
	wantCode(t, err, codes.NotFound)
	// A worker may not merge at all.
	_, err = merge("bd.worker", old, before.GetEtag(), survivor, etag, "")
	wantCode(t, err, codes.PermissionDenied)
	if got := getCase(t, ts, "city", old); got.GetEtag() != before.GetEtag() {
		t.Fatal("a refused merge changed the absorbed case")
	}
	if got := getCase(t, ts, "city", survivor); got.GetEtag() != etag {
		t.Fatal("a refused merge changed the surviving case")
	}

	merged, err := merge("city", survivor, etag, old, before.GetEtag(), "merge-1")
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	// A retry with the same request_id, here over REST, gets the first
	// answer and merges nothing twice.
	code, raw := restRaw(t, ts, "POST", "/v1/"+survivor+":merge",
		fmt.Sprintf(`{"etag": %q, "absorbed_case": %q, "absorbed_etag": %q, "reason": "cùng một trẻ: cùng tên, ngày sinh và người chăm sóc", "request_id": "merge-1"}`,
			etag, old, before.GetEtag()),
		map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("city")})
	again := &pb.Case{}
	if err := protojson.Unmarshal(raw, again); code != 200 || err != nil {
		t.Fatalf("retry over REST: %d %s (%v)", code, raw, err)
	}
	if again.GetEtag() != merged.GetEtag() || again.GetName() != survivor {
		t.Errorf("the retry answers %s etag %s, the merge %s etag %s", again.GetName(), again.GetEtag(), survivor, merged.GetEtag())
	}
	// Merging the absorbed case again, or into it, is refused naming it.
	_, err = merge("city", survivor, merged.GetEtag(), old, before.GetEtag(), "")
	wantReason(t, err, codes.FailedPrecondition, "ALREADY_MERGED")

	// The old number resolves to the survivor, for the police too.
	if got := getCase(t, ts, "city", old); got.GetName() != survivor || got.GetEtag() != merged.GetEtag() {
		t.Errorf("GetCase %s answers %s (etag %s), want %s (etag %s)", old, got.GetName(), got.GetEtag(), survivor, merged.GetEtag())
	}
	if got := getCase(t, ts, "police.bd", old); got.GetName() != survivor || !slices.Equal(got.GetMergedFrom(), []string{old}) {
		t.Errorf("the police's GetCase %s answers %s merged from %v, want %s merged from %s (the README's police view names the numbers merged into it)",
			old, got.GetName(), got.GetMergedFrom(), survivor, old)
	}
	if m := getCase(t, ts, "city", survivor).GetDossier().GetMerged(); len(m) != 1 || m[0].GetCase() != old ||
		!slices.ContainsFunc(m[0].GetDossier().GetNotes(), func(n *pb.CaseNote) bool { return n.GetText() == oldNote }) {
		t.Errorf("the survivor's dossier keeps of the absorbed case %v, want %s with its note", m, old)
	}
	// A search for the child finds the survivor, by what both cases'
	// reports say, and never the absorbed record.
	res, err := ts.cases().SearchCases(city, &pb.SearchCasesRequest{ChildName: "Nguyen Thi Lan", CaregiverName: "Nguyễn Văn Hùng"})
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	var foundNames []string
	for _, c := range res.GetCandidates() {
		foundNames = append(foundNames, c.GetCase().GetName())
	}
	if !slices.Contains(foundNames, survivor) || slices.Contains(foundNames, old) {
		t.Errorf("a search after the merge finds %v, want %s and not %s", foundNames, survivor, old)
	}
	if d := getCase(t, ts, "police.bd", survivor).GetDossier(); d != nil {
		t.Errorf("the police view shows a dossier: %v", d)
	}
	if merged.GetMergedFrom()[0] != old || len(merged.GetMergedFrom()) != 1 {
		t.Errorf("merged_from %v, want [%s]", merged.GetMergedFrom(), old)
	}
	// The list shows the child's case once, the survivor; the export,
	// a record of every case number, keeps the absorbed one, closed,
	// pointing to the survivor, with no clock open.
	list, err := ts.cases().ListCases(city, &pb.ListCasesRequest{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list.GetCases() {
		if c.GetName() == old {
			t.Errorf("the city's list shows the absorbed case: %v", c)
		}
	}
	file, _, err := exportCases(t, ts, "city", &pb.ExportCasesRequest{Format: pb.ExportFormat_EXPORT_FORMAT_CSV})
	if err != nil {
		t.Fatal(err)
	}
	oldRow := ""
	for line := range strings.Lines(string(file)) {
		if strings.HasPrefix(line, strings.TrimPrefix(old, "cases/")+",") {
			oldRow = strings.TrimSpace(line)
		}
	}
	if f := strings.Split(oldRow, ","); len(f) != 15 || f[1] != "CLOSED" || f[10] != "0" || f[14] != strings.TrimPrefix(survivor, "cases/") {
		t.Fatalf("the absorbed case as exported: %q; want it CLOSED, no deadline open, merged_into %s", oldRow, survivor)
	}

	// Reports: both, each naming the survivor.
	if len(merged.GetReports()) != 2 || !slices.Equal(merged.GetReports()[1:], before.GetReports()) {
		t.Errorf("the survivor's reports %v, want its own and %v", merged.GetReports(), before.GetReports())
	}
	rep, err := ts.reports().GetReport(ts.as(t, operatorID), &pb.GetReportRequest{Name: before.GetReports()[0]})
	if err != nil {
		t.Fatal(err)
	}
	if rep.GetCase() != survivor {
		t.Errorf("the first report names case %s, want %s", rep.GetCase(), survivor)
	}

	// Deadlines: the acknowledgement counts from the first call, with its
	// due; the police track and its clock came along.
	ack := findDeadline(t, merged, "ACKNOWLEDGE", "")
	if countDeadlines(merged, "ACKNOWLEDGE") != 1 || !ack.GetStartTime().AsTime().Equal(first) {
		t.Errorf("the survivor's acknowledgement starts %v (%d of them), want the first call %v", ack.GetStartTime().AsTime().In(hanoi), countDeadlines(merged, "ACKNOWLEDGE"), first)
	}
	checkDeadline(t, ack, "OPEN", oldAck.GetDueTime().AsTime())
	if ack.GetUnit() != pHoanKiem {
		t.Errorf("the acknowledgement is Hoàn Kiếm's to meet, not %s", ack.GetUnit())
	}
	d13 := findDeadline(t, merged, "D13_POLICE_FORWARD", "policeUnits/ca-ba-dinh")
	checkDeadline(t, d13, "OPEN", oldD13.GetDueTime().AsTime())
	if len(merged.GetPoliceReferrals()) != 1 || merged.GetPoliceReferrals()[0].GetPoliceUnit() != "policeUnits/ca-ba-dinh" {
		t.Errorf("police referrals %v", merged.GetPoliceReferrals())
	}

	// Timelines: MERGED on both; the survivor's carries the first case's
	// history, marked with its number.
	survivorEvents := caseEvents(t, ts, "city", survivor)
	oldEvents := caseEvents(t, ts, "city", old)
	if countEvents(survivorEvents, "MERGED", 0) != 1 || countEvents(oldEvents, "MERGED", 0) != 1 {
		t.Errorf("MERGED lines: survivor %v, absorbed %v", kinds(survivorEvents), kinds(oldEvents))
	}
	// The README: the old number's timeline "ends with MERGED", so its
	// last line says where the case went, after its clocks closed.
	if n := len(oldEvents); n == 0 || oldEvents[n-1].GetKind() != "MERGED" {
		t.Errorf("the absorbed case's timeline ends %v, want MERGED last", kinds(oldEvents))
	}
	if !slices.ContainsFunc(survivorEvents, func(e *pb.CaseEvent) bool {
		return e.GetKind() == "POLICE_REFERRAL" && strings.HasPrefix(e.GetDetail(), "["+strings.TrimPrefix(old, "cases/")+"]")
	}) {
		t.Errorf("the survivor's timeline lacks the first case's referral: %v", kinds(survivorEvents))
	}

	// Audit: one merge event per case.
	for _, name := range []string{survivor, old} {
		evs, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Case: name, PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs.GetEvents() {
			if e.GetAction() == "case.merge" && e.GetOutcome() == "ok" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s has %d successful case.merge audit events, want 1", name, n)
		}
	}

	// Scope and queues: Ba Đình still sees the child's case; its queue
	// no longer holds the closed one, Hoàn Kiếm's holds the survivor.
	getCase(t, ts, "bd.worker", survivor)
	if q := queue(t, ts, "bd.worker", pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN); slices.Contains(q, old) {
		t.Errorf("Ba Đình's queue still holds the absorbed case: %v", q)
	}
	if q := queue(t, ts, "hk.worker", pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN); !slices.Contains(q, survivor) {
		t.Errorf("Hoàn Kiếm's queue %v lacks the survivor", q)
	}

	// Past both dues: each deadline breaches once, on the survivor; the
	// absorbed case's timers are gone.
	ts.setClock(t, hn(2026, 3, 3, 12, 0)) // past both: due at 09:00 and 10:00
	waitEvents(t, ts, "city", survivor, "DEADLINE_BREACHED", ack.GetId(), 1)
	survivorEvents = waitEvents(t, ts, "city", survivor, "DEADLINE_BREACHED", d13.GetId(), 1)
	if n := countEvents(survivorEvents, "DEADLINE_BREACHED", ack.GetId()); n != 1 {
		t.Errorf("the acknowledgement breached %d times", n)
	}
	after := caseEvents(t, ts, "city", old)
	if got := kinds(after[len(oldEvents):]); len(got) != 0 {
		t.Errorf("the absorbed case's clocks fired after the merge: %v", got)
	}
	if q := queue(t, ts, "hk.worker", pb.CaseQueue_CASE_QUEUE_OVERDUE); !slices.Contains(q, survivor) {
		t.Errorf("Hoàn Kiếm's overdue queue %v lacks the survivor", q)
	}
	// The file holds together: the old number's entry points to its own
	// record, each report is listed by the case it names, the indexes
	// match the records.
	ts.stop()
	checkFile(t, ts.cfg.DBPath)
}

// mergeAs merges absorbed into name as user, with the etags user reads of
// each.
func mergeAs(t *testing.T, ts *testServer, user, name, absorbed string) error {
	t.Helper()
	_, err := ts.process().MergeCase(ts.as(t, user), &pb.MergeCaseRequest{Name: name, Etag: etagOf(t, ts, user, name), AbsorbedCase: absorbed,
		AbsorbedEtag: etagOf(t, ts, user, absorbed), Reason: "cùng một trẻ"})
	return err
}

// A merge refuses a closed case (CASE_CLOSED) and one with a transfer
// awaiting a decision (TRANSFER_PENDING), naming the side in the message,
// as the README says; neither case changes.
func TestMergeRefusesClosedAndTransferringCases(t *testing.T) {
	ts := startServerAt(t, hn(2026, 3, 2, 9, 0), "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	p := ts.process()
	chair := ts.as(t, "bd.chair")
	survivor := openCase(t, ts, hn(2026, 3, 2, 8, 0), "00004")
	closed := openCase(t, ts, hn(2026, 3, 2, 8, 30), "00004")
	if _, err := p.ApproveClosure(chair, &pb.ApproveClosureRequest{Name: closed, Etag: etagOf(t, ts, "bd.chair", closed),
		Reason: "gia đình chuyển đến tỉnh khác", Ground: pb.ClosureGround_CLOSURE_GROUND_MOVED_AWAY,
		NoPoliceReferralReason: "gia đình đã trình báo công an nơi ở mới"}); err != nil {
		t.Fatalf("closure: %v", err)
	}
	merge := func(name, absorbed string) error { return mergeAs(t, ts, "bd.chair", name, absorbed) }
	refused := func(err error, reason, field string) {
		t.Helper()
		st := wantCode(t, err, codes.FailedPrecondition)
		if errorReason(st) != reason || !strings.HasPrefix(st.Message(), field+": ") {
			t.Errorf("refusal: reason %q, message %q; want %s naming %s", errorReason(st), st.Message(), reason, field)
		}
	}
	refused(merge(survivor, closed), "CASE_CLOSED", "absorbed_case")
	refused(merge(closed, survivor), "CASE_CLOSED", "name")

	pending := openCase(t, ts, hn(2026, 3, 2, 8, 45), "00004")
	if _, err := p.ProposeTransfer(chair, &pb.ProposeTransferRequest{Name: pending, Etag: etagOf(t, ts, "bd.chair", pending),
		ToUnit: pHoanKiem, Reason: "trẻ sống ở Hoàn Kiếm"}); err != nil {
		t.Fatalf("propose: %v", err)
	}
	etag := etagOf(t, ts, "bd.chair", survivor)
	refused(merge(survivor, pending), "TRANSFER_PENDING", "absorbed_case")
	if etagOf(t, ts, "bd.chair", survivor) != etag {
		t.Error("a refused merge changed the surviving case")
	}
}

// A merge that names a case merged already, on either side, is refused
// ALREADY_MERGED naming that side, as the README says, with the etags a
// client can hold: a read of the old number answers the survivor and its
// etag, and no read answers the absorbed case's own. Naming the old
// number in the path was ABORTED (ETAG_MISMATCH) instead, whatever the
// client read, and read again, for the merge acts on the case a request
// names exactly: "read it again and retry" led back to the same refusal.
func TestMergeOfAnOldNumberIsRefusedAsMerged(t *testing.T) {
	ts := startServerAt(t, hn(2026, 3, 2, 9, 0), "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	survivor := openCase(t, ts, hn(2026, 3, 2, 8, 0), "00004")
	old := openCase(t, ts, hn(2026, 3, 2, 8, 30), "00004")
	third := openCase(t, ts, hn(2026, 3, 2, 8, 45), "00004")
	merge := func(name, absorbed string) error { return mergeAs(t, ts, "bd.chair", name, absorbed) }
	if err := merge(survivor, old); err != nil {
		t.Fatalf("merge: %v", err)
	}
	before := map[string]string{survivor: etagOf(t, ts, "bd.chair", survivor), third: etagOf(t, ts, "bd.chair", third)}
	for _, tt := range []struct{ name, absorbed, field string }{
		{old, third, "name"},
		{third, old, "absorbed_case"},
		{old, survivor, "name"},
	} {
		err := merge(tt.name, tt.absorbed)
		st, _ := status.FromError(err)
		if st.Code() != codes.FailedPrecondition || errorReason(st) != "ALREADY_MERGED" || !strings.HasPrefix(st.Message(), tt.field+": ") {
			t.Errorf("merge %s into %s: %v; want FAILED_PRECONDITION ALREADY_MERGED naming %s", tt.absorbed, tt.name, err, tt.field)
		}
	}
	for c, etag := range before {
		if got := etagOf(t, ts, "bd.chair", c); got != etag {
			t.Errorf("a refused merge changed case %s: etag %s -> %s", c, etag, got)
		}
	}
}

// A link asked again once the report's case was merged, naming the old
// number, finds the report in the case that number now names, and
// answers it as it is, as a link to the survivor's own number does
// ("a report already in this case is returned as it is, whatever the
// etag"; the README: a joining report on the old number goes to the
// survivor). It was refused REPORT_ALREADY_LINKED, as if the report were
// in another case: a client's retry without a request_id of a link made
// before the merge failed.
func TestLinkAgainToAnOldNumberAnswersTheReport(t *testing.T) {
	ts := startServerAt(t, hn(2026, 3, 2, 9, 0), "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	survivor := openCase(t, ts, hn(2026, 3, 2, 8, 0), "00004")
	old := openCase(t, ts, hn(2026, 3, 2, 8, 30), "00004")
	info := validReport()
	info.CallType = pb.CallType_CALL_TYPE_INFORMATION
	info.ReceiveTime = timestamppb.New(hn(2026, 3, 2, 8, 50))
	loose, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: info})
	if err != nil {
		t.Fatal(err)
	}
	link := func(name, etag string) (*pb.Report, error) {
		return ts.reports().LinkReport(ts.as(t, operatorID), &pb.LinkReportRequest{Name: loose.GetName(), Case: name, Etag: etag})
	}
	if _, err := link(old, ""); err != nil {
		t.Fatalf("link: %v", err)
	}
	if _, err := ts.process().MergeCase(ts.as(t, "bd.chair"), &pb.MergeCaseRequest{Name: survivor, Etag: etagOf(t, ts, "bd.chair", survivor),
		AbsorbedCase: old, AbsorbedEtag: etagOf(t, ts, "bd.chair", old), Reason: "cùng một trẻ"}); err != nil {
		t.Fatalf("merge: %v", err)
	}
	etag := etagOf(t, ts, "bd.chair", survivor)
	for _, tt := range []struct{ name, etag string }{{old, ""}, {old, "1.stale"}, {"hn 2026 " + strings.TrimPrefix(old, "cases/HN-2026-"), ""}, {survivor, ""}} {
		got, err := link(tt.name, tt.etag)
		if err != nil || got.GetCase() != survivor {
			t.Errorf("the link asked again naming %q (etag %q): case %q, %v; want the report as it is, in %s", tt.name, tt.etag, got.GetCase(), err, survivor)
		}
	}
	if got := etagOf(t, ts, "bd.chair", survivor); got != etag {
		t.Errorf("a link asked again changed case %s: etag %s -> %s", survivor, etag, got)
	}
}

// A merge is no closure without a police referral: the absorbed case of a
// suspected crime goes on in the survivor, which may still be referred.
// The city's counters and a commune's count from the records, and the
// Action Month report, count no cover-up for it; the survivor's own
// closure without a referral is then the one counted.
func TestMergeIsNoCrimeClosedWithoutReferral(t *testing.T) {
	ts := startServerAt(t, hn(2026, 6, 2, 9, 0), "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	absorbed := openCase(t, ts, hn(2026, 6, 2, 8, 0), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	survivor := openCase(t, ts, hn(2026, 6, 2, 8, 30), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	chair := ts.as(t, "bd.chair")
	if _, err := ts.process().MergeCase(chair, &pb.MergeCaseRequest{Name: survivor, Etag: etagOf(t, ts, "bd.chair", survivor),
		AbsorbedCase: absorbed, AbsorbedEtag: etagOf(t, ts, "bd.chair", absorbed), Reason: "cùng một trẻ"}); err != nil {
		t.Fatalf("merge: %v", err)
	}
	stats := pb.NewStatisticsServiceClient(ts.conn)
	june := &pb.GetStatisticsRequest{StartDate: "2026-06-01", EndDate: "2026-06-30"}
	unreferred := func(when string, want int32) {
		t.Helper()
		for _, user := range []string{"city", "bd.chair"} { // the counters, and the records
			got, err := stats.GetStatistics(ts.as(t, user), june)
			if err != nil {
				t.Fatal(err)
			}
			if n := got.GetGroups()[0].GetCrimeClosedWithoutReferral(); n != want {
				t.Errorf("%s, as %s: %d suspected crimes closed without a police referral, want %d", when, user, n, want)
			}
		}
		body, err := stats.GetActionMonthReport(ts.as(t, "city"), &pb.GetActionMonthReportRequest{Year: 2026})
		if err != nil {
			t.Fatal(err)
		}
		if got := readXLSX(t, body.GetData())["Số vụ việc có dấu hiệu tội phạm đóng mà không chuyển công an"]; got != fmt.Sprint(want) {
			t.Errorf("%s: the Action Month report counts %s suspected crimes closed without a referral, want %d", when, got, want)
		}
	}
	unreferred("after the merge", 0)

	// Before any clock warns (21:00, half the first day), so that no
	// firing changes the case under the closure.
	ts.setClock(t, hn(2026, 6, 2, 15, 0))
	if _, err := ts.process().ApproveClosure(chair, &pb.ApproveClosureRequest{Name: survivor, Etag: etagOf(t, ts, "bd.chair", survivor),
		Reason: "gia đình chuyển đến tỉnh khác", Ground: pb.ClosureGround_CLOSURE_GROUND_MOVED_AWAY,
		NoPoliceReferralReason: "gia đình đã trình báo công an nơi ở mới"}); err != nil {
		t.Fatalf("closure: %v", err)
	}
	unreferred("after the survivor's closure", 1)
	ts.stop()
	checkFile(t, ts.cfg.DBPath)
}

// A case merged into another still counts under the channel and call
// type of the call that opened it, as every case counts under its first
// report's: the merge moves its reports to the survivor, but the case was
// opened by that call all the same. Both the city's counters and a
// commune's count from the records say so, and check finds them equal.
func TestMergedCaseKeepsItsChannelInTheStatistics(t *testing.T) {
	ts := startServerAt(t, hn(2026, 6, 2, 9, 0), "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	absorbed := openCase(t, ts, hn(2026, 6, 2, 8, 0), "00004")
	survivor := openCase(t, ts, hn(2026, 6, 2, 8, 30), "00004")
	chair := ts.as(t, "bd.chair")
	if _, err := ts.process().MergeCase(chair, &pb.MergeCaseRequest{Name: survivor, Etag: etagOf(t, ts, "bd.chair", survivor),
		AbsorbedCase: absorbed, AbsorbedEtag: etagOf(t, ts, "bd.chair", absorbed), Reason: "cùng một trẻ"}); err != nil {
		t.Fatalf("merge: %v", err)
	}
	stats := pb.NewStatisticsServiceClient(ts.conn)
	for _, user := range []string{"city", "bd.chair"} { // the counters, and the records
		got, err := stats.GetStatistics(ts.as(t, user), &pb.GetStatisticsRequest{StartDate: "2026-06-01", EndDate: "2026-06-30",
			GroupBy: []string{"channel", "call_type"}})
		if err != nil {
			t.Fatal(err)
		}
		opened := map[string]int32{}
		for _, g := range got.GetGroups() {
			opened[g.GetKey()[0].GetValue()+" "+g.GetKey()[1].GetValue()] += g.GetCasesOpened()
		}
		if want := map[string]int32{"HOTLINE_111 INTERVENTION": 2}; !maps.Equal(opened, want) {
			t.Errorf("as %s, cases opened by channel and call type: %v, want %v", user, opened, want)
		}
	}
	ts.stop()
	checkFile(t, ts.cfg.DBPath)
}

// After a merge the child has one case: every list shows the survivor,
// which names the old number in merged_from, and no longer the absorbed
// case as an entry of its own. The police liaison's list, over gRPC and
// REST, and their open queue showed both numbers (the absorbed record
// keeps its referral, which the police view of the survivor shows), as
// did the commune's, the hotline's and the city's lists. The old number
// still opens the survivor.
func TestMergedCaseIsListedOnceForEveryRole(t *testing.T) {
	ts := startServerAt(t, hn(2026, 3, 2, 9, 0), "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "sup", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	refer := func(name string) {
		t.Helper()
		if _, err := ts.process().ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
			PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146"}); err != nil {
			t.Fatalf("refer %s: %v", name, err)
		}
	}
	survivor := openCase(t, ts, hn(2026, 3, 2, 8, 0), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	old := openCase(t, ts, hn(2026, 3, 2, 8, 30), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	refer(old)
	refer(survivor)
	if err := mergeAs(t, ts, "bd.chair", survivor, old); err != nil {
		t.Fatalf("merge: %v", err)
	}

	names := func(cases []*pb.Case) []string {
		var out []string
		for _, c := range cases {
			out = append(out, c.GetName())
		}
		return out
	}
	for _, user := range []string{operatorID, "sup", "bd.worker", "bd.chair", "city", "police.bd"} {
		resp, err := ts.cases().ListCases(ts.as(t, user), &pb.ListCasesRequest{})
		if err != nil {
			t.Fatalf("ListCases as %s: %v", user, err)
		}
		if got := names(resp.GetCases()); !slices.Equal(got, []string{survivor}) {
			t.Errorf("ListCases as %s: %v; want the survivor %s alone", user, got, survivor)
		}
		closed, err := ts.cases().ListCases(ts.as(t, user), &pb.ListCasesRequest{Status: pb.CaseStatus_CASE_STATUS_CLOSED})
		if err != nil {
			t.Fatalf("ListCases of closed cases as %s: %v", user, err)
		}
		if got := names(closed.GetCases()); len(got) != 0 {
			t.Errorf("ListCases of closed cases as %s: %v; want none (the absorbed case is the survivor now)", user, got)
		}
		if q := queue(t, ts, user, pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN); slices.Contains(q, old) {
			t.Errorf("the open queue of %s holds the absorbed case: %v", user, q)
		}
	}
	if q := queue(t, ts, "police.bd", pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN); !slices.Equal(q, []string{survivor}) {
		t.Errorf("the police's open queue: %v; want the survivor %s alone", q, survivor)
	}

	// Over REST, the police's list the same; the old number opens the
	// survivor, which names it.
	auth := map[string]string{"Authorization": "Bearer " + ts.tokens.get("police.bd")}
	code, raw := restRaw(t, ts, "GET", "/v1/cases", "", auth)
	if code != 200 || strings.Contains(string(raw), `"name":"`+old+`"`) {
		t.Errorf("REST: the police's list: %d %s; want the survivor alone", code, raw)
	}
	if !strings.Contains(string(raw), `"name":"`+survivor+`"`) {
		t.Errorf("REST: the police's list lacks the survivor: %s", raw)
	}
	if got := getCase(t, ts, "police.bd", old); got.GetName() != survivor || !slices.Equal(got.GetMergedFrom(), []string{old}) {
		t.Errorf("the police's GetCase %s answers %s merged from %v; want %s merged from %s", old, got.GetName(), got.GetMergedFrom(), survivor, old)
	}
}
