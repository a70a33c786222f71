package app_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// GetStatistics over gRPC and REST: a city officer counts the cases of two
// communes by month and unit, a commune chair only its own; the police are
// refused; a bad period or dimension is INVALID_ARGUMENT naming the field;
// the read is audited without a case.
func TestStatisticsAPI(t *testing.T) {
	ts := startServerAt(t, hn(2026, 6, 15, 9, 0), "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addPoliceUnit(t, "ca-ba-dinh")
	ts.addUser(t, "police", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	openCase(t, ts, hn(2026, 5, 29, 16, 0), "00004") // Friday before the Action Month
	openCase(t, ts, hn(2026, 6, 1, 8, 0), "00004")   // Children's Day
	openCase(t, ts, hn(2026, 6, 2, 8, 0), "00091")
	stats := pb.NewStatisticsServiceClient(ts.conn)

	june := &pb.GetStatisticsRequest{StartDate: "2026-06-01", EndDate: "2026-06-30", GroupBy: []string{"month", "unit"}}
	got, err := stats.GetStatistics(ts.as(t, "city"), june)
	if err != nil {
		t.Fatal(err)
	}
	byUnit := map[string]int32{}
	for _, g := range got.GetGroups() {
		if g.GetKey()[0].GetValue() != "2026-06" {
			t.Errorf("a group of month %s in June", g.GetKey()[0].GetValue())
		}
		byUnit[g.GetKey()[1].GetValue()] = g.GetCasesOpened()
	}
	if byUnit["00004@2025-07-01"] != 1 || byUnit["00091@2025-07-01"] != 1 || len(byUnit) != 2 {
		t.Errorf("city, June, by unit: %v, want one case in each commune", byUnit)
	}
	mine, err := stats.GetStatistics(ts.as(t, "bd.chair"), &pb.GetStatisticsRequest{StartDate: "2026-05-01", EndDate: "2026-06-30"})
	if err != nil {
		t.Fatal(err)
	}
	if n := mine.GetGroups()[0].GetCasesOpened(); n != 2 {
		t.Errorf("Ba Đình's chair counts %d cases, want its 2", n)
	}

	_, err = stats.GetStatistics(ts.as(t, "police"), june)
	wantCode(t, err, codes.PermissionDenied)
	for field, req := range map[string]*pb.GetStatisticsRequest{
		"start_date": {StartDate: "2026-02-30", EndDate: "2026-06-30"},
		"end_date":   {StartDate: "2026-06-30", EndDate: "2026-06-01"},
		"unit":       {StartDate: "2026-06-01", EndDate: "2026-06-30", Unit: "units/99999@2025-07-01"},
		"group_by":   {StartDate: "2026-06-01", EndDate: "2026-06-30", GroupBy: []string{"reporter"}},
	} {
		_, err := stats.GetStatistics(ts.as(t, "city"), req)
		wantBadField(t, err, field)
	}

	code, body := confREST(t, ts, "GET", "/v1/statistics?start_date=2026-06-01&end_date=2026-06-30&group_by=unit", "Bearer "+ts.tokens.get("city"))
	if code != http.StatusOK {
		t.Fatalf("REST: %d %s", code, body)
	}
	var rest struct {
		Groups []struct {
			CasesOpened int `json:"cases_opened"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(body, &rest); err != nil || len(rest.Groups) != 2 || rest.Groups[0].CasesOpened != 1 {
		t.Errorf("REST: %s (%v), want two units of one case each", body, err)
	}

	events, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: "users/city"})
	if err != nil {
		t.Fatal(err)
	}
	reads, refused := 0, 0
	for _, e := range events.GetEvents() {
		if e.GetAction() != "statistics.read" {
			continue
		}
		if e.GetCase() != "" {
			t.Errorf("a statistics read audited on case %s", e.GetCase())
		}
		switch e.GetOutcome() {
		case "ok":
			reads++
		case "refused":
			refused++ // its bad input, by the field and rule
		default:
			t.Errorf("a statistics read audited as %v", e)
		}
	}
	if reads != 2 {
		t.Errorf("%d statistics reads audited for the city, want its 2 answered ones", reads)
	}
	if refused == 0 {
		t.Errorf("the city's statistics reads refused for their input are not on the trail")
	}
}

// A commune's delays stay its own when it hands the case over (issue 13:
// the city acts on delay and incomplete duty, unit by unit). Ba Đình lets
// an acknowledgement run out (it escalates to the city), acknowledges
// late and hands the case to Hoàn Kiếm, which accepts; a second transfer
// of another case Hoàn Kiếm declines. Grouped by unit, the missed
// acknowledgement and its escalation are Ba Đình's, and so are the two
// transfers it proposed, one accepted and one declined; Hoàn Kiếm, now
// responsible for the first case, counts it as opened and its own
// acceptance deadline met, and neither the delay nor a transfer it never
// proposed. The city's counters and the chair's count from the records
// agree, and the file's counters match its records.
func TestStatisticsKeepADelayWithTheUnitThatHadTheDeadline(t *testing.T) {
	ts := startServerAt(t, hn(2026, 3, 2, 9, 0), "") // a Monday
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	p := ts.process()
	handed := openCase(t, ts, hn(2026, 3, 2, 9, 0), "00004")
	kept := openCase(t, ts, hn(2026, 3, 2, 8, 30), "00004")
	ts.setClock(t, hn(2026, 3, 4, 9, 0)) // both acknowledgements ran out the day before
	waitEvents(t, ts, "bd.worker", handed, "ESCALATED", 0, 1)
	waitEvents(t, ts, "bd.worker", kept, "ESCALATED", 0, 1)
	ts.setClock(t, hn(2026, 3, 4, 10, 0))
	for _, c := range []string{handed, kept} {
		if _, err := p.AcknowledgeCase(ts.as(t, "bd.worker"), &pb.AcknowledgeCaseRequest{Name: c, Etag: etagOf(t, ts, "bd.worker", c)}); err != nil {
			t.Fatalf("acknowledge %s: %v", c, err)
		}
		if _, err := p.ProposeTransfer(ts.as(t, "bd.worker"), &pb.ProposeTransferRequest{Name: c, Etag: etagOf(t, ts, "bd.worker", c),
			ToUnit: pHoanKiem, Reason: "trẻ chuyển đến Hoàn Kiếm"}); err != nil {
			t.Fatalf("propose %s: %v", c, err)
		}
	}
	ts.setClock(t, hn(2026, 3, 4, 11, 0))
	if _, err := p.AcceptTransfer(ts.as(t, "hk.worker"), &pb.AcceptTransferRequest{Name: handed, Etag: etagOf(t, ts, "hk.worker", handed)}); err != nil {
		t.Fatalf("accept: %v", err)
	}
	if _, err := p.DeclineTransfer(ts.as(t, "hk.worker"), &pb.DeclineTransferRequest{Name: kept, Etag: etagOf(t, ts, "hk.worker", kept),
		Reason: "trẻ vẫn sống ở Ba Đình"}); err != nil {
		t.Fatalf("decline: %v", err)
	}

	stats := pb.NewStatisticsServiceClient(ts.conn)
	for _, user := range []string{"city", "bd.chair"} {
		got, err := stats.GetStatistics(ts.as(t, user), &pb.GetStatisticsRequest{StartDate: "2026-03-01", EndDate: "2026-03-31", GroupBy: []string{"unit"}})
		if err != nil {
			t.Fatal(err)
		}
		byUnit := map[string]*pb.StatisticsGroup{}
		for _, g := range got.GetGroups() {
			byUnit[g.GetKey()[0].GetValue()] = g
		}
		missed := func(g *pb.StatisticsGroup, kind string) (met, missed int32) {
			for _, d := range g.GetDeadlines() {
				if d.GetKind() == kind {
					return d.GetMet(), d.GetMissed()
				}
			}
			return 0, 0
		}
		bd, hk := byUnit["00004@2025-07-01"], byUnit["00070@2025-07-01"]
		if _, n := missed(bd, "ACKNOWLEDGE"); n != 2 || bd.GetEscalations()["city"] != 2 {
			t.Errorf("%s: Ba Đình missed %d acknowledgements escalated %d times to the city, want its 2 and 2 (%v)", user, n, bd.GetEscalations()["city"], bd)
		}
		if bd.GetTransfersProposed() != 2 || bd.GetTransfersAccepted() != 1 || bd.GetTransfersDeclined() != 1 || bd.GetTransferAcceptedRate() != 0.5 {
			t.Errorf("%s: Ba Đình's transfers %d proposed, %d accepted, %d declined, rate %v; want 2, 1, 1 and 0.5",
				user, bd.GetTransfersProposed(), bd.GetTransfersAccepted(), bd.GetTransfersDeclined(), bd.GetTransferAcceptedRate())
		}
		_, hkMissed := missed(hk, "ACKNOWLEDGE")
		accepted, _ := missed(hk, "TRANSFER_ACCEPT")
		if hk.GetCasesOpened() != 1 || hkMissed != 0 || len(hk.GetEscalations()) != 0 || hk.GetTransfersProposed() != 0 || accepted != 2 {
			t.Errorf("%s: Hoàn Kiếm counts %d cases, %d missed acknowledgements, escalations %v, %d transfers proposed, %d acceptance deadlines met; want 1, 0, none, 0 and 2",
				user, hk.GetCasesOpened(), hkMissed, hk.GetEscalations(), hk.GetTransfersProposed(), accepted)
		}
	}
	ts.stop()
	checkFile(t, ts.cfg.DBPath)
}

// Issue 11: a record made later than the policy's late_recording after
// what it records was applied is flagged "for the accountability
// reports". In the Action Month, on Saturday 13 June 2026, a report names
// the stepfather; Ba Đình's chair separates the child at 15:00 but records
// it only on Sunday at 16:00 (25 hours; the policy allows 24, counted on
// the clock through the weekend), and records measures applied at 17:00 in
// time (23 hours). Ba Đình then hands the case to Hoàn Kiếm. The
// statistics of June count one late recording, Ba Đình's (the unit that
// recorded it late answers for it, as for a deadline it missed), for the
// city from its counters and for the chair from the records; the periodic
// report shows it in Ba Đình's row and the total, the Action Month report
// as an indicator; and the file's counters match its records.
func TestStatisticsCountALateRecordingUnderTheUnitThatRecordedIt(t *testing.T) {
	ts := startServerAt(t, hn(2026, 6, 13, 6, 30), "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	p := ts.process()
	chair := ts.as(t, "bd.chair")
	name := reportEmergency(t, ts, hn(2026, 6, 13, 6, 0), "00004", "", false, true)
	c := getCase(t, ts, "bd.chair", name)
	ts.setClock(t, hn(2026, 6, 14, 16, 0))
	// Nobody acted on Saturday: D3 and the acknowledgement breached and
	// went up to the city. Wait for the scheduler before the steps.
	for _, kind := range []string{"D3_EMERGENCY", "ACKNOWLEDGE"} {
		waitEvents(t, ts, "bd.chair", name, "ESCALATED", findDeadline(t, c, kind, "").GetId(), 1)
	}
	if _, err := p.AcknowledgeCase(chair, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name)}); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	startTestSeparation(t, ts, "bd.chair", name, hn(2026, 6, 13, 15, 0))
	if _, err := p.RecordEmergencyMeasures(chair, &pb.RecordEmergencyMeasuresRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name),
		Measures: "đưa trẻ đến nơi an toàn", AppliedBy: "Chủ tịch UBND phường", AppliedTime: timestamppb.New(hn(2026, 6, 13, 17, 0))}); err != nil {
		t.Fatalf("emergency measures: %v", err)
	}
	if _, err := p.ProposeTransfer(chair, &pb.ProposeTransferRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name),
		ToUnit: pHoanKiem, Reason: "trẻ chuyển đến Hoàn Kiếm"}); err != nil {
		t.Fatalf("propose: %v", err)
	}
	if _, err := p.AcceptTransfer(ts.as(t, "hk.worker"), &pb.AcceptTransferRequest{Name: name, Etag: etagOf(t, ts, "hk.worker", name)}); err != nil {
		t.Fatalf("accept: %v", err)
	}

	client := pb.NewStatisticsServiceClient(ts.conn)
	for _, user := range []string{"city", "bd.chair"} {
		got, err := client.GetStatistics(ts.as(t, user), &pb.GetStatisticsRequest{StartDate: "2026-06-01", EndDate: "2026-06-30", GroupBy: []string{"unit"}})
		if err != nil {
			t.Fatal(err)
		}
		late := map[string]int32{}
		for _, g := range got.GetGroups() {
			if n := g.GetLateRecordings(); n != 0 {
				late[g.GetKey()[0].GetValue()] = n
			}
		}
		if len(late) != 1 || late["00004@2025-07-01"] != 1 {
			t.Errorf("%s: late recordings by unit %v, want Ba Đình's one", user, late)
		}
	}
	report, err := client.GetPeriodicReport(ts.as(t, "city"), &pb.GetPeriodicReportRequest{StartDate: "2026-06-01", EndDate: "2026-06-30", Format: "csv"})
	if err != nil {
		t.Fatal(err)
	}
	records := csvRecords(t, report.GetData())
	col := -1
	late := map[string]string{}
	for _, rec := range records {
		if i := slices.Index(rec, "Ghi nhận muộn"); i >= 0 {
			col = i
		} else if col >= 0 && len(rec) > col {
			late[rec[0]] = rec[col]
		}
	}
	if col < 0 || late["Tổng cộng"] != "1" || late["Phường Ba Đình"] != "1" || late["Phường Hoàn Kiếm"] != "0" {
		t.Errorf("periodic report: late recordings column %d, by row %v; want 1 for Ba Đình and the total, 0 for Hoàn Kiếm", col, late)
	}
	month, err := client.GetActionMonthReport(ts.as(t, "city"), &pb.GetActionMonthReportRequest{Year: 2026, Format: "csv"})
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := readCSV(t, month.GetData())["Số lần ghi nhận muộn: biện pháp khẩn cấp, tách trẻ, chuyển tin báo tội phạm"]; n != "1" {
		t.Errorf("Action Month report: late recordings %q (row present: %v), want 1", n, ok)
	}
	ts.stop()
	checkFile(t, ts.cfg.DBPath)
}

// A month and a day end at Vietnam's midnight, not UTC's (issue 13: the
// statistics of a period of Vietnam's days). A report at 23:30 on 31
// January in Hanoi (16:30 UTC) counts in January and on the 31st; one at
// 00:30 on 1 February (17:30 UTC on 31 January) counts in February. The
// city's numbers come from the counters (whole months, and the daily
// cells of a period's ends), the chair's from the records: both agree.
func TestStatisticsDaysEndAtHanoiMidnight(t *testing.T) {
	ts := startServerAt(t, hn(2026, 2, 1, 1, 0), "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	openCase(t, ts, hn(2026, 1, 31, 23, 30), "00004")
	openCase(t, ts, hn(2026, 2, 1, 0, 30), "00004")
	stats := pb.NewStatisticsServiceClient(ts.conn)
	for _, who := range []string{"city", "bd.chair"} {
		for _, tc := range []struct {
			start, end string
			want       map[string]int32 // cases opened (and reports) by month
		}{
			{"2026-01-01", "2026-01-31", map[string]int32{"2026-01": 1}},
			{"2026-01-31", "2026-01-31", map[string]int32{"2026-01": 1}},
			{"2026-02-01", "2026-02-01", map[string]int32{"2026-02": 1}},
			{"2026-02-01", "2026-02-28", map[string]int32{"2026-02": 1}},
			{"2026-01-15", "2026-02-10", map[string]int32{"2026-01": 1, "2026-02": 1}},
			{"2026-01-01", "2026-01-30", map[string]int32{}},
		} {
			got, err := stats.GetStatistics(ts.as(t, who), &pb.GetStatisticsRequest{StartDate: tc.start, EndDate: tc.end, GroupBy: []string{"month"}})
			if err != nil {
				t.Fatal(err)
			}
			opened, reports := map[string]int32{}, map[string]int32{}
			for _, g := range got.GetGroups() {
				if n := g.GetCasesOpened(); n != 0 {
					opened[g.GetKey()[0].GetValue()] = n
				}
				if n := g.GetReports(); n != 0 {
					reports[g.GetKey()[0].GetValue()] = n
				}
			}
			if !maps.Equal(opened, tc.want) || !maps.Equal(reports, tc.want) {
				t.Errorf("%s, %s to %s: cases opened %v, reports %v, want %v of each", who, tc.start, tc.end, opened, reports, tc.want)
			}
		}
	}
}

// The periodic report's note says what each column counts, by whom. Its
// late recordings column counts the three records the policy's
// late_recording flags (emergency measures, a separation, the police's
// forwarding of a crime report to the investigators), as the Action Month
// row does, and a police unit's under the case's responsible unit, not
// under the police that recorded it; the note named only the first two and
// put every one under the unit that recorded it, so a commune filing the
// report could not tell why its row counted a police forwarding. The
// deadlines' column likewise counts a police unit's under the case's
// responsible unit.
func TestPeriodicReportNoteNamesEveryLateRecordingItCounts(t *testing.T) {
	ts := startServerAt(t, hn(2026, 6, 13, 6, 30), "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	client := pb.NewStatisticsServiceClient(ts.conn)
	report, err := client.GetPeriodicReport(ts.as(t, "city"), &pb.GetPeriodicReportRequest{StartDate: "2026-06-01", EndDate: "2026-06-30", Format: "csv"})
	if err != nil {
		t.Fatal(err)
	}
	var note string
	for _, rec := range csvRecords(t, report.GetData()) {
		if len(rec) == 1 && strings.Contains(rec[0], "ghi nhận muộn (") {
			note = rec[0]
		}
	}
	if note == "" {
		t.Fatalf("the periodic report has no note on its late recordings column:\n%s", report.GetData())
	}
	for _, want := range []string{"biện pháp khẩn cấp", "tách trẻ", "chuyển tin báo tội phạm", "của công an theo đơn vị đang chịu trách nhiệm vụ việc khi ghi nhận",
		// A police unit's deadlines and their escalations count under
		// the case's responsible unit too.
		"thời hạn và báo cáo lên cấp trên theo đơn vị phải thực hiện thời hạn (của công an theo đơn vị đang chịu trách nhiệm vụ việc)"} {
		if !strings.Contains(note, want) {
			t.Errorf("the note on late recordings does not say %q: %q", want, note)
		}
	}
}
