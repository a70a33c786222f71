package app_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/transport/reportfile"
)

// The Action Month report of 2026 checked by hand against a small June:
// what the test did, counted one by one, is what the city's XLSX says.
// Cases just before 1 June and just after 30 June (Hanoi time) are left
// out; a counselling call counts as a report and opens no case; an
// emergency left alone counts with its D3 late; the deadlines' rows are
// counted from the cases' own deadlines and timelines.
func TestActionMonthReportByHand(t *testing.T) {
	ts := startServerAt(t, hn(2026, 5, 31, 23, 30), "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	create := func(r *pb.Report) string {
		t.Helper()
		created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
		if err != nil {
			t.Fatalf("create report: %v", err)
		}
		return created.GetCase()
	}
	var cases []string
	// May's case is left out of the cases opened, but its acknowledgement
	// falls due, and escalates, in June.
	may := openCase(t, ts, hn(2026, 5, 31, 23, 0), "00004")

	ts.clock.Set(hn(2026, 6, 1, 9, 0))
	a := openCase(t, ts, hn(2026, 6, 1, 8, 30), "00004") // VIOLENCE, hotline
	cases = append(cases, a)
	ts.clock.Set(hn(2026, 6, 1, 9, 30))
	if _, err := ts.process().AcknowledgeCase(ts.as(t, "bd.worker"), &pb.AcknowledgeCaseRequest{Name: a, Etag: etagOf(t, ts, "bd.worker", a)}); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	ts.clock.Set(hn(2026, 6, 1, 10, 0))
	if _, err := ts.process().ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: a, Etag: etagOf(t, ts, "bd.worker", a),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 140"}); err != nil {
		t.Fatalf("refer: %v", err)
	}

	ts.clock.Set(hn(2026, 6, 3, 9, 0))
	walkIn := validReport()
	walkIn.Channel = pb.Channel_CHANNEL_WALK_IN
	walkIn.ReceiveTime = timestamppb.New(hn(2026, 6, 3, 8, 0))
	walkIn.SuspectedAbuse = []pb.AbuseForm{pb.AbuseForm_ABUSE_FORM_NEGLECT}
	b := create(walkIn)
	cases = append(cases, b)
	// B is acknowledged two hours after its 24 hours ran out: one
	// acknowledgement missed, 120 minutes late.
	bAck := findDeadline(t, getCase(t, ts, "city", b), "ACKNOWLEDGE", "")
	ts.clock.Set(bAck.GetDueTime().AsTime().Add(2 * time.Hour))
	waitEvents(t, ts, "city", b, "DEADLINE_BREACHED", bAck.GetId(), 1)
	if _, err := ts.process().AcknowledgeCase(ts.as(t, "bd.worker"), &pb.AcknowledgeCaseRequest{Name: b, Etag: etagOf(t, ts, "bd.worker", b)}); err != nil {
		t.Fatalf("acknowledge B late: %v", err)
	}

	ts.clock.Set(hn(2026, 6, 10, 9, 0))
	counselling := validReport()
	counselling.CallType = pb.CallType_CALL_TYPE_COUNSELLING
	counselling.ReceiveTime = timestamppb.New(hn(2026, 6, 10, 8, 0))
	if c := create(counselling); c != "" {
		t.Fatalf("a counselling call opened %s", c)
	}

	ts.clock.Set(hn(2026, 6, 20, 9, 0))
	emergency := reportEmergency(t, ts, hn(2026, 6, 20, 8, 0), "00091", "", false, true) // VIOLENCE
	cases = append(cases, emergency)

	ts.clock.Set(hn(2026, 6, 30, 23, 30))
	cases = append(cases, openCase(t, ts, hn(2026, 6, 30, 23, 15), "00091", pb.AbuseForm_ABUSE_FORM_NEGLECT))
	ts.clock.Set(hn(2026, 7, 1, 0, 30))
	july := openCase(t, ts, hn(2026, 7, 1, 0, 15), "00004") // left out

	now := hn(2026, 7, 2, 9, 0)
	ts.clock.Set(now)
	waitEvents(t, ts, "city", emergency, "DEADLINE_BREACHED", findDeadline(t, getCase(t, ts, "city", emergency), "D3_EMERGENCY", "").GetId(), 1)
	waitEvents(t, ts, "city", cases[3], "DEADLINE_BREACHED", findDeadline(t, getCase(t, ts, "city", cases[3]), "ACKNOWLEDGE", "").GetId(), 1)

	// The deadlines, from the records: met or missed in June, due in
	// June and open now; escalations dated in June.
	june := func(ts *timestamppb.Timestamp) bool {
		at := ts.AsTime().In(hanoi)
		return at.Year() == 2026 && at.Month() == time.June
	}
	// byHand counts the deadlines from the records: met or missed in
	// June, due in June and open now; and the escalations dated in June.
	byHand := func() (met, missed, overdue, escalations int) {
		for _, name := range append([]string{may, july}, cases...) {
			for _, d := range getCase(t, ts, "city", name).GetDeadlines() {
				switch {
				case d.GetState() == "MET" && june(d.GetDoneTime()):
					met++
				case d.GetState() == "MISSED" && june(d.GetDoneTime()):
					missed++
				case d.GetState() == "OPEN" && june(d.GetDueTime()) && d.GetDueTime().AsTime().Before(now):
					overdue++
				}
			}
			for _, e := range caseEvents(t, ts, "city", name) {
				if e.GetKind() == "ESCALATED" && june(e.GetTime()) {
					escalations++
				}
			}
		}
		return met, missed, overdue, escalations
	}
	// The scheduler fires what fell due while the clock jumped in the
	// background: read again until the records and the report agree, or
	// 10 s have passed.
	var body *httpbody.HttpBody
	var rows map[string]string
	var wrong []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		met, missed, overdue, escalations := byHand()
		if met < 1 || missed < 1 || overdue < 2 || escalations < 1 {
			t.Fatalf("the data set has %d deadlines met, %d overdue and %d escalations in June; want A's acknowledgement met, B's missed, May's and the D3 overdue, and an escalation", met, overdue, escalations)
		}
		var err error
		body, err = pb.NewStatisticsServiceClient(ts.conn).GetActionMonthReport(ts.as(t, "city"), &pb.GetActionMonthReportRequest{Year: 2026})
		if err != nil {
			t.Fatal(err)
		}
		rows = readXLSX(t, body.GetData())
		wrong = nil
		for label, want := range map[string]int{
			"Số tin báo, cuộc gọi tiếp nhận":                                  5, // A, B, counselling, emergency, 30 June
			"Số vụ việc mở":                                                   4,
			"Số vụ việc đã đóng":                                              0,
			"Số vụ việc mở trong kỳ còn đang xử lý":                           4,
			"Số vụ việc khẩn cấp":                                             1,
			"Vụ việc khẩn cấp: biện pháp khẩn cấp trong 12 giờ (D3) đúng hạn": 0,
			"Vụ việc khẩn cấp: D3 trễ hoặc quá hạn":                           1,
			"Số thời hạn hoàn thành đúng hạn":                                 met,
			"Số thời hạn hoàn thành trễ hạn":                                  missed,
			"Số thời hạn đang quá hạn":                                        overdue,
			"Số lần báo cáo lên cấp trên do quá hạn":                          escalations,
			"Số đề nghị chuyển giao vụ việc":                                  0,
			"Số vụ việc chuyển cơ quan công an":                               1,
			"Số vụ việc công an đã khởi tố":                                   0,
			"Số vụ việc có dấu hiệu tội phạm đóng mà không chuyển công an":    0,
			"Vụ việc mở theo hình thức xâm hại: VIOLENCE":                     2,
			"Vụ việc mở theo hình thức xâm hại: NEGLECT":                      2,
			"Tin báo theo kênh tiếp nhận: HOTLINE_111":                        4,
			"Tin báo theo kênh tiếp nhận: WALK_IN":                            1,
		} {
			if got := rows[label]; got != strconv.Itoa(want) {
				wrong = append(wrong, fmt.Sprintf("%s: the XLSX says %q, counted by hand %d", label, got, want))
			}
		}
		if len(wrong) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, w := range wrong {
		t.Error(w)
	}
	// The statistics of June give B's lateness, by hand 120 minutes (from
	// 64 to 127 minutes the counters keep 2-minute steps), and count A's
	// acknowledgement met, B's missed.
	june2026, err := pb.NewStatisticsServiceClient(ts.conn).GetStatistics(ts.as(t, "city"), &pb.GetStatisticsRequest{StartDate: "2026-06-01", EndDate: "2026-06-30"})
	if err != nil {
		t.Fatal(err)
	}
	var ack *pb.DeadlineStatistics
	for _, d := range june2026.GetGroups()[0].GetDeadlines() {
		if d.GetKind() == "ACKNOWLEDGE" {
			ack = d
		}
	}
	if ack.GetMet() != 1 || ack.GetMissed() != 1 || ack.GetMedianMinutesLate() != 120 || ack.GetP90MinutesLate() != 120 {
		t.Errorf("June's acknowledgements: %v; want A's met, B's missed by 120 minutes", ack)
	}
	for label, want := range map[string]string{"Từ ngày": "01/06/2026", "Đến ngày": "30/06/2026", "Hạn gửi kết quả": "15/07/2026"} {
		if rows[label] != want {
			t.Errorf("%s: %q, want %s", label, rows[label], want)
		}
	}
	// The dates are date cells: a number formatted as a day.
	f, err := excelize.OpenReader(bytes.NewReader(body.GetData()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all, err := f.GetRows(reportfile.Sheet)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range all {
		// No cell is a formula: a report's figures are the counts.
		for j := range r {
			cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
			if formula, err := f.GetCellFormula(reportfile.Sheet, cell); err != nil || formula != "" {
				t.Errorf("%s holds the formula %q (%v)", cell, formula, err)
			}
		}
		if len(r) == 2 && (r[0] == "Từ ngày" || r[0] == "Hạn gửi kết quả") {
			raw, err := f.GetCellValue(reportfile.Sheet, "B"+strconv.Itoa(i+1), excelize.Options{RawCellValue: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := strconv.ParseFloat(raw, 64); err != nil {
				t.Errorf("%s is stored as %q, not a date serial", r[0], raw)
			}
		}
	}
}
