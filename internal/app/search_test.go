package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/search"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// firstCall is the first report about Nhung: her name with its
// diacritics, her birth date, her mother's phone written the usual way.
func firstCall() *pb.Report {
	r := validReport()
	r.ReceiveTime = timestamppb.New(testNow.Add(-48 * time.Hour))
	r.Children = []*pb.Child{{
		FullName: "Nguyễn Thị Hồng Nhung", Age: &pb.Child_BirthDate{BirthDate: "2017-05-19"}, Sex: pb.Sex_SEX_FEMALE,
		Condition: "gầy, hay bỏ bữa",
	}}
	r.Caregivers = []*pb.Caregiver{{FullName: "Lê Thị Thu", Relation: "mẹ", Phone: "0987 111 222"}}
	return r
}

// secondCall is the second call, taken by another operator: the name
// typed without diacritics, given name first, the phone in E.164.
func secondCall() *pb.Report {
	r := validReport()
	r.Children = []*pb.Child{{
		FullName: "Nhung Nguyen Thi Hong", Age: &pb.Child_EstimatedAgeYears{EstimatedAgeYears: 9}, Sex: pb.Sex_SEX_FEMALE,
	}}
	r.Caregivers = []*pb.Caregiver{{FullName: "Le Thi Thu", Relation: "me", Phone: "+84987111222"}}
	return r
}

// anonymousCallAbout is the first call's report about another child, of
// an estimated age, with no caregiver and an anonymous reporter: only
// the child's name, age and commune to search by.
func anonymousCallAbout(name string, age int32) *pb.Report {
	r := firstCall()
	r.Children[0].FullName = name
	r.Children[0].Age = &pb.Child_EstimatedAgeYears{EstimatedAgeYears: age}
	r.Caregivers = nil
	r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Anonymous{Anonymous: true}}
	return r
}

func candidateCases(cs []*pb.ReportCandidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.GetCase())
	}
	return out
}

// The scenario of issue 12: a second call about a child, written without
// diacritics and with the phone in another format, finds the first case,
// by search and at intake (with validate_only before anything is
// stored, and in the answer of the create); another operator of the same
// hotline gets it in the candidate view, without names or narrative, and
// an operator of another organisation does not find it at all.
func TestSecondCallFindsTheFirstCase(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "operator.two", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	ts.addUser(t, "operator.swc", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/social-work-centre")
	first, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: firstCall()})
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	if len(first.GetCandidates()) != 0 {
		t.Errorf("the first call has candidates %v, want none", candidateCases(first.GetCandidates()))
	}

	resp, err := ts.cases().SearchCases(ts.as(t, "operator.two"), &pb.SearchCasesRequest{
		ChildName: "nhung nguyen thi hong", Phone: "+84 987 111 222", CommuneCode: "00004",
	})
	if err != nil {
		t.Fatalf("SearchCases: %v", err)
	}
	if len(resp.GetCandidates()) != 1 {
		t.Fatalf("SearchCases found %d candidates, want the first case", len(resp.GetCandidates()))
	}
	got := resp.GetCandidates()[0]
	if got.GetCase().GetName() != first.GetCase() || !got.GetCandidateView() {
		t.Errorf("candidate %s (candidate view %v), want %s in the candidate view", got.GetCase().GetName(), got.GetCandidateView(), first.GetCase())
	}
	for _, f := range []string{"child_name", "phone", "commune"} {
		if !slices.Contains(got.GetMatchedFields(), f) {
			t.Errorf("matched fields %v lack %s", got.GetMatchedFields(), f)
		}
	}
	if c := got.GetCase(); len(c.GetReports()) != 0 || c.GetEtag() != "" || len(c.GetChildren()) != 1 || c.GetChildren()[0].GetSex() != pb.Sex_SEX_FEMALE {
		t.Errorf("the candidate view shows %v, want number, status, unit, the child's age and sex and the last change only", c)
	}
	if strings.Contains(resp.String(), "Nhung") || strings.Contains(resp.String(), "Thu") {
		t.Errorf("the candidate view shows a name: %v", resp)
	}

	// Before saving: the candidates, and nothing stored.
	before, err := ts.reports().ListReports(ts.as(t, "operator.two"), &pb.ListReportsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	check, err := ts.reports().CreateReport(ts.as(t, "operator.two"), &pb.CreateReportRequest{Report: secondCall(), ValidateOnly: true})
	if err != nil {
		t.Fatalf("validate_only: %v", err)
	}
	if got := candidateCases(check.GetCandidates()); !slices.Equal(got, []string{first.GetCase()}) || check.GetName() != "" {
		t.Errorf("validate_only answered %s with candidates %v, want no report and [%s]", check.GetName(), got, first.GetCase())
	}
	after, err := ts.reports().ListReports(ts.as(t, "operator.two"), &pb.ListReportsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.GetReports()) != len(before.GetReports()) {
		t.Errorf("validate_only stored a report: %d before, %d after", len(before.GetReports()), len(after.GetReports()))
	}

	second, err := ts.reports().CreateReport(ts.as(t, "operator.two"), &pb.CreateReportRequest{Report: secondCall()})
	if err != nil {
		t.Fatalf("second call: %v", err)
	}
	if got := candidateCases(second.GetCandidates()); !slices.Equal(got, []string{first.GetCase()}) {
		t.Errorf("the second call's candidates = %v, want [%s]", got, first.GetCase())
	}

	other, err := ts.cases().SearchCases(ts.as(t, "operator.swc"), &pb.SearchCasesRequest{ChildName: "Nguyễn Thị Hồng Nhung", Phone: "0987111222"})
	if err != nil {
		t.Fatalf("SearchCases by another organisation: %v", err)
	}
	if len(other.GetCandidates()) != 0 {
		t.Errorf("an operator of another organisation found %v", other.GetCandidates())
	}

	// Every search is audited, its query sealed.
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	evs, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: "users/operator.two", PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	searches := 0
	for _, e := range evs.GetEvents() {
		if e.GetAction() == "case.search" && e.GetResource() == "cases" {
			searches++
		}
	}
	if searches != 3 {
		t.Errorf("%d searches of operator.two audited, want 3 (the search, validate_only and the create)", searches)
	}

	// The operator then joins the first case, which they see only in the
	// candidate view: the call goes onto it, and from then on they follow
	// it whole. An operator of another organisation cannot: to them the
	// case does not exist, as an absent case named in a request.
	joining := secondCall()
	joining.Case = first.GetCase()
	_, err = ts.reports().CreateReport(ts.as(t, "operator.swc"), &pb.CreateReportRequest{Report: joining})
	wantField(t, err, "report.case")
	joined, err := ts.reports().CreateReport(ts.as(t, "operator.two"), &pb.CreateReportRequest{Report: joining})
	if err != nil {
		t.Fatalf("joining the first case from its candidate view: %v", err)
	}
	if joined.GetCase() != first.GetCase() {
		t.Errorf("the joining report went to %s, want %s", joined.GetCase(), first.GetCase())
	}
	if c := getCase(t, ts, "operator.two", first.GetCase()); len(c.GetReports()) != 2 {
		t.Errorf("the joined case has reports %v, want the first call's and the joining one", c.GetReports())
	}
}

func TestSearchCasesRefusesAnEmptyQuery(t *testing.T) {
	ts := startServer(t, "")
	_, err := ts.cases().SearchCases(context.Background(), &pb.SearchCasesRequest{ChildName: " - "})
	st := wantCode(t, err, codes.InvalidArgument)
	if !slices.Contains(badFields(st), "query") {
		t.Errorf("bad fields %v, want query", badFields(st))
	}
	// A phone without the digits of one is nothing to search by either.
	_, err = ts.cases().SearchCases(context.Background(), &pb.SearchCasesRequest{Phone: "abc 12"})
	st = wantCode(t, err, codes.InvalidArgument)
	if !slices.Contains(badFields(st), "query") {
		t.Errorf("bad fields %v, want query", badFields(st))
	}
	_, err = ts.cases().SearchCases(context.Background(), &pb.SearchCasesRequest{ChildName: "Nhung", CommuneCode: "99999"})
	st = wantCode(t, err, codes.InvalidArgument)
	if !slices.Contains(badFields(st), "commune_code") {
		t.Errorf("bad fields %v, want commune_code", badFields(st))
	}
	// The field is named once, as every other error names it.
	_, err = ts.cases().SearchCases(context.Background(), &pb.SearchCasesRequest{BirthDate: "2017-13-01"})
	st = wantCode(t, err, codes.InvalidArgument)
	if !slices.Contains(badFields(st), "birth_date") || strings.Contains(st.Message(), "birth_date: birth_date") || strings.Contains(st.Message(), "vntime") {
		t.Errorf("bad fields %v, message %q: want birth_date named once", badFields(st), st.Message())
	}
	// ... and not repeated: messages are logged, and a birth date typed
	// day first is still the child's.
	_, err = ts.cases().SearchCases(context.Background(), &pb.SearchCasesRequest{BirthDate: "2017-19-05"})
	if st := wantCode(t, err, codes.InvalidArgument); strings.Contains(fmt.Sprint(st.Proto()), "2017-19-05") || !slices.Contains(badFields(st), "birth_date") {
		t.Errorf("a refused birth date: bad fields %v, %v; want birth_date named, its value not repeated", badFields(st), st.Proto())
	}
}

// The database holds no searchable plain text: neither the names and
// phones of a report, in any form the index normalises them to, nor an
// unkeyed SHA-256 of any of those forms, which anyone could compute from
// a guess.
func TestSearchIndexHoldsNoPlainText(t *testing.T) {
	ts := startServer(t, "")
	r := validReport()
	r.Children = []*pb.Child{{FullName: "Quách Thị Markerchild Xuyến", Age: &pb.Child_BirthDate{BirthDate: "2016-02-29"}, Sex: pb.Sex_SEX_FEMALE}}
	r.Caregivers = []*pb.Caregiver{{FullName: "Quách Văn Markercarer", Relation: "bố", Phone: "0977 246 813"}}
	r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{
		Consent: true, FullName: "Tạ Markerreporter", Phone: "0966 135 792", RelationToChild: "cô giáo",
	}}}
	if _, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: r}); err != nil {
		t.Fatal(err)
	}
	// A search and a validate_only leave their queries in the audit log.
	if _, err := ts.cases().SearchCases(context.Background(), &pb.SearchCasesRequest{ChildName: "Quach Thi Markerchild Xuyen", Phone: "0977246813"}); err != nil {
		t.Fatal(err)
	}
	ts.stop()
	raw, err := os.ReadFile(ts.cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	var forms []string
	for _, v := range []string{"Quách Thị Markerchild Xuyến", "Quách Văn Markercarer", "Tạ Markerreporter"} {
		folded := search.Fold(v)
		syl := strings.Fields(folded)
		forms = append(forms, v, folded, strings.Join(append(syl[len(syl)-1:], syl[:len(syl)-1]...), " "), syl[len(syl)-1])
	}
	for _, p := range []string{"0977 246 813", "0966 135 792"} {
		forms = append(forms, p, search.Phone(p), strings.ReplaceAll(p, " ", ""))
	}
	forms = append(forms, "2016-02-29")
	// Text is compared without case, hashes byte for byte (lower-casing
	// arbitrary bytes would change them).
	lower := bytes.ToLower(raw)
	for _, f := range forms {
		sum := sha256.Sum256([]byte(f))
		if bytes.Contains(lower, bytes.ToLower([]byte(f))) || bytes.Contains(lower, []byte(hex.EncodeToString(sum[:]))) {
			t.Errorf("the database file holds %q or its SHA-256 in hex", f)
		}
		if bytes.Contains(raw, sum[:search.TokenSize]) {
			t.Errorf("the database file holds the unkeyed SHA-256 of %q", f)
		}
	}
}

// A rotation of the master key indexes every case again under the new
// index key before it completes, so the old key can go: once restarted
// with the new key alone, the search finds the case.
func TestRotationRebuildsTheSearchIndex(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "admin.two", pb.Role_ROLE_ADMIN, "orgs/system")
	first, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: firstCall()})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := ts.admin().RotateMasterKey(ts.as(t, "admin"), &pb.RotateMasterKeyRequest{})
	if err != nil {
		t.Fatalf("RotateMasterKey: %v", err)
	}
	ts.stop()
	s, err := boltstore.Open(ts.cfg.DBPath, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var entries []datastore.SearchEntry
	err = s.View(context.Background(), func(tx datastore.ReadTx) error {
		var err error
		entries, _, err = tx.ListSearchEntries(0, 100)
		return err
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !strings.HasPrefix(entries[0].KeyID, rot.GetMasterKeyId()+"/") {
		t.Fatalf("after the rotation the index entries are %+v, want one under %s", entries, rot.GetMasterKeyId())
	}
	again := startServer(t, ts.cfg.DBPath)
	resp, err := again.cases().SearchCases(context.Background(), &pb.SearchCasesRequest{ChildName: "Nguyen Thi Hong Nhung", Phone: "0987111222"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetCandidates()) != 1 || resp.GetCandidates()[0].GetCase().GetName() != first.GetCase() {
		t.Errorf("after the rotation and a restart, the search found %v, want %s", resp.GetCandidates(), first.GetCase())
	}
}

// A report linked to a case after it was taken brings its names and
// phones to the case's index entry, in the link's transaction.
func TestLinkedReportIsSearchable(t *testing.T) {
	ts := startServer(t, "")
	first, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: firstCall()})
	if err != nil {
		t.Fatal(err)
	}
	r := validReport()
	r.CallType = pb.CallType_CALL_TYPE_COUNSELLING
	r.Caregivers = []*pb.Caregiver{{FullName: "Trịnh Văn Bố", Relation: "bố", Phone: "0933 444 555"}}
	r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Anonymous{Anonymous: true}}
	loose, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatal(err)
	}
	byPhone := &pb.SearchCasesRequest{Phone: "+84933444555"}
	if resp, err := ts.cases().SearchCases(context.Background(), byPhone); err != nil || len(resp.GetCandidates()) != 0 {
		t.Fatalf("before the link, the loose report's phone found %v, %v; want no case", resp.GetCandidates(), err)
	}
	if _, err := ts.reports().LinkReport(context.Background(), &pb.LinkReportRequest{Name: loose.GetName(), Case: first.GetCase()}); err != nil {
		t.Fatal(err)
	}
	resp, err := ts.cases().SearchCases(context.Background(), byPhone)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetCandidates()) != 1 || resp.GetCandidates()[0].GetCase().GetName() != first.GetCase() {
		t.Errorf("after the link, the phone found %v, want %s", resp.GetCandidates(), first.GetCase())
	}
}

// A new report's answer lists its top candidates, at most five (issue 12):
// seven earlier cases name the same child, six of them by the name alone
// and newer, one, the oldest, by her birth date and her mother's phone
// too. The report and its validate_only check each list five distinct
// other cases, best first, the strong one among them and first; a search
// lists all seven.
func TestIntakeListsTheTopFiveCandidates(t *testing.T) {
	ts := startServer(t, "")
	create := func(r *pb.Report, validateOnly bool) *pb.Report {
		t.Helper()
		created, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: r, ValidateOnly: validateOnly})
		if err != nil {
			t.Fatal(err)
		}
		return created
	}
	strong := create(firstCall(), false).GetCase()
	for i := range 6 {
		r := firstCall()
		r.ReceiveTime = timestamppb.New(testNow.Add(time.Duration(i-30) * time.Hour))
		r.IncidentCommuneCode = "00070"
		r.Children[0].Age = &pb.Child_EstimatedAgeYears{EstimatedAgeYears: 3}
		r.Caregivers = []*pb.Caregiver{{FullName: fmt.Sprintf("Phạm Văn Khác %d", i), Relation: "bố", Phone: fmt.Sprintf("0903 000 00%d", i)}}
		r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Anonymous{Anonymous: true}}
		create(r, false)
	}
	all, err := ts.cases().SearchCases(context.Background(), &pb.SearchCasesRequest{ChildName: "Nguyễn Thị Hồng Nhung"})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.GetCandidates()) != 7 {
		t.Fatalf("a search by the name finds %d cases, want the 7", len(all.GetCandidates()))
	}

	for _, validateOnly := range []bool{true, false} {
		answer := create(firstCall(), validateOnly)
		got := answer.GetCandidates()
		seen := map[string]bool{}
		for i, c := range got {
			if seen[c.GetCase()] || c.GetCase() == answer.GetCase() {
				t.Errorf("validate_only=%v: candidate %s twice, or the report's own case", validateOnly, c.GetCase())
			}
			seen[c.GetCase()] = true
			if i > 0 && c.GetScore() > got[i-1].GetScore() {
				t.Errorf("validate_only=%v: candidate %d scores %v, more than the one before it (%v)", validateOnly, i, c.GetScore(), got[i-1].GetScore())
			}
		}
		if len(got) != 5 || got[0].GetCase() != strong {
			t.Errorf("validate_only=%v: candidates %v, want five, %s first", validateOnly, candidateCases(got), strong)
		}
	}
}

// A commune brings its predecessors and successors of the 2025 reform
// (issue 12): Phường Quán Thánh (00013) went wholly into the new Phường
// Ba Đình (00004) on 1 July 2025. A child recorded in Quán Thánh in March
// 2025 is found by a search under Ba Đình today, with her name mistyped in
// one syllable, which only the commune lifts to a candidate (Hoàn Kiếm
// finds nothing); and the other way round, a late report of an incident
// in Quán Thánh in 2025 lists a case recorded under Ba Đình in 2026.
func TestSearchFollowsTheCommuneAcrossThe2025Reform(t *testing.T) {
	ts := startServer(t, "")
	old := firstCall()
	old.ReceiveTime = timestamppb.New(time.Date(2025, 3, 10, 9, 0, 0, 0, hanoi))
	old.IncidentCommuneCode = "00013"
	old.Caregivers = nil
	old.Reporter = &pb.Reporter{Identity: &pb.Reporter_Anonymous{Anonymous: true}}
	first, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: old})
	if err != nil {
		t.Fatal(err)
	}
	if got := getCase(t, ts, operatorID, first.GetCase()).GetIncidentUnit(); got != "units/00013@2025-01-01" {
		t.Fatalf("the 2025 case is recorded under %s, want Quán Thánh (units/00013@2025-01-01)", got)
	}
	wantFoundUnder(t, ts, "Nguyen Thi Hong Nhunh", "00004", first.GetCase()) // Ba Đình
	wantFoundUnder(t, ts, "Nguyen Thi Hong Nhunh", "00070", "")              // Hoàn Kiếm

	second, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: anonymousCallAbout("Trần Thị Thu Hà", 9)})
	if err != nil {
		t.Fatal(err)
	}
	late := anonymousCallAbout("Tran Thi Thu Haa", 3) // no birth year in common
	late.ReceiveTime = timestamppb.New(time.Date(2025, 4, 2, 9, 0, 0, 0, hanoi))
	late.IncidentCommuneCode = "00013"
	check, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: late, ValidateOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := candidateCases(check.GetCandidates()); !slices.Contains(got, second.GetCase()) {
		t.Errorf("a report of Quán Thánh in 2025 lists %v, want the Ba Đình case %s", got, second.GetCase())
	}
}

// A caller who still names a commune of before the 2025 reform searches
// under it (issue 12: the commune "including the predecessor and
// successor units of the 2025 reforms"): Quán Thánh (00013), which went
// wholly into Phường Ba Đình, finds a case recorded under Ba Đình today,
// the name one syllable off, which only the commune lifts to a candidate;
// Hàng Mã (00043), which went into Hoàn Kiếm, does not. A code that never
// named a commune is still refused naming commune_code.
func TestSearchTakesACommuneOfBeforeTheReform(t *testing.T) {
	ts := startServer(t, "")
	created, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: anonymousCallAbout("Trần Thị Thu Hà", 9)})
	if err != nil {
		t.Fatal(err)
	}
	wantFoundUnder(t, ts, "Tran Thi Thu Haa", "00013", created.GetCase()) // Quán Thánh
	wantFoundUnder(t, ts, "Tran Thi Thu Haa", "00043", "")                // Hàng Mã
	_, err = ts.cases().SearchCases(context.Background(), &pb.SearchCasesRequest{ChildName: "Tran Thi Thu Haa", CommuneCode: "99999"})
	wantField(t, err, "commune_code")
}

// A commune of 2020 is searched as the commune it still was in 2025-01
// when it kept its code and name (issue 12: "a commune of 2020 vs 2025"),
// although the data link the 2020 set to no later one. A case of 2023 in
// Trúc Bạch (00004@2020-01-01) is found under today's Ba Đình (00004,
// into which Trúc Bạch of 2025-01 went), and a case of 2023 in Quán Thánh
// (00013@2020-01-01) under Ba Đình and under Quán Thánh's own code; a
// case of 2023 in Nguyễn Trung Trực (00010), which ended on 2024-12-31
// into no commune the data name, is found under its own code only.
func TestSearchTakesACommuneOf2020(t *testing.T) {
	ts := startServer(t, "")
	in2023 := func(name, commune string) string {
		t.Helper()
		r := anonymousCallAbout(name, 9)
		r.ReceiveTime = timestamppb.New(time.Date(2023, 3, 10, 9, 0, 0, 0, hanoi))
		r.IncidentCommuneCode = commune
		created, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: r})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := getCase(t, ts, operatorID, created.GetCase()).GetIncidentUnit(), "units/"+commune+"@2020-01-01"; got != want {
			t.Fatalf("a case of 2023 recorded under %s, want %s", got, want)
		}
		return created.GetCase()
	}
	trucBach := in2023("Trần Thị Thu Hà", "00004")
	quanThanh := in2023("Phạm Thị Thu Hà", "00013")
	nguyenTrungTruc := in2023("Lê Thị Thu Hà", "00010")
	wantFoundUnder(t, ts, "Tran Thi Thu Haa", "00004", trucBach)
	wantFoundUnder(t, ts, "Pham Thi Thu Haa", "00004", quanThanh)
	wantFoundUnder(t, ts, "Pham Thi Thu Haa", "00013", quanThanh)
	wantFoundUnder(t, ts, "Le Thi Thu Haa", "00010", nguyenTrungTruc)
	wantFoundUnder(t, ts, "Le Thi Thu Haa", "00004", "")
	wantFoundUnder(t, ts, "Tran Thi Thu Haa", "00070", "") // Hoàn Kiếm
}

// wantFoundUnder searches for the name one syllable off under the commune
// code: only the commune lifts a case to a candidate, so the search finds
// the case want alone, matched on its commune, or nothing when want is "".
func wantFoundUnder(t *testing.T, ts *testServer, name, commune, want string) {
	t.Helper()
	resp, err := ts.cases().SearchCases(context.Background(), &pb.SearchCasesRequest{ChildName: name, CommuneCode: commune})
	if err != nil {
		t.Fatalf("under %s: %v", commune, err)
	}
	got := resp.GetCandidates()
	switch {
	case want == "" && len(got) != 0:
		t.Errorf("under %s, %q finds %v, want nothing", commune, name, got)
	case want != "" && (len(got) != 1 || got[0].GetCase().GetName() != want || !slices.Contains(got[0].GetMatchedFields(), "commune")):
		t.Errorf("under %s, %q finds %v, want %s matched on its commune", commune, name, got, want)
	}
}

// The reporter's identity is sealed (issue 3): only a caller who may
// disclose it (a hotline supervisor, a city officer) may have a guess at
// it confirmed. The index holds the reporter's name and phone, so that
// they find the case again when the same person calls back; for anyone
// else a search or an intake matches the case by its children and
// caregivers only, so a commune worker who types a neighbour's phone
// learns nothing of who called. A caregiver's phone and name still find
// the case for everyone in scope.
func TestSearchMatchesTheReporterOnlyForWhoMayDisclose(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "sup.111", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	ts.addUser(t, "worker.badinh", pb.Role_ROLE_COMMUNE_WORKER, "units/00004@2025-07-01")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, "units/01@2020-01-01")
	r := validReport()
	r.Caregivers = []*pb.Caregiver{{FullName: "Quách Văn Cẩn", Relation: "bố", Phone: "0977 246 813"}}
	r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{
		Consent: true, FullName: "Tạ Thị Báo Tin", Phone: "0966 135 792", RelationToChild: "hàng xóm",
	}}}
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatal(err)
	}
	// A caregiver's name alone does not make a candidate: beside the
	// child's name it is strong support, which matched_fields names.
	reporterPhone := &pb.SearchCasesRequest{Phone: "+84966135792"}
	reporterName := &pb.SearchCasesRequest{ChildName: "Nguyen Thi Lan", CaregiverName: "Ta Thi Bao Tin"}
	carerPhone := &pb.SearchCasesRequest{Phone: "+84977246813"}
	carerName := &pb.SearchCasesRequest{ChildName: "Nguyen Thi Lan", CaregiverName: "Quach Van Can"}
	for _, tt := range []struct {
		user    string
		query   *pb.SearchCasesRequest
		field   string
		matched bool
	}{
		{"worker.badinh", reporterPhone, "phone", false},
		{"worker.badinh", reporterName, "caregiver_name", false},
		{operatorID, reporterPhone, "phone", false},
		{operatorID, reporterName, "caregiver_name", false},
		{"worker.badinh", carerPhone, "phone", true},
		{"worker.badinh", carerName, "caregiver_name", true},
		{operatorID, carerPhone, "phone", true},
		{"sup.111", reporterPhone, "phone", true},
		{"city", reporterName, "caregiver_name", true},
	} {
		resp, err := ts.cases().SearchCases(ts.as(t, tt.user), tt.query)
		if err != nil {
			t.Fatalf("%s searches %v: %v", tt.user, tt.query, err)
		}
		matched := false
		for _, c := range resp.GetCandidates() {
			if c.GetCase().GetName() == created.GetCase() {
				matched = slices.Contains(c.GetMatchedFields(), tt.field)
			}
		}
		if matched != tt.matched {
			t.Errorf("%s searches %v: %s matched by %s: %v, want %v (candidates %v)", tt.user, tt.query, created.GetCase(), tt.field, matched, tt.matched, resp.GetCandidates())
		}
	}
	// At intake: the operator's next call from the same person, about
	// another child, lists no candidate by the reporter's phone.
	next := validReport()
	next.Children[0].FullName = "Lò Văn Khác"
	next.Caregivers = nil
	next.Reporter = r.Reporter
	check, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: next, ValidateOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(candidateCases(check.GetCandidates()), created.GetCase()) {
		t.Errorf("the operator's intake lists %s by the reporter's phone: %v", created.GetCase(), candidateCases(check.GetCandidates()))
	}
}

// The cases a report's answer offers as candidates are shown to the
// operator: each is on its own case's trail (case.search by that operator,
// naming no query), for the validate_only check, for the create, and again
// for a retry of the create, which shows them again (README, "Audit":
// "so that ?case= shows who was shown the case").
func TestIntakeCandidatesAreOnTheirCasesTrails(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "operator.two", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	first, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: firstCall()})
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	shown := func() int {
		n := 0
		for _, e := range allAuditEvents(t, ts, "auditor", &pb.ListAuditEventsRequest{Case: first.GetCase(), Actor: "users/operator.two"}) {
			if e.GetAction() == "case.search" && e.GetResource() == first.GetCase() && e.GetOutcome() == "ok" {
				if e.GetReason() != "" {
					t.Errorf("a candidate's event names the query: %v", e)
				}
				n++
			}
		}
		return n
	}
	op := ts.as(t, "operator.two")
	for i, req := range []*pb.CreateReportRequest{
		{Report: secondCall(), ValidateOnly: true},
		{Report: secondCall(), RequestId: "second-call"},
		{Report: secondCall(), RequestId: "second-call"}, // a retry: the first answer again
	} {
		resp, err := ts.reports().CreateReport(op, req)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if got := candidateCases(resp.GetCandidates()); !slices.Equal(got, []string{first.GetCase()}) {
			t.Fatalf("call %d: candidates %v, want %s", i, got, first.GetCase())
		}
		if n := shown(); n != i+1 {
			t.Errorf("after call %d (validate_only %v, request id %q), %s's trail shows it to operator.two %d times, want %d", i, req.GetValidateOnly(), req.GetRequestId(), first.GetCase(), n, i+1)
		}
	}
}

// SearchCases takes any of its fields (issue 12), and a search by one
// that cannot reach a candidate's 5 alone finds the cases that match all
// the search gives: the caregiver's name (3), the birth date (3, with its
// year 4), the commune, or the caregiver's name in the commune. Such a
// search answered nothing, whatever was stored, and an operator told "no
// candidates" opened the duplicate the search is there to prevent. A
// report's candidates at intake, offered unasked, still need 5: a report
// that gives only the same caregiver's name lists none.
func TestSearchByOneWeakFieldFindsTheCasesThatMatchIt(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "operator.swc", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/social-work-centre")
	first, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: firstCall()})
	if err != nil {
		t.Fatal(err)
	}
	other := firstCall()
	other.Children[0].FullName = "Phạm Minh Khôi"
	other.Children[0].Age = &pb.Child_BirthDate{BirthDate: "2015-02-03"}
	other.Caregivers = []*pb.Caregiver{{FullName: "Đỗ Văn Tâm", Relation: "bố", Phone: "0903 222 333"}}
	other.IncidentCommuneCode = "00091"
	if _, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: other}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		q       *pb.SearchCasesRequest
		matched string
	}{
		{&pb.SearchCasesRequest{CaregiverName: "le thi thu"}, "caregiver_name"},
		{&pb.SearchCasesRequest{CaregiverName: "Lê Thị Thu", CommuneCode: "00004"}, "caregiver_name"},
		{&pb.SearchCasesRequest{BirthDate: "2017-05-19"}, "birth_date"},
		{&pb.SearchCasesRequest{CommuneCode: "00004"}, "commune"},
	} {
		resp, err := ts.cases().SearchCases(context.Background(), tt.q)
		if err != nil {
			t.Fatalf("%v: %v", tt.q, err)
		}
		got := resp.GetCandidates()
		if len(got) != 1 || got[0].GetCase().GetName() != first.GetCase() || !slices.Contains(got[0].GetMatchedFields(), tt.matched) {
			t.Errorf("a search by %v finds %v, want %s by %s alone", tt.q, got, first.GetCase(), tt.matched)
		}
		// Scoped like every read: nothing for another organisation.
		if resp, err := ts.cases().SearchCases(ts.as(t, "operator.swc"), tt.q); err != nil || len(resp.GetCandidates()) != 0 {
			t.Errorf("an operator of another organisation searching by %v: %v, %v", tt.q, resp.GetCandidates(), err)
		}
	}
	// What matches no case finds none; a caregiver's name one syllable
	// off, or another day, is not the one asked for.
	for _, q := range []*pb.SearchCasesRequest{{CaregiverName: "Lê Thị Hoa"}, {BirthDate: "2017-05-20"}, {CaregiverName: "Lê Thu"}} {
		if resp, err := ts.cases().SearchCases(context.Background(), q); err != nil || len(resp.GetCandidates()) != 0 {
			t.Errorf("a search by %v: %v, %v; want no candidate", q, resp.GetCandidates(), err)
		}
	}

	// At intake, the same caregiver alone makes no candidate.
	same := anonymousCallAbout("Trần Thị Bích", 4)
	same.Caregivers = []*pb.Caregiver{{FullName: "Lê Thị Thu", Relation: "mẹ"}}
	created, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: same})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.GetCandidates()) != 0 {
		t.Errorf("a report giving only the same caregiver's name lists candidates %v", candidateCases(created.GetCandidates()))
	}
}

// A search answers at most 20 candidates and has no next page: a larger
// page_size is refused naming page_size and the rule it breaks, as every
// list's is (AIP-158 leaves the maximum to the API), rather than taken and
// answered with 20, which a client would read as all there is.
func TestSearchRefusesAPageSizeItCannotAnswer(t *testing.T) {
	ts := startServer(t, "")
	for _, size := range []int32{search.MaxCandidates + 1, 1000} {
		_, err := ts.cases().SearchCases(context.Background(), &pb.SearchCasesRequest{ChildName: "Nhung", PageSize: size})
		st := wantCode(t, err, codes.InvalidArgument)
		info, _ := errorInfo(st)
		if !slices.Contains(badFields(st), "page_size") || info.GetMetadata()["field"] != "page_size" || info.GetMetadata()["rule"] != "int32.gte_lte" {
			t.Errorf("page_size %d: bad fields %v, ErrorInfo %v; want page_size and int32.gte_lte", size, badFields(st), info)
		}
	}
	if _, err := ts.cases().SearchCases(context.Background(), &pb.SearchCasesRequest{ChildName: "Nhung", PageSize: search.MaxCandidates}); err != nil {
		t.Errorf("page_size %d: %v", search.MaxCandidates, err)
	}
	code, raw := restRaw(t, ts, "GET", "/v1/cases:search?child_name=Nhung&page_size=21", "", map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID)})
	if reason, _ := restErrorInfo(t, raw); code != 400 || reason != grpcapi.ReasonInvalidField || !strings.Contains(string(raw), "page_size") {
		t.Errorf("REST page_size=21: %d %.300s, want 400 INVALID_FIELD naming page_size", code, raw)
	}
}
