package app_test

// End-to-end tests of confidentiality: what reaches the disk, the master
// key, the sealed reporter, the audit trail and its tamper evidence,
// throttling, key rotation, the token lifecycle and REST authentication.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/text/unicode/norm"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

const (
	confBaDinh     = "units/00004@2025-07-01"
	confHoanKiem   = "units/00070@2025-07-01"
	confCity       = "units/01@2020-01-01"
	confBadToken   = "cc_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	confGoodReason = "police request 12/CV-CAQ of 2026-11-20"
)

// confSecrets is the private data of the reports of confReports: none of
// it may reach the disk in the clear.
type confSecrets struct {
	strings []string
}

func (s *confSecrets) add(v ...string) { s.strings = append(s.strings, v...) }

// confReports records reports with distinctive private data: two
// intervention reports (two cases), a counselling report that stays without
// a case, a counselling report later linked to the first case, and a repeat
// call that joins the first case at intake. It returns the reports as
// created and the private strings they carry.
func confReports(t *testing.T, ts *testServer) ([]*pb.Report, *confSecrets) {
	t.Helper()
	ctx := context.Background()
	sec := &confSecrets{}
	type person struct{ name, phone string }
	mk := func(callType pb.CallType, reporter person, child, birth, carer, carerPhone, address, narrative, family, actions, location string) *pb.Report {
		r := validReport()
		r.CallType = callType
		r.Children = []*pb.Child{{
			FullName:     child,
			Age:          &pb.Child_BirthDate{BirthDate: birth},
			Sex:          pb.Sex_SEX_FEMALE,
			Location:     location,
			Condition:    "vết bỏng hình tròn trên cánh tay trái của " + child,
			ExpectedHarm: "có thể bị đánh tiếp nếu " + carer + " về nhà",
		}}
		r.Caregivers = []*pb.Caregiver{{
			FullName: carer, Relation: "cậu ruột", Phone: carerPhone, Address: address, SuspectedAbuser: true,
		}}
		r.Narrative = narrative
		r.FamilySituation = family
		r.ActionsTaken = actions
		r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{
			Consent: true, FullName: reporter.name, Phone: reporter.phone, RelationToChild: "cô giáo chủ nhiệm",
		}}}
		sec.add(reporter.name, reporter.phone, strings.ReplaceAll(reporter.phone, " ", ""),
			child, birth, carer, carerPhone, strings.ReplaceAll(carerPhone, " ", ""), address,
			narrative, family, actions, location)
		return r
	}
	// Names are given in decomposed form (NFD) here and there, as some
	// keyboards type them; the service stores NFC, and neither may leak.
	nfd := func(s string) string { return norm.NFD.String(s) }

	r1 := mk(pb.CallType_CALL_TYPE_INTERVENTION,
		person{"Khúc Thừa Dụ Xuyên", "0987 654 321"},
		nfd("Lưu Ngọc Quỳnh Xuyến"), "2014-02-19", "Thạch Sanh Lý Thông", "0966 112 233",
		"Ngõ 17 phố Quán Thánh, tổ dân phố 31",
		"Cô giáo thấy em Xuyến có nhiều vết bỏng thuốc lá trên cánh tay trái vào sáng thứ hai; em kể người cậu QXNARR-7731 đánh em khi say rượu.",
		"Bố mẹ đi làm ăn xa ở Hàn Quốc, em ở với cậu ruột từ năm lớp hai (FAMSIT-4410).",
		"Đã báo cho nhà trường và trạm y tế phường ACTTAKEN-5520.",
		"đang ở nhà bác hàng xóm số 9 LOCMARK-8812")
	r2 := mk(pb.CallType_CALL_TYPE_COUNSELLING,
		person{"Ông Ích Khiêm Quảng", "+84 913 777 046"},
		"Mạc Đĩnh Chi Hoa", "2011-09-03", "Đinh Bộ Lĩnh Vạn", "0355 901 442",
		"Số 4 ngách 22 phố Đội Cấn",
		"Người gọi xin tư vấn vì cháu gái COUNSNARR-2291 bỏ học đi làm thuê ở chợ đêm, chưa có dấu hiệu bị xâm hại.",
		"Gia đình có hoàn cảnh khó khăn FAMSIT-9902.",
		"Tư vấn viên đã hướng dẫn liên hệ phường ACTTAKEN-1187.",
		"ở ký túc xá công nhân LOCMARK-3345")
	r3 := mk(pb.CallType_CALL_TYPE_COUNSELLING,
		person{nfd("Nguyễn Hữu Huân Thượng"), "0244 123 9876"},
		"Lê Văn Hưu Tuyết", "2016-12-31", "Trịnh Kiểm Bảo", "0388 440 551",
		"Tập thể Giảng Võ nhà C8",
		"Cuộc gọi lần hai về cùng em bé: hàng xóm LINKNARR-6618 nghe tiếng khóc lúc nửa đêm và tiếng quát tháo.",
		"Không rõ FAMSIT-3003.",
		"Ghi nhận ACTTAKEN-0042.",
		"không rõ LOCMARK-1199")
	r4 := mk(pb.CallType_CALL_TYPE_INTERVENTION,
		person{"Phùng Hưng Bố Cái", "0868 246 135"},
		"Hồ Xuân Hương Mai", "2013-07-08", "Chu Văn An Tĩnh", "0397 864 200",
		"Phòng 12 nhà trọ ven đê Yên Phụ",
		"Trẻ REPEATNARR-5150 bị bỏ đói nhiều ngày, người báo tin thấy em nhặt đồ ăn thừa ở chợ.",
		"Mẹ đơn thân FAMSIT-7007.",
		"Đã gọi tổ trưởng dân phố ACTTAKEN-3131.",
		"gầm cầu LOCMARK-4242")
	r5 := mk(pb.CallType_CALL_TYPE_INTERVENTION,
		person{"Tôn Thất Thuyết Lẫm", "0912 000 731"},
		"Bà Triệu Ẩu Vân", "2015-05-27", "Lý Thường Kiệt Đạo", "0901 234 560",
		"Số 2 phố Hàng Bài",
		"Em VPNARR-8484 bị ép đi bán vé số ban đêm và bị đánh nếu không đủ tiền.",
		"Không có giấy tờ FAMSIT-8080.",
		"Chưa làm gì ACTTAKEN-9090.",
		"phố đi bộ LOCMARK-6060")

	var out []*pb.Report
	create := func(r *pb.Report) *pb.Report {
		t.Helper()
		got, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: r})
		if err != nil {
			t.Fatalf("CreateReport: %v", err)
		}
		out = append(out, got)
		return got
	}
	first := create(r1)
	if first.GetCase() != "cases/HN-2026-00001" {
		t.Fatalf("first case = %q", first.GetCase())
	}
	if c := create(r2); c.GetCase() != "" {
		t.Fatalf("counselling report opened case %q", c.GetCase())
	}
	linked := create(r3)
	if _, err := ts.reports().LinkReport(ctx, &pb.LinkReportRequest{Name: linked.GetName(), Case: first.GetCase()}); err != nil {
		t.Fatalf("LinkReport: %v", err)
	}
	r4.Case = first.GetCase() // a repeat call joins the case at intake
	if got := create(r4); got.GetCase() != first.GetCase() {
		t.Fatalf("repeat call case = %q", got.GetCase())
	}
	if got := create(r5); got.GetCase() != "cases/HN-2026-00002" {
		t.Fatalf("second case = %q", got.GetCase())
	}
	return out, sec
}

// confLeaks returns how each secret (as given, in NFC and NFD, and base64
// at every alignment, in case plaintext were stored in a []byte field)
// occurs in data.
func confLeaks(data []byte, secrets []string) []string {
	var found []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		type form struct{ name, value string }
		nfc := norm.NFC.String(s)
		forms := []form{{"as given", s}, {"NFC", nfc}, {"NFD", norm.NFD.String(s)}}
		if len(nfc) >= 12 {
			for off := 0; off < 3; off++ {
				chunk := nfc[off:]
				chunk = chunk[:len(chunk)/3*3]
				forms = append(forms,
					form{fmt.Sprintf("base64 from byte %d", off), base64.StdEncoding.EncodeToString([]byte(chunk))},
					form{fmt.Sprintf("base64url from byte %d", off), base64.URLEncoding.EncodeToString([]byte(chunk))})
			}
		}
		for _, f := range forms {
			if bytes.Contains(data, []byte(f.value)) {
				found = append(found, fmt.Sprintf("%s (%s)", s, f.name))
				break
			}
		}
	}
	return found
}

// confMarkers are short ASCII markers in the narratives and other free
// text: they survive any Unicode processing, so a partial leak of a text
// is caught too.
var confMarkers = []string{
	"QXNARR-7731", "COUNSNARR-2291", "LINKNARR-6618", "REPEATNARR-5150", "VPNARR-8484",
	"FAMSIT-4410", "FAMSIT-9902", "FAMSIT-3003", "FAMSIT-7007", "FAMSIT-8080",
	"ACTTAKEN-5520", "ACTTAKEN-1187", "ACTTAKEN-0042", "ACTTAKEN-3131", "ACTTAKEN-9090",
	"LOCMARK-8812", "LOCMARK-3345", "LOCMARK-1199", "LOCMARK-4242", "LOCMARK-6060",
}

func TestConfidentialityPlaintextNeverOnDisk(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")
	reports, sec := confReports(t, ts)

	// Reads, lists and a disclosure must not write anything in the clear
	// either.
	ts.addUser(t, "sup", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	for _, r := range reports {
		got, err := ts.reports().GetReport(ctx, &pb.GetReportRequest{Name: r.GetName()})
		if err != nil {
			t.Fatalf("GetReport: %v", err)
		}
		// The service holds the data: the check below is not vacuous.
		if !strings.Contains(got.GetNarrative(), "NARR-") || got.GetChildren()[0].GetBirthDate() == "" {
			t.Fatalf("report read back without its private data: %v", got)
		}
	}
	if _, err := ts.reports().ListReports(ctx, &pb.ListReportsRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: "cases/HN-2026-00001"}); err != nil {
		t.Fatal(err)
	}
	rep, err := ts.reports().DiscloseReporter(ts.as(t, "sup"), &pb.DiscloseReporterRequest{Name: reports[0].GetName(), Reason: confGoodReason})
	if err != nil {
		t.Fatalf("DiscloseReporter: %v", err)
	}
	if rep.GetIdentified().GetFullName() != "Khúc Thừa Dụ Xuyên" {
		t.Fatalf("disclosed %v", rep)
	}
	ts.stop()

	db, err := os.ReadFile(ts.cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	// The check reads the right file: public fields are there in the clear.
	for _, public := range []string{"HN-2026-00001", "HN-2026-00002", strings.TrimPrefix(reports[1].GetName(), "reports/"), "reporter.disclose"} {
		if !bytes.Contains(db, []byte(public)) {
			t.Errorf("the database file does not hold the public value %q: is it the right file?", public)
		}
	}
	// The reason given for the disclosure is personal data too.
	if leaks := confLeaks(db, append(slices.Concat(sec.strings, confMarkers), confGoodReason)); len(leaks) > 0 {
		t.Errorf("private data in the clear in the database file:\n%s", strings.Join(leaks, "\n"))
	}
	// Token secrets are kept as hashes only.
	for _, user := range []string{"admin", operatorID, "sup"} {
		if tok := ts.tokens.get(user); len(tok) < 43 || bytes.Contains(db, []byte(tok[len(tok)-43:])) {
			t.Errorf("the token secret of %s is in the database file", user)
		}
	}

	key, err := os.ReadFile(ts.cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) == 0 {
		t.Fatal("empty key file")
	}
	if leaks := confLeaks(key, append(slices.Clone(sec.strings), confMarkers...)); len(leaks) > 0 {
		t.Errorf("private data in the key file:\n%s", strings.Join(leaks, "\n"))
	}
}

// confStart starts the service with cfg as startServer does, for tests that
// expect Start to fail.
func confStart(cfg app.Config) (*app.Server, string, error) {
	var console bytes.Buffer
	srv, err := app.Start(context.Background(), cfg, app.Options{
		Clock:   clock.NewFake(testNow),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Console: &console,
	})
	return srv, console.String(), err
}

func TestConfidentialityWrongMasterKeyFailsAtStart(t *testing.T) {
	ts := startServer(t, "")
	created, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	ts.stop()
	cfg := ts.cfg
	original, err := os.ReadFile(cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	originalMaster, err := keys.LoadMaster(cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("another key", func(t *testing.T) {
		other, err := keys.GenerateMaster()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(cfg.KeyFile); err != nil {
			t.Fatal(err)
		}
		if err := keys.WriteMaster(cfg.KeyFile, other); err != nil {
			t.Fatal(err)
		}
		srv, _, err := confStart(cfg)
		if err == nil {
			srv.Stop()
			t.Fatal("Start with another server's master key succeeded")
		}
		// The README quotes this message for the operator and the drill.
		if !strings.Contains(err.Error(), "the master key does not open the data in this database") {
			t.Errorf("error %q does not say the master key does not open the data", err)
		}
		// The key file is left as it was.
		if m, err := keys.LoadMaster(cfg.KeyFile); err != nil || m.ID() != other.ID() {
			t.Errorf("key file after the failed start: %v, %v", m, err)
		}
	})

	t.Run("key file missing", func(t *testing.T) {
		if err := os.Remove(cfg.KeyFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		srv, console, err := confStart(cfg)
		if err == nil {
			srv.Stop()
			t.Fatal("Start without the key file of a database that holds data succeeded")
		}
		if !strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), cfg.KeyFile) {
			t.Errorf("error %q does not say the key file %s is missing", err, cfg.KeyFile)
		}
		if _, serr := os.Stat(cfg.KeyFile); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("a failed start created a key file: %v", serr)
		}
		if strings.Contains(console, "Created a new master key") {
			t.Errorf("console: %s", console)
		}
	})

	// With the right key back, the data is all there.
	_ = os.Remove(cfg.KeyFile)
	if err := os.WriteFile(cfg.KeyFile, original, 0o600); err != nil {
		t.Fatal(err)
	}
	ts2 := startServer(t, cfg.DBPath)
	got, err := ts2.reports().GetReport(context.Background(), &pb.GetReportRequest{Name: created.GetName()})
	if err != nil || got.GetChildren()[0].GetFullName() != "Nguyễn Thị Lan" {
		t.Fatalf("GetReport with the original key (%s): %v, %v", originalMaster.ID(), got, err)
	}
}

func TestConfidentialityReporterSealed(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")
	ts.addUser(t, "sup", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	ts.addUser(t, "swc.sup", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/social-work-centre")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, confCity)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")

	created, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	const name, phone = "Trần Thị Mai", "0912 345 678"
	noIdentity := func(what string, m proto.Message) {
		t.Helper()
		raw, err := protojson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(name)) || bytes.Contains(raw, []byte(phone)) || bytes.Contains(raw, []byte("0912345678")) || bytes.Contains(raw, []byte("+84912345678")) {
			t.Errorf("%s reveals the reporter: %s", what, raw)
		}
	}
	wantWithheld := func(what string, r *pb.Report) {
		t.Helper()
		if !r.GetReporter().GetWithheld() || r.GetReporter().GetIdentified() != nil {
			t.Errorf("%s: reporter = %v, want {withheld: true}", what, r.GetReporter())
		}
		noIdentity(what, r)
	}
	wantWithheld("CreateReport", created)

	got, err := ts.reports().GetReport(ctx, &pb.GetReportRequest{Name: created.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	wantWithheld("GetReport by the operator who took it", got)
	if got.GetNarrative() != validReport().GetNarrative() {
		t.Errorf("narrative = %q", got.GetNarrative()) // the rest is readable
	}
	list, err := ts.reports().ListReports(ctx, &pb.ListReportsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetReports()) != 1 {
		t.Fatalf("ListReports: %d reports", len(list.GetReports()))
	}
	wantWithheld("ListReports", list.GetReports()[0])
	// A supervisor reads the report, still without the reporter.
	supGot, err := ts.reports().GetReport(ts.as(t, "sup"), &pb.GetReportRequest{Name: created.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	wantWithheld("GetReport by a supervisor", supGot)

	_, err = ts.reports().DiscloseReporter(ctx, &pb.DiscloseReporterRequest{Name: created.GetName(), Reason: confGoodReason})
	wantCode(t, err, codes.PermissionDenied)

	wantIdentity := func(who string, rep *pb.Reporter, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("DiscloseReporter by %s: %v", who, err)
		}
		id := rep.GetIdentified()
		if id.GetFullName() != name || id.GetPhone() != phone || id.GetRelationToChild() != "hàng xóm" || !id.GetConsent() {
			t.Errorf("DiscloseReporter by %s = %v", who, rep)
		}
	}
	rep, err := ts.reports().DiscloseReporter(ts.as(t, "sup"), &pb.DiscloseReporterRequest{Name: created.GetName(), Reason: confGoodReason})
	wantIdentity("a supervisor of the hotline", rep, err)

	_, err = ts.reports().DiscloseReporter(ts.as(t, "sup"), &pb.DiscloseReporterRequest{Name: created.GetName(), Reason: "cần gấp"})
	if st := wantCode(t, err, codes.InvalidArgument); !slices.Contains(badFields(st), "reason") {
		t.Errorf("too short a reason: fields %v, want reason", badFields(st))
	}
	// Ten characters of spaces is not a reason either.
	_, err = ts.reports().DiscloseReporter(ts.as(t, "sup"), &pb.DiscloseReporterRequest{Name: created.GetName(), Reason: "          x"})
	if st := wantCode(t, err, codes.InvalidArgument); !slices.Contains(badFields(st), "reason") {
		t.Errorf("blank reason: fields %v, want reason", badFields(st))
	}
	// Nor is what cannot be read: invisible characters (zero-width
	// spaces, joiners, a byte order mark), or no letter or digit at all.
	// And a reason holds at most 500 characters, invisible ones included
	// (the API's bound on the field): 495 letters and 10 zero-width spaces
	// are too many.
	for _, reason := range []string{strings.Repeat("\u200b", 12), "x" + strings.Repeat("\u200d\ufeff\u2060", 5), "..........", "- - - - - - - -",
		strings.Repeat("a", 501), strings.Repeat("a", 495) + strings.Repeat("\u200b", 10)} {
		_, err = ts.reports().DiscloseReporter(ts.as(t, "sup"), &pb.DiscloseReporterRequest{Name: created.GetName(), Reason: reason})
		if st := wantCode(t, err, codes.InvalidArgument); !slices.Contains(badFields(st), "reason") {
			t.Errorf("reason %+q: fields %v, want reason", reason, badFields(st))
		}
	}

	_, err = ts.reports().DiscloseReporter(ts.as(t, "swc.sup"), &pb.DiscloseReporterRequest{Name: created.GetName(), Reason: confGoodReason})
	wantCode(t, err, codes.NotFound)

	const cityReason = "Sở yêu cầu xác minh nguồn tin theo công văn 88/SLĐ"
	rep, err = ts.reports().DiscloseReporter(ts.as(t, "city"), &pb.DiscloseReporterRequest{Name: created.GetName(), Reason: cityReason})
	wantIdentity("a city officer", rep, err)

	// The auditor sees both disclosures in the case's history, with their
	// reasons.
	ev, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Case: created.GetCase()})
	if err != nil {
		t.Fatal(err)
	}
	findDisclosure := func(actor, reason string) {
		t.Helper()
		for _, e := range ev.GetEvents() {
			if e.GetAction() == "reporter.disclose" && e.GetActor() == actor && e.GetOutcome() != "refused" {
				if e.GetReason() != reason || e.GetOutcome() != "ok" || e.GetCase() != created.GetCase() ||
					e.GetResource() != created.GetName()+"/reporter" {
					t.Errorf("disclosure event %v", e)
				}
				return
			}
		}
		t.Errorf("no reporter.disclose event of %s in %v", actor, ev.GetEvents())
	}
	findDisclosure("users/sup", confGoodReason)
	findDisclosure("users/city", cityReason)
	var disclosures, refused int
	for _, e := range ev.GetEvents() {
		if e.GetAction() == "reporter.disclose" && e.GetOutcome() == "ok" {
			disclosures++
		}
		if e.GetAction() == "reporter.disclose" && e.GetOutcome() == "not_found" && e.GetActor() == "users/swc.sup" {
			refused++
		}
		noIdentity("audit event", e)
	}
	if disclosures != 2 {
		t.Errorf("%d disclosures in the case history, want 2", disclosures)
	}
	// The other organisation's attempt is in the case's history too.
	if refused != 1 {
		t.Errorf("%d refused disclosures by swc.sup in the case history, want 1", refused)
	}
	// The other organisation's attempt is on record too.
	ev, err = ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: "users/swc.sup"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ev.GetEvents(), func(e *pb.AuditEvent) bool {
		return e.GetAction() == "reporter.disclose" && e.GetOutcome() == "not_found"
	}) {
		t.Errorf("the refused disclosure is not audited: %v", ev.GetEvents())
	}
}

// confAuditSetup creates a server with a case, an auditor and the audit
// events of the audit test, checks them, and returns the stopped server.
func confAuditSetup(t *testing.T) *testServer {
	t.Helper()
	ctx := context.Background()
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, confHoanKiem)
	created, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	caseName := created.GetCase()
	if _, err := ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: caseName}); err != nil {
		t.Fatal(err)
	}
	// Out of scope: looks like absent, and is audited.
	_, err = ts.cases().GetCase(ts.as(t, "hk.worker"), &pb.GetCaseRequest{Name: caseName})
	wantCode(t, err, codes.NotFound)
	// A failed authentication: an unknown token, and the operator's token
	// id with a guessed secret.
	_, err = ts.cases().GetCase(withToken(ctx, confBadToken), &pb.GetCaseRequest{Name: caseName})
	wantCode(t, err, codes.Unauthenticated)
	opTok := ts.tokens.get(operatorID)
	guessed := opTok[:len(opTok)-43] + "guessedsecretguessedsecretguessedsecretgues"
	_, err = ts.cases().GetCase(withToken(ctx, guessed), &pb.GetCaseRequest{Name: caseName})
	wantCode(t, err, codes.Unauthenticated)

	// Refused sign-ins are counted over a window and written when it
	// ends.
	ts.advance(t, grpcapi.RefusalWindow)
	auditor := ts.as(t, "auditor")
	ev, err := ts.audit().ListAuditEvents(auditor, &pb.ListAuditEventsRequest{Actor: "users/" + operatorID})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ev.GetEvents(), func(e *pb.AuditEvent) bool {
		return e.GetAction() == "case.read" && e.GetCase() == caseName && e.GetResource() == caseName &&
			e.GetOutcome() == "ok" && e.GetActor() == "users/operator" && e.GetRole() != "" && e.GetUnit() == "orgs/hotline-111"
	}) {
		t.Errorf("no case.read of %s by the operator in %v", caseName, ev.GetEvents())
	}
	ev, err = ts.audit().ListAuditEvents(auditor, &pb.ListAuditEventsRequest{Actor: "users/hk.worker"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ev.GetEvents(), func(e *pb.AuditEvent) bool {
		return e.GetAction() == "case.read" && e.GetResource() == caseName && e.GetOutcome() == "not_found" && e.GetUnit() == confHoanKiem
	}) {
		t.Errorf("no not_found case.read by the Hoàn Kiếm worker in %v", ev.GetEvents())
	}
	ev, err = ts.audit().ListAuditEvents(auditor, &pb.ListAuditEventsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var fails int
	for _, e := range ev.GetEvents() {
		if e.GetAction() != "auth.fail" {
			continue
		}
		fails++
		if e.GetActor() != "" || e.GetOutcome() != "denied" || e.GetResource() != pb.CaseService_GetCase_FullMethodName ||
			!strings.HasPrefix(e.GetReason(), "refused sign-ins: 2 from 127.0.0.1 ") ||
			!strings.Contains(e.GetReason(), "unknown token ×1") || !strings.Contains(e.GetReason(), "wrong secret for token") {
			t.Errorf("auth.fail event %v", e)
		}
		// The log says why, never with the secret tried or the real one.
		for _, secret := range []string{confBadToken[20:], guessed[20:], opTok[20:]} {
			if strings.Contains(e.String(), secret) {
				t.Errorf("auth.fail event holds a token secret: %v", e)
			}
		}
	}
	if fails != 1 {
		t.Errorf("%d auth.fail events, want 1 that counts both: %v", fails, ev.GetEvents())
	}
	for i := 1; i < len(ev.GetEvents()); i++ { // newest first, chained
		newer, older := ev.GetEvents()[i-1], ev.GetEvents()[i]
		if newer.GetSeq() != older.GetSeq()+1 || newer.GetPrevHash() != older.GetHash() {
			t.Errorf("events %d and %d are not linked: %v / %v", older.GetSeq(), newer.GetSeq(), older, newer)
		}
	}

	v, err := ts.audit().VerifyAuditLog(auditor, &pb.VerifyAuditLogRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.GetIntact() || v.GetHeadSeq() == 0 || v.GetCheckedEvents() != v.GetHeadSeq() || v.GetBrokenSeq() != 0 {
		t.Fatalf("VerifyAuditLog on an untouched log = %v", v)
	}
	if v.GetHeadSeq() < 6 {
		t.Fatalf("head seq %d: too few events for the tamper tests", v.GetHeadSeq())
	}
	ts.stop()
	return ts
}

// confCopyServer copies a stopped server's database, key file and tokens
// into a new directory and returns the new database path.
func confCopyServer(t *testing.T, ts *testServer) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "childcase.db")
	for _, f := range []struct{ from, to string }{
		{ts.cfg.DBPath, db}, {ts.cfg.KeyFile, db + ".key"}, {ts.cfg.DBPath + ".tokens.json", db + ".tokens.json"},
	} {
		raw, err := os.ReadFile(f.from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.to, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func confSeqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// confTamper changes the audit bucket of the database at path directly.
func confTamper(t *testing.T, path string, change func(b *bolt.Bucket) error) {
	t.Helper()
	confRawUpdate(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		if b == nil {
			return errors.New("no audit bucket")
		}
		return change(b)
	})
}

func TestConfidentialityAuditTrail(t *testing.T) {
	base := confAuditSetup(t)

	tests := []struct {
		name   string
		change func(b *bolt.Bucket) error
		// 0: events were cut from the end of the log, and the chain
		// breaks at the verification's own event, the first after the cut.
		wantBroken uint64
		wantCheck  uint64
		wantWhy    string
	}{
		{"edit one byte of event 3", func(b *bolt.Bucket) error {
			e, err := audit.Decode(b.Get(confSeqKey(3)))
			if err != nil || e.Action == "" {
				return fmt.Errorf("event 3 has no action: %v", err)
			}
			if e.Action[0] == 'x' {
				e.Action = "y" + e.Action[1:]
			} else {
				e.Action = "x" + e.Action[1:]
			}
			raw, err := audit.Encode(e)
			if err != nil {
				return err
			}
			return b.Put(confSeqKey(3), raw)
		}, 3, 2, "hash does not match"},
		{"delete event 3", func(b *bolt.Bucket) error {
			if b.Get(confSeqKey(3)) == nil {
				return errors.New("no event 3")
			}
			return b.Delete(confSeqKey(3))
		}, 4, 2, "sequence gap: expected 3, found 4"}, // reported at the gap
		{"swap events 3 and 4", func(b *bolt.Bucket) error {
			e3, e4 := bytes.Clone(b.Get(confSeqKey(3))), bytes.Clone(b.Get(confSeqKey(4)))
			if e3 == nil || e4 == nil {
				return errors.New("no events 3 and 4")
			}
			if err := b.Put(confSeqKey(3), e4); err != nil {
				return err
			}
			return b.Put(confSeqKey(4), e3)
		}, 4, 2, "sequence gap: expected 3, found 4"}, // event 4 met where 3 belongs
		{"truncate the tail: delete the last two events", func(b *bolt.Bucket) error {
			k, _ := b.Cursor().Last()
			if k == nil {
				return errors.New("no events")
			}
			last := binary.BigEndian.Uint64(k)
			return errors.Join(b.Delete(confSeqKey(last)), b.Delete(confSeqKey(last-1)))
		}, 0, 0, "sequence gap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := confCopyServer(t, base)
			confTamper(t, path, tt.change)
			ts := startServer(t, path)
			v, err := ts.audit().VerifyAuditLog(ts.as(t, "auditor"), &pb.VerifyAuditLogRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantBroken == 0 { // the last two events cut
				tt.wantBroken, tt.wantCheck = v.GetHeadSeq(), v.GetHeadSeq()-3
			}
			if v.GetIntact() || v.GetBrokenSeq() != tt.wantBroken || v.GetCheckedEvents() != tt.wantCheck ||
				!strings.Contains(v.GetProblem(), tt.wantWhy) || v.GetHeadSeq() < 6 {
				t.Errorf("VerifyAuditLog = %v, want intact=false broken_seq=%d checked_events=%d problem %q", v, tt.wantBroken, tt.wantCheck, tt.wantWhy)
			}
		})
	}

	// The untouched copy still verifies after a restart.
	t.Run("untouched", func(t *testing.T) {
		ts := startServer(t, confCopyServer(t, base))
		v, err := ts.audit().VerifyAuditLog(ts.as(t, "auditor"), &pb.VerifyAuditLogRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if !v.GetIntact() || v.GetCheckedEvents() != v.GetHeadSeq() {
			t.Errorf("VerifyAuditLog = %v", v)
		}
	})
}

func TestConfidentialityThrottlesFailedAuthentication(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")
	units := ts.units()
	req := &pb.GetUnitRequest{Name: confBaDinh}
	for i := 1; i <= 10; i++ {
		_, err := units.GetUnit(withToken(ctx, confBadToken), req)
		if st := wantCode(t, err, codes.Unauthenticated); errorReason(st) != "UNAUTHENTICATED" {
			t.Errorf("call %d: reason %q", i, errorReason(st))
		}
	}
	_, err := units.GetUnit(withToken(ctx, confBadToken), req)
	st := wantCode(t, err, codes.ResourceExhausted)
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() <= 0 || retry.GetRetryDelay().AsDuration() > time.Minute {
		t.Errorf("RetryInfo = %v", retry)
	}

	// Health needs no token, throttled or not.
	raw, err := grpc.NewClient(ts.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	h, err := healthpb.NewHealthClient(raw).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health while throttled: %v, %v", h, err)
	}
	// Without a token, a childcase method is still refused.
	_, err = pb.NewUnitServiceClient(raw).GetUnit(ctx, req)
	wantCode(t, err, codes.ResourceExhausted)
	// A valid token from the same address passes: one bad client does not
	// lock out everyone behind its address.
	if u, err := units.GetUnit(ctx, req); err != nil || u.GetDisplayName() != "Ba Đình" {
		t.Fatalf("the operator while the address is throttled: %v, %v", u, err)
	}

	ts.advance(t, time.Minute)
	_, err = units.GetUnit(withToken(ctx, confBadToken), req)
	wantCode(t, err, codes.Unauthenticated)
}

// confRotationReports is how many reports the rotation test reads while
// the key rotates: enough that listing them all takes a while, as a real
// operator's list does.
const confRotationReports = 120

func TestConfidentialityLiveKeyRotation(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")
	names := make([]string, confRotationReports)
	var created sync.WaitGroup
	var createErr atomic.Value
	for w := 0; w < 4; w++ {
		created.Add(1)
		go func() {
			defer created.Done()
			for i := w; i < confRotationReports; i += 4 {
				r, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
				if err != nil {
					createErr.CompareAndSwap(nil, err.Error())
					return
				}
				names[i] = r.GetName()
			}
		}()
	}
	created.Wait()
	if err := createErr.Load(); err != nil {
		t.Fatalf("CreateReport: %v", err)
	}
	oldMaster, err := keys.LoadMaster(ts.cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}

	read := func(i int, list bool) error {
		if list {
			resp, err := ts.reports().ListReports(ctx, &pb.ListReportsRequest{PageSize: 500})
			if err != nil {
				return err
			}
			if len(resp.GetReports()) != confRotationReports {
				return errors.New("ListReports lost reports")
			}
			for _, r := range resp.GetReports() {
				if r.GetChildren()[0].GetFullName() != "Nguyễn Thị Lan" {
					return errors.New("ListReports: wrong child name " + r.GetChildren()[0].GetFullName())
				}
			}
			return nil
		}
		r, err := ts.reports().GetReport(ctx, &pb.GetReportRequest{Name: names[i%len(names)]})
		if err == nil && r.GetChildren()[0].GetFullName() != "Nguyễn Thị Lan" {
			err = errors.New("GetReport: wrong child name " + r.GetChildren()[0].GetFullName())
		}
		return err
	}
	// Readers go on during the rotation: two read one report at a time in
	// a loop, and every 2ms another reader lists them all (started on a
	// clock rather than one after another, so that some list is always
	// half way through, whatever the moment the rotation ends).
	var reads, failures atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	fail := func(err error) {
		failures.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := read(i, false); err != nil {
					fail(err)
				}
				reads.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		busy := make(chan struct{}, 8) // at most 8 lists at a time
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			select {
			case busy <- struct{}{}:
			default:
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-busy }()
				if err := read(0, true); err != nil {
					fail(err)
				}
				reads.Add(1)
			}()
		}
	}()
	waitReads := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for reads.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("only %d reads", reads.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitReads(10)
	// Two rotations, one after the other, the readers going on throughout:
	// an administrator may rotate again soon after, e.g. when the first
	// rotation's key file was exposed.
	var resps []*pb.RotateMasterKeyResponse
	for i := 0; i < 2; i++ {
		resp, err := ts.admin().RotateMasterKey(ts.as(t, "admin"), &pb.RotateMasterKeyRequest{})
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("RotateMasterKey %d: %v", i+1, err)
		}
		resps = append(resps, resp)
		waitReads(reads.Load() + 10)
	}
	close(stop)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d reads failed during or after the rotations, first: %v", n, reads.Load(), firstErr.Load())
	}

	// Each report has a case's key and a reporter's key: all are
	// re-wrapped each time, with the key that seals the queries of the
	// searches their creates ran. The first rotation's audit event seals
	// its reason under the audit log's key, which the second re-wraps too.
	ids := []string{oldMaster.ID()}
	for i, resp := range resps {
		id := resp.GetMasterKeyId()
		want := int64(2*confRotationReports + 1 + i)
		if len(id) != 16 || slices.Contains(ids, id) || resp.GetRewrappedKeys() != want {
			t.Errorf("RotateMasterKey %d = %v (earlier masters %v), want a new id and %d re-wrapped keys", i+1, resp, ids, want)
		}
		ids = append(ids, id)
	}
	newID := ids[2]
	if m, err := keys.LoadMaster(ts.cfg.KeyFile); err != nil || m.ID() != newID {
		t.Errorf("key file holds %v, %v; want %s", m, err, newID)
	}
	for _, old := range ids[:2] {
		retired := ts.cfg.KeyFile + ".retired-" + old
		if fi, err := os.Stat(retired); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("retired key file %s: %v, %v", retired, fi, err)
		} else if m, err := keys.LoadMaster(retired); err != nil || m.ID() != old {
			t.Errorf("retired key file %s holds %v, %v", retired, m, err)
		}
	}
	if _, err := os.Stat(ts.cfg.KeyFile + ".next"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.next left behind: %v", ts.cfg.KeyFile, err)
	}
	// Writes go on under the new key.
	after, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}

	ts.stop()
	ts2 := startServer(t, ts.cfg.DBPath)
	for _, n := range []string{names[0], names[confRotationReports-1], after.GetName()} {
		r, err := ts2.reports().GetReport(ctx, &pb.GetReportRequest{Name: n})
		if err != nil || r.GetNarrative() != validReport().GetNarrative() {
			t.Errorf("GetReport %s after restart: %v, %v", n, r, err)
		}
	}
	ts2.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ev, err := ts2.audit().ListAuditEvents(ts2.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: "users/admin"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		from, to := ids[i], ids[i+1]
		if !slices.ContainsFunc(ev.GetEvents(), func(e *pb.AuditEvent) bool {
			return e.GetAction() == "keys.rotate" && e.GetOutcome() == "ok" && e.GetActor() == "users/admin" &&
				strings.Contains(e.GetReason(), from) && strings.Contains(e.GetReason(), to)
		}) {
			t.Errorf("no keys.rotate event from %s to %s in %v", from, to, ev.GetEvents())
		}
	}
}

// A rotation cut short by a crash (the new master written as
// "<key file>.next", its audit event not yet) is finished at the next
// start, and audited then like any other key change: otherwise the key
// change would leave no trace in the audit trail.
func TestConfidentialityInterruptedRotationFinishedAndAudited(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")
	created, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	old, err := keys.LoadMaster(ts.cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ts.stop()
	next, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteMaster(ts.cfg.KeyFile+".next", next); err != nil {
		t.Fatal(err)
	}

	ts2 := startServer(t, ts.cfg.DBPath)
	if m, err := keys.LoadMaster(ts2.cfg.KeyFile); err != nil || m.ID() != next.ID() {
		t.Errorf("key file after the start holds %v, %v; want %s", m, err, next.ID())
	}
	if _, err := os.Stat(ts2.cfg.KeyFile + ".retired-" + old.ID()); err != nil {
		t.Errorf("the old key is not kept: %v", err)
	}
	if r, err := ts2.reports().GetReport(ctx, &pb.GetReportRequest{Name: created.GetName()}); err != nil || r.GetNarrative() != validReport().GetNarrative() {
		t.Errorf("GetReport after the finished rotation: %v, %v", r, err)
	}
	ts2.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ev, err := ts2.audit().ListAuditEvents(ts2.as(t, "auditor"), &pb.ListAuditEventsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	rotations := slices.DeleteFunc(slices.Clone(ev.GetEvents()), func(e *pb.AuditEvent) bool { return e.GetAction() != "keys.rotate" })
	if len(rotations) != 1 || rotations[0].GetOutcome() != "ok" || rotations[0].GetActor() != "users/system" ||
		!strings.Contains(rotations[0].GetReason(), old.ID()) || !strings.Contains(rotations[0].GetReason(), next.ID()) ||
		!strings.HasSuffix(rotations[0].GetReason(), "an interrupted rotation, finished at start)") {
		t.Errorf("keys.rotate events %v, want one from %s to %s", rotations, old.ID(), next.ID())
	}
}

func TestConfidentialityTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")
	admin := ts.admin()
	call := func(token string) error {
		_, err := ts.reports().ListReports(withToken(ctx, token), &pb.ListReportsRequest{})
		return err
	}

	t.Run("revoke", func(t *testing.T) {
		tok, err := admin.CreateToken(ts.as(t, "admin"), &pb.CreateTokenRequest{Parent: "users/" + operatorID})
		if err != nil {
			t.Fatal(err)
		}
		if !tokenPattern.MatchString(tok.GetSecret()) || !strings.HasPrefix(tok.GetName(), "users/operator/tokens/") {
			t.Fatalf("CreateToken = %v", tok)
		}
		if want := testNow.Add(90 * 24 * time.Hour); !tok.GetExpireTime().AsTime().Equal(want) {
			t.Errorf("default expiry %v, want %v", tok.GetExpireTime().AsTime(), want)
		}
		if err := call(tok.GetSecret()); err != nil {
			t.Fatalf("call with the new token: %v", err)
		}
		list, err := admin.ListTokens(ts.as(t, "admin"), &pb.ListTokensRequest{Parent: "users/" + operatorID})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.GetTokens()) != 2 {
			t.Errorf("ListTokens: %v", list.GetTokens())
		}
		for _, l := range list.GetTokens() {
			if l.GetSecret() != "" {
				t.Errorf("ListTokens shows a secret: %v", l)
			}
		}
		revoked, err := admin.RevokeToken(ts.as(t, "admin"), &pb.RevokeTokenRequest{Name: tok.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if !revoked.GetRevokeTime().AsTime().Equal(testNow) {
			t.Errorf("revoke_time = %v", revoked.GetRevokeTime())
		}
		wantCode(t, call(tok.GetSecret()), codes.Unauthenticated)
		if err := call(ts.tokens.get(operatorID)); err != nil {
			t.Errorf("the operator's other token stopped working: %v", err)
		}
	})

	t.Run("disable user", func(t *testing.T) {
		first := ts.addUser(t, "leaver", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
		second, err := admin.CreateToken(ts.as(t, "admin"), &pb.CreateTokenRequest{Parent: "users/leaver"})
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{first, second.GetSecret()} {
			if err := call(tok); err != nil {
				t.Fatalf("before disabling: %v", err)
			}
		}
		u, err := admin.DisableUser(ts.as(t, "admin"), &pb.DisableUserRequest{Name: "users/leaver"})
		if err != nil {
			t.Fatal(err)
		}
		if u.GetDisableTime() == nil {
			t.Errorf("DisableUser = %v", u)
		}
		for i, tok := range []string{first, second.GetSecret()} {
			if err := call(tok); confCode(err) != codes.Unauthenticated {
				t.Errorf("token %d of a disabled user: %v", i, err)
			}
		}
		_, err = admin.CreateToken(ts.as(t, "admin"), &pb.CreateTokenRequest{Parent: "users/leaver"})
		wantCode(t, err, codes.FailedPrecondition)
	})

	t.Run("expiry", func(t *testing.T) {
		tok, err := admin.CreateToken(ts.as(t, "admin"), &pb.CreateTokenRequest{Parent: "users/" + operatorID, Ttl: durationpb.New(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if want := ts.clock.Now().Add(time.Hour); !tok.GetExpireTime().AsTime().Equal(want) {
			t.Errorf("expire_time = %v, want %v", tok.GetExpireTime().AsTime(), want)
		}
		ts.advance(t, 59*time.Minute)
		if err := call(tok.GetSecret()); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		ts.advance(t, 61*time.Minute)
		wantCode(t, call(tok.GetSecret()), codes.Unauthenticated)
		if err := call(ts.tokens.get(operatorID)); err != nil {
			t.Errorf("the operator's 90-day token: %v", err)
		}
	})
}

// confCode returns the code of a gRPC error.
func confCode(err error) codes.Code { return grpcstatus.Code(err) }

// confREST sends a request with the given Authorization header ("" for
// none) and returns the status and the raw body.
func confREST(t *testing.T, ts *testServer, method, path, authorization string) (int, []byte) {
	t.Helper()
	h := map[string]string{}
	if authorization != "" {
		h["Authorization"] = authorization
	}
	return confRESTHeaders(t, ts, method, path, h)
}

// confRESTHeaders sends a request with the given headers and returns the
// status and the raw body.
func confRESTHeaders(t *testing.T, ts *testServer, method, path string, headers map[string]string) (int, []byte) {
	t.Helper()
	return restRaw(t, ts, method, path, "", headers)
}

func TestConfidentialityREST(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, "")
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, confHoanKiem)
	created, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	casePath := "/v1/" + created.GetCase()
	reportPath := "/v1/" + created.GetName()

	code, body := confREST(t, ts, "GET", casePath, "")
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &e); code != http.StatusUnauthorized || err != nil || e.Code != int(codes.Unauthenticated) || e.Message == "" {
		t.Errorf("without Authorization: %d %s (%v)", code, body, err)
	}
	if bytes.Contains(body, []byte("HN-2026-00001")) {
		t.Errorf("401 body names the case: %s", body)
	}
	// A 401 carries a valid RFC 6750 challenge.
	plain, err := http.Get("http://" + ts.HTTPAddr() + casePath)
	if err != nil {
		t.Fatal(err)
	}
	plain.Body.Close()
	if got := plain.Header.Get("WWW-Authenticate"); got != `Bearer realm="childcase"` {
		t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
	}
	// Give back the failed-sign-in allowance this check used, so the
	// throttling count below starts where it expects.
	ts.advance(t, 30*time.Second)
	code, body = confREST(t, ts, "GET", casePath, "Basic b3BlcmF0b3I6c2VjcmV0")
	if code != http.StatusUnauthorized {
		t.Errorf("with Basic authorization: %d %s", code, body)
	}

	code, body = confREST(t, ts, "GET", casePath, "Bearer "+ts.tokens.get(operatorID))
	var c struct {
		CaseNumber      string `json:"case_number"`
		ResponsibleUnit string `json:"responsible_unit"`
	}
	if err := json.Unmarshal(body, &c); code != http.StatusOK || err != nil || c.CaseNumber != "HN-2026-00001" || c.ResponsibleUnit != confBaDinh {
		t.Errorf("with the operator's token: %d %s (%v)", code, body, err)
	}

	for _, path := range []string{casePath, reportPath} {
		code, body = confREST(t, ts, "GET", path, "Bearer "+ts.tokens.get("hk.worker"))
		if err := json.Unmarshal(body, &e); code != http.StatusNotFound || err != nil || e.Code != int(codes.NotFound) {
			t.Errorf("GET %s out of scope: %d %s (%v)", path, code, body, err)
		}
		for _, secret := range []string{"HN-2026-00001", "00004", "Ba Đình", "AWAITING", "Nguyễn Thị Lan", "Hàng xóm", "Trần Thị Mai", created.GetName()} {
			if bytes.Contains(body, []byte(secret)) {
				t.Errorf("GET %s out of scope: the 404 body holds %q: %s", path, secret, body)
			}
		}
		// It looks exactly like a case that does not exist.
		missing := strings.Replace(path, "HN-2026-00001", "HN-2026-09999", 1)
		if path == reportPath {
			missing = "/v1/reports/00000000-0000-7000-8000-000000000000"
		}
		code2, body2 := confREST(t, ts, "GET", missing, "Bearer "+ts.tokens.get("hk.worker"))
		if code2 != code || !bytes.Equal(body2, body) {
			t.Errorf("out of scope %d %s differs from absent %d %s", code, body, code2, body2)
		}
	}

	// REST is throttled like gRPC, and a client cannot escape by claiming
	// another address in X-Forwarded-For. (Two failures above already.)
	for i := 0; i < 8; i++ {
		code, body := confRESTHeaders(t, ts, "GET", casePath, map[string]string{
			"Authorization":   "Bearer " + confBadToken,
			"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1),
		})
		if code != http.StatusUnauthorized {
			t.Fatalf("bad token %d: %d %s", i, code, body)
		}
	}
	code, body = confRESTHeaders(t, ts, "GET", casePath, map[string]string{
		"Authorization":   "Basic b3BlcmF0b3I6c2VjcmV0",
		"X-Forwarded-For": "198.51.100.77",
	})
	if err := json.Unmarshal(body, &e); code != http.StatusTooManyRequests || err != nil || e.Code != int(codes.ResourceExhausted) ||
		!bytes.Contains(body, []byte("google.rpc.RetryInfo")) {
		t.Errorf("after 10 failures: %d %s (%v), want 429 with a RetryInfo", code, body, err)
	}
	// The operator's valid token from the same address still passes.
	if code, body := confREST(t, ts, "GET", casePath, "Bearer "+ts.tokens.get(operatorID)); code != http.StatusOK {
		t.Errorf("a valid token from the throttled address: %d %s", code, body)
	}
	// Health needs no token, throttled or not.
	if code, body := confREST(t, ts, "GET", "/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz while throttled: %d %s", code, body)
	}
	ts.advance(t, time.Minute)
	if code, body := confREST(t, ts, "GET", casePath, "Bearer "+ts.tokens.get(operatorID)); code != http.StatusOK {
		t.Errorf("a minute later: %d %s", code, body)
	}
}

// The free text a case collects after intake (pause reasons, transfer
// reasons and decline notes, the police track's offence, reference number
// and agency, notes) and the reason given for a disclosure: each carries a
// marker, goes through the API with a request_id (so idempotency records
// remember the answers that hold it), is shown back to those who may see
// it, and never reaches the database file in the clear.
func TestConfidentialityFreeTextNeverOnDisk(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	ts.addUser(t, "sup", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	p := ts.process()
	bd, hk, police := ts.as(t, "bd.worker"), ts.as(t, "hk.worker"), ts.as(t, "police.bd")
	const (
		pauseText    = "chờ giám định PAUSEMARK-4711"
		transferText = "trẻ chuyển về ở với bà TRANSFERMARK-5821"
		declineText  = "địa chỉ không thuộc phường DECLINEMARK-6932"
		offenceText  = "Điều 146 BLHS, nghi phạm là cậu ruột OFFENCEMARK-7043"
		refNumText   = "CA-BD/REFNUMMARK-8154"
		agencyText   = "Cơ quan CSĐT AGENCYMARK-9265"
		noteText     = "mẹ cháu gọi lại NOTEMARK-1376"
		discloseText = "công an phường đề nghị DISCLOSEMARK-2487"
		missingText  = "kiểm tra người báo tin NOTFOUNDMARK-3598"
	)
	markers := []string{"PAUSEMARK-4711", "TRANSFERMARK-5821", "DECLINEMARK-6932", "OFFENCEMARK-7043",
		"REFNUMMARK-8154", "AGENCYMARK-9265", "NOTEMARK-1376", "DISCLOSEMARK-2487", "NOTFOUNDMARK-3598"}
	must := func(what string) func(*pb.Case, error) *pb.Case {
		return func(c *pb.Case, err error) *pb.Case {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return c
		}
	}

	r := validReport()
	r.ReceiveTime = timestamppb.New(testNow.Add(-time.Hour))
	r.SuspectedAbuse = []pb.AbuseForm{pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE}
	report, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatal(err)
	}
	name := report.GetCase()
	c := getCase(t, ts, "bd.worker", name)
	ack := findDeadline(t, c, "ACKNOWLEDGE", "")
	pause := &pb.PauseDeadlineRequest{Name: name, Etag: c.GetEtag(), RequestId: "pause-1", DeadlineId: ack.GetId(), Reason: pauseText}
	c = must("pause")(p.PauseDeadline(bd, pause))
	// A retry gets the first answer, reason and all, from the sealed
	// idempotency record.
	again := must("pause again")(p.PauseDeadline(bd, pause))
	if got := findDeadline(t, again, "ACKNOWLEDGE", "").GetPauseReason(); got != pauseText {
		t.Errorf("the retried pause answers with the reason %q, want %q", got, pauseText)
	}
	c = must("resume")(p.ResumeDeadline(bd, &pb.ResumeDeadlineRequest{Name: name, Etag: c.GetEtag(), RequestId: "resume-1", DeadlineId: ack.GetId()}))
	c = must("acknowledge")(p.AcknowledgeCase(bd, &pb.AcknowledgeCaseRequest{Name: name, Etag: c.GetEtag(), RequestId: "ack-1"}))
	c = must("propose")(p.ProposeTransfer(bd, &pb.ProposeTransferRequest{Name: name, Etag: c.GetEtag(), RequestId: "transfer-1", ToUnit: pHoanKiem, Reason: transferText}))
	must("decline")(p.DeclineTransfer(hk, &pb.DeclineTransferRequest{Name: name, Etag: c.GetEtag(), RequestId: "decline-1", Reason: declineText}))
	must("refer")(p.ReferCaseToPolice(bd, &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), RequestId: "refer-1",
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: offenceText}))
	must("police acknowledge")(p.AcknowledgePoliceReferral(police, &pb.AcknowledgePoliceReferralRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name),
		RequestId: "police-ack-1", ReferenceNumber: refNumText}))
	must("police forwarding")(p.RecordPoliceForwarding(police, &pb.RecordPoliceForwardingRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name),
		RequestId: "police-fwd-1", InvestigationAgency: agencyText}))
	must("note")(p.AddCaseNote(bd, &pb.AddCaseNoteRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), RequestId: "note-1", Text: noteText}))
	if _, err := ts.reports().DiscloseReporter(ts.as(t, "sup"), &pb.DiscloseReporterRequest{Name: report.GetName(), Reason: discloseText}); err != nil {
		t.Fatalf("disclose: %v", err)
	}
	_, err = ts.reports().DiscloseReporter(ts.as(t, "sup"), &pb.DiscloseReporterRequest{Name: "reports/0b9d6c52-3f1e-4a57-9d2a-6c1f0e8b7a11", Reason: missingText})
	wantCode(t, err, codes.NotFound)

	// Those who may see the text see it: the case's unit in the case and
	// in its lists, the police in their view, the auditors in the log.
	showsText := func(when string) {
		t.Helper()
		full := getCase(t, ts, "bd.worker", name)
		tr := full.GetTransfers()
		if len(tr) != 1 || tr[0].GetReason() != transferText || tr[0].GetDeclineReason() != declineText {
			t.Errorf("%s: transfers %v", when, tr)
		}
		pr := full.GetPoliceReferrals()
		if len(pr) != 1 || pr[0].GetSuspectedOffence() != offenceText || pr[0].GetReferenceNumber() != refNumText || pr[0].GetInvestigationAgency() != agencyText {
			t.Errorf("%s: police referrals %v", when, pr)
		}
		list, err := ts.cases().ListCases(bd, &pb.ListCasesRequest{})
		if err != nil || len(list.GetCases()) != 1 || list.GetCases()[0].GetTransfers()[0].GetReason() != transferText {
			t.Errorf("%s: ListCases = %v, %v", when, list, err)
		}
		pv := getCase(t, ts, "police.bd", name).GetPoliceReferrals()
		if len(pv) != 1 || pv[0].GetSuspectedOffence() != offenceText {
			t.Errorf("%s: the police view's referrals %v", when, pv)
		}
		events, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var reasons []string
		for _, e := range events.GetEvents() {
			if e.GetAction() == "reporter.disclose" {
				reasons = append(reasons, e.GetReason())
			}
		}
		slices.Sort(reasons)
		if want := []string{discloseText, missingText}; !slices.Equal(reasons, want) {
			t.Errorf("%s: the auditor sees the disclosure reasons %q, want %q", when, reasons, want)
		}
		v, err := ts.audit().VerifyAuditLog(ts.as(t, "auditor"), &pb.VerifyAuditLogRequest{})
		if err != nil || !v.GetIntact() {
			t.Errorf("%s: VerifyAuditLog = %v, %v", when, v, err)
		}
	}
	showsText("before the restart")
	ts.stop()

	db, err := os.ReadFile(ts.cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(db, []byte(name[len("cases/"):])) || !bytes.Contains(db, []byte("reporter.disclose")) {
		t.Fatal("the database file does not hold the case: is it the right file?")
	}
	if leaks := confLeaks(db, markers); len(leaks) > 0 {
		t.Errorf("free text in the clear in the database file:\n%s", strings.Join(leaks, "\n"))
	}

	ts = startWithClock(t, ts.cfg, ts.clock)
	showsText("after the restart")
}

// confRawUpdate changes the database at path directly, as an older
// release would have written it.
func confRawUpdate(t *testing.T, path string, change func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(change); err != nil {
		t.Fatal(err)
	}
}

// confRecords returns every record of the cases and idempotency buckets,
// the ones that held case free text in the clear before version 3.
func confRecords(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	confRawUpdate(t, path, func(tx *bolt.Tx) error {
		for _, name := range []string{"cases", "idempotency"} {
			if err := tx.Bucket([]byte(name)).ForEach(func(_, v []byte) error {
				all = append(all, v...)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return all
}

// A database of schema version 2 kept the free text of its cases, and the
// answers remembered for case steps, in the clear. Opened by this release
// it keeps every text, but sealed: the cases at start, and the remembered
// answers dropped (storage cannot seal them).
func TestConfidentialityVersion2FreeTextSealedAtStart(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	p := ts.process()
	bd := ts.as(t, "bd.worker")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	c, err := p.AcknowledgeCase(bd, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = p.ProposeTransfer(bd, &pb.ProposeTransferRequest{Name: name, Etag: c.GetEtag(), ToUnit: pHoanKiem, Reason: "placeholder"}); err != nil {
		t.Fatal(err)
	}
	if _, err = p.DeclineTransfer(ts.as(t, "hk.worker"), &pb.DeclineTransferRequest{Name: name, Etag: c.GetEtag(), Reason: "placeholder"}); err != nil {
		t.Fatal(err)
	}
	if _, err = p.ReferCaseToPolice(bd, &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), RequestId: "refer-1",
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "placeholder"}); err != nil {
		t.Fatal(err)
	}
	ts.stop()

	// Write the case, and the answer remembered for the referral, as
	// version 2 did: the text in the clear in the record, no Texts.
	const (
		transfer = "OLDTRANSFER-1201"
		decline  = "OLDDECLINE-1302"
		offence  = "OLDOFFENCE-1403"
		pause    = "OLDPAUSE-1504"
	)
	// Version 2 stored the domain structs in JSON after the byte 1; this
	// release stores its own messages, so the records are read through the
	// store and marshalled as version 2 did.
	var storedCase model.Case
	var storedRec model.IdempotencyRecord
	s, err := boltstore.Open(ts.cfg.DBPath, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(context.Background(), func(tx datastore.ReadTx) error {
		cs, _, err := tx.ListCases(datastore.CaseQuery{Limit: 2})
		if err != nil || len(cs) != 1 {
			return fmt.Errorf("ListCases = %d cases, %v; want the one", len(cs), err)
		}
		storedCase = cs[0]
		storedRec, err = tx.Idempotency("bd.worker:case.referToPolice:refer-1")
		return err
	})
	if err := errors.Join(err, s.Close()); err != nil {
		t.Fatal(err)
	}
	asJSON := func(v any) []byte {
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte{1}, out...)
	}
	version2 := func(raw []byte) []byte {
		var c map[string]any
		if err := json.Unmarshal(raw[1:], &c); err != nil {
			t.Fatal(err)
		}
		delete(c, "Texts")
		tr := c["Transfers"].([]any)[0].(map[string]any)
		tr["Reason"], tr["DeclineNote"] = transfer, decline
		c["PoliceReferrals"].([]any)[0].(map[string]any)["SuspectedOffence"] = offence
		// A pause reason is shown while the deadline is paused: the first
		// open one, paused.
		for _, d := range c["Deadlines"].([]any) {
			if d := d.(map[string]any); d["State"] == "OPEN" {
				d["PauseReason"], d["PausedAt"] = pause, testNow.Format(time.RFC3339Nano)
				break
			}
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte{raw[0]}, out...)
	}
	confRawUpdate(t, ts.cfg.DBPath, func(tx *bolt.Tx) error {
		cases := tx.Bucket([]byte("cases"))
		k, _ := cases.Cursor().First()
		if err := cases.Put(bytes.Clone(k), version2(asJSON(storedCase))); err != nil {
			return err
		}
		recs := tx.Bucket([]byte("idempotency"))
		key := []byte("bd.worker:case.referToPolice:refer-1")
		raw := asJSON(storedRec)
		var rec map[string]any
		if err := json.Unmarshal(raw[1:], &rec); err != nil {
			return err
		}
		rec["Result"] = version2(append([]byte{1}, mustBase64(t, rec["Result"].(string))...))[1:]
		out, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := recs.Put(key, append([]byte{raw[0]}, out...)); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint32(nil, 2))
	})
	markers := []string{transfer, decline, offence, pause}
	if leaks := confLeaks(confRecords(t, ts.cfg.DBPath), markers); len(leaks) != len(markers) {
		t.Fatalf("the version 2 file holds only %v of %v in the clear", leaks, markers)
	}

	ts = startWithClock(t, ts.cfg, ts.clock)
	got := getCase(t, ts, "bd.worker", name)
	if tr := got.GetTransfers(); len(tr) != 1 || tr[0].GetReason() != transfer || tr[0].GetDeclineReason() != decline {
		t.Errorf("transfers after the upgrade: %v", tr)
	}
	if pr := got.GetPoliceReferrals(); len(pr) != 1 || pr[0].GetSuspectedOffence() != offence {
		t.Errorf("police referrals after the upgrade: %v", pr)
	}
	if i := slices.IndexFunc(got.GetDeadlines(), (*pb.Deadline).GetPaused); i < 0 || got.GetDeadlines()[i].GetPauseReason() != pause {
		t.Errorf("deadlines after the upgrade: %v, want one paused with its reason", got.GetDeadlines())
	}
	ts.stop()
	if leaks := confLeaks(confRecords(t, ts.cfg.DBPath), markers); len(leaks) > 0 {
		t.Errorf("free text still in the clear after the upgrade:\n%s", strings.Join(leaks, "\n"))
	}
	var version []byte
	confRawUpdate(t, ts.cfg.DBPath, func(tx *bolt.Tx) error {
		version = bytes.Clone(tx.Bucket([]byte("meta")).Get([]byte("schema_version")))
		return nil
	})
	if !bytes.Equal(version, binary.BigEndian.AppendUint32(nil, boltstore.SchemaVersion)) {
		t.Errorf("schema version after the upgrade: %x", version)
	}
}

func mustBase64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
