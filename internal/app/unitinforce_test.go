package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/identity"
)

// fieldViolation returns the violation a status names on field.
func fieldViolation(st *status.Status, field string) *errdetails.BadRequest_FieldViolation {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return v
				}
			}
		}
	}
	return nil
}

// An admin cannot bind a new user, or a new police unit's coverage, to a
// unit a reform ended before the service's day (2026-11-28 here), over
// gRPC or REST: the refusal names the field, unit.in_force, the day and
// the unit that took it over, and nothing is written. A user of such a
// unit from before the reform keeps working, and gets new tokens.
func TestAdminRefusesAUnitOutOfForce(t *testing.T) {
	ts := startServer(t, "")
	admin := ts.as(t, "admin")
	for _, tt := range []struct {
		name string
		role pb.Role
		unit string
		want string
	}{
		{"worker of Trúc Bạch of 2020", pb.Role_ROLE_COMMUNE_WORKER, pTrucBach, "went into units/00004@2025-07-01 (Phường Ba Đình)"},
		{"chair of Trúc Bạch of 2025-01", pb.Role_ROLE_COMMUNE_CHAIR, pTrucBach2025, "went into units/00004@2025-07-01 (Phường Ba Đình)"},
		{"officer of Quận Ba Đình", pb.Role_ROLE_DISTRICT_OFFICER, pDistrictBD, "districts were abolished"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ts.admin().CreateUser(admin, &pb.CreateUserRequest{UserId: "new.user",
				User: &pb.User{DisplayName: "Người mới", Role: tt.role, Unit: tt.unit}})
			st := wantCode(t, err, codes.InvalidArgument)
			v := fieldViolation(st, "user.unit")
			if v == nil || v.GetReason() != "unit.in_force" || !strings.Contains(v.GetDescription(), "is not in force on 2026-11-28") ||
				!strings.Contains(v.GetDescription(), tt.want) {
				t.Errorf("CreateUser(%s in %s): %v, want user.unit refused with unit.in_force, the day and %q", tt.role, tt.unit, st.Details(), tt.want)
			}
			_, err = ts.admin().GetUser(admin, &pb.GetUserRequest{Name: "users/new.user"})
			wantCode(t, err, codes.NotFound)

			code, body := restRaw(t, ts, http.MethodPost, "/v1/users?user_id=new.user",
				`{"display_name":"Người mới","role":"`+tt.role.String()+`","unit":"`+tt.unit+`"}`,
				map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("admin")})
			if code != http.StatusBadRequest || !strings.Contains(string(body), `"user.unit"`) || !strings.Contains(string(body), "unit.in_force") {
				t.Errorf("POST /v1/users in %s: %d %s, want 400 naming user.unit and unit.in_force", tt.unit, code, body)
			}
		})
	}

	// A police unit registered today covers units of today.
	_, err := ts.admin().CreatePoliceUnit(admin, &pb.CreatePoliceUnitRequest{PoliceUnitId: "ca-truc-bach",
		PoliceUnit: &pb.PoliceUnit{DisplayName: "Công an phường Trúc Bạch", Covers: []string{pBaDinh, pTrucBach}}})
	st := wantCode(t, err, codes.InvalidArgument)
	if v := fieldViolation(st, "police_unit.covers[1]"); v == nil || v.GetReason() != "unit.in_force" {
		t.Errorf("CreatePoliceUnit covering %s: %v, want police_unit.covers[1] refused with unit.in_force", pTrucBach, st.Details())
	}
	code, body := restRaw(t, ts, http.MethodPost, "/v1/policeUnits?police_unit_id=ca-truc-bach",
		`{"display_name":"Công an phường Trúc Bạch","covers":["`+pDistrictBD+`"]}`,
		map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("admin")})
	if code != http.StatusBadRequest || !strings.Contains(string(body), `"police_unit.covers[0]"`) || !strings.Contains(string(body), "unit.in_force") {
		t.Errorf("POST /v1/policeUnits covering %s: %d %s, want 400 naming police_unit.covers[0] and unit.in_force", pDistrictBD, code, body)
	}
	_, err = pb.NewPoliceUnitServiceClient(ts.conn).GetPoliceUnit(admin, &pb.GetPoliceUnitRequest{Name: "policeUnits/ca-truc-bach"})
	wantCode(t, err, codes.NotFound)

	// The district's officer from before the reform keeps working: their
	// calls are answered, and an admin gives them a new token.
	ts.addFormerUser(t, "district.bd", pb.Role_ROLE_DISTRICT_OFFICER, pDistrictBD)
	if _, err := ts.cases().ListCases(ts.as(t, "district.bd"), &pb.ListCasesRequest{}); err != nil {
		t.Errorf("ListCases as the officer of an ended district: %v", err)
	}
	if _, err := ts.admin().CreateToken(admin, &pb.CreateTokenRequest{Parent: "users/district.bd"}); err != nil {
		t.Errorf("CreateToken for the officer of an ended district: %v", err)
	}
}

// The console's form offers only the units in force, and a unit out of
// force posted to it anyway is refused saying so, and no user is made.
func TestConsoleAdminRefusesAUnitOutOfForce(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	b := newBrowser(t, ts)
	b.signInTo("admin")
	_, page := b.get("/admin")
	if !strings.Contains(page, `<option value="`+pBaDinh+`"`) || strings.Contains(page, `<option value="`+pTrucBach+`"`) {
		t.Errorf("the create form offers %s: %v, or not %s", pTrucBach, strings.Contains(page, pTrucBach), pBaDinh)
	}
	resp, page := b.post("/admin/users", url.Values{"csrf": {csrfOf(t, page)}, "user_id": {"old.worker"}, "display_name": {"Nguyễn Văn Cũ"},
		"role": {"COMMUNE_WORKER"}, "unit": {pTrucBach}})
	// The console words the API's rule (unit.in_force) in the person's
	// language: "Đơn vị này không có hiệu lực hôm nay."
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `role="alert"`) || !strings.Contains(page, "không có hiệu lực") {
		t.Errorf("create in %s through the console: %s, want 400 saying the unit is not in force\n%s", pTrucBach, resp.Status, page)
	}
	_, err := ts.admin().GetUser(ts.as(t, "admin"), &pb.GetUserRequest{Name: "users/old.worker"})
	wantCode(t, err, codes.NotFound)
}

// A police unit is no administrative unit: the 2025 reform that ended the
// communes it covers did not end it, and what was referred to it before
// runs on (its acknowledgement, forwarding and outcome, and its clocks,
// which escalate to the city police). Its liaison is then still needed,
// for the referrals already there and for a new liaison when one leaves:
// creating one is accepted, unlike a new user of an ended commune, whose
// cases the city reassigns (TestAdminRefusesAUnitOutOfForce).
func TestLiaisonOfAPoliceUnitWhoseCommunesEndedIsAccepted(t *testing.T) {
	ts := startServerAt(t, hn(2025, 3, 10, 9, 0), "")
	ts.addPoliceUnit(t, "ca-truc-bach", pTrucBach2025)
	ts.addUser(t, "tb.worker", pb.Role_ROLE_COMMUNE_WORKER, pTrucBach2025)
	name := openCase(t, ts, hn(2025, 3, 10, 8, 0), "00004")
	_, err := ts.process().ReferCaseToPolice(ts.as(t, "tb.worker"), &pb.ReferCaseToPoliceRequest{Name: name,
		Etag: etagOf(t, ts, "tb.worker", name), PoliceUnit: "policeUnits/ca-truc-bach", SuspectedOffence: "Điều 140 BLHS"})
	if err != nil {
		t.Fatalf("refer: %v", err)
	}
	// The admin's token outlives the months to come.
	tok, err := ts.admin().CreateToken(ts.as(t, "admin"), &pb.CreateTokenRequest{Parent: "users/admin", Ttl: durationpb.New(identity.MaxTokenTTL)})
	if err != nil {
		t.Fatal(err)
	}
	ts.tokens.put(t, "admin", tok.GetSecret())
	ts.setClock(t, hn(2025, 9, 1, 9, 0)) // Trúc Bạch ended on 2025-06-30
	ts.addUser(t, "police.tb", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-truc-bach")
	c, err := ts.cases().GetCase(ts.as(t, "police.tb"), &pb.GetCaseRequest{Name: name})
	if err != nil {
		t.Fatalf("the new liaison reads the case referred to their unit: %v", err)
	}
	if len(c.GetPoliceReferrals()) != 1 || c.GetPoliceReferrals()[0].GetPoliceUnit() != "policeUnits/ca-truc-bach" {
		t.Errorf("the new liaison's view holds referrals %v, want their unit's", c.GetPoliceReferrals())
	}
}

// A police unit whose every covered unit a reform ended takes no new
// referral: the case it would get lies in a unit it no longer serves, and
// its clocks would run in a queue that nobody in force watches. The
// refusal, over REST, names police_unit and unit.in_force, says what took
// the commune over, and writes nothing; a referral to the ward police of
// the unit in force, or to the city police, goes through, and what was
// referred to the old unit before the reform runs on
// (TestLiaisonOfAPoliceUnitWhoseCommunesEndedIsAccepted).
func TestNewReferralToAPoliceUnitWhoseCommunesEndedIsRefused(t *testing.T) {
	ts := startServerAt(t, hn(2025, 6, 20, 9, 0), "")
	ts.addPoliceUnit(t, "ca-truc-bach", pTrucBach2025)
	ts.addPoliceUnit(t, "ca-quan-ba-dinh", pDistrictBD)
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh) // registered before its ward is in force
	ts.addPoliceUnit(t, "ca-ha-noi")
	ts.addUser(t, "police.tb", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-truc-bach")
	before := openCase(t, ts, hn(2025, 6, 20, 8, 0), "00004")
	refer := func(name, police string) (int, []byte) {
		t.Helper()
		body := `{"police_unit":"` + police + `","suspected_offence":"Điều 140 BLHS","etag":"` + etagOf(t, ts, operatorID, name) + `"}`
		return restRaw(t, ts, http.MethodPost, "/v1/"+name+":referToPolice", body,
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get(operatorID)})
	}
	if code, body := refer(before, "policeUnits/ca-truc-bach"); code != http.StatusOK {
		t.Fatalf("refer to Trúc Bạch's police before the reform: %d %s", code, body)
	}

	ts.setClock(t, hn(2025, 7, 2, 9, 0)) // Trúc Bạch and Quận Ba Đình ended on 2025-06-30
	after := openCase(t, ts, hn(2025, 7, 2, 8, 0), "00004")
	for _, tt := range []struct{ police, want string }{
		{"policeUnits/ca-truc-bach", "went into units/00004@2025-07-01 (Phường Ba Đình)"},
		{"policeUnits/ca-quan-ba-dinh", "districts were abolished"},
	} {
		code, body := refer(after, tt.police)
		if code != http.StatusBadRequest || !strings.Contains(string(body), `"police_unit"`) || !strings.Contains(string(body), "unit.in_force") ||
			!strings.Contains(string(body), "covers no unit in force on 2025-07-02") || !strings.Contains(string(body), tt.want) {
			t.Errorf("refer a new case to %s after the reform: %d %s, want 400 naming police_unit, unit.in_force, the day and %q", tt.police, code, body, tt.want)
		}
	}
	if c := getCase(t, ts, operatorID, after); len(c.GetPoliceReferrals()) != 0 {
		t.Errorf("a refused referral left referrals %v", c.GetPoliceReferrals())
	}
	for _, police := range []string{"policeUnits/ca-ba-dinh", "policeUnits/ca-ha-noi"} {
		if code, body := refer(after, police); code != http.StatusOK {
			t.Errorf("refer to %s after the reform: %d %s, want 200", police, code, body)
		}
	}
	// The referral made before the reform runs on with its unit's liaison.
	code, body := restRaw(t, ts, http.MethodPost, "/v1/"+before+":acknowledgePoliceReferral",
		`{"reference_number":"CA-TB-1","etag":"`+etagOf(t, ts, "police.tb", before)+`"}`,
		map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("police.tb")})
	if code != http.StatusOK {
		t.Errorf("the old unit's liaison acknowledges the referral made before the reform: %d %s", code, body)
	}
}

// A referral accepted before the reform, retried with its request_id
// after it, answers its first answer, not the refusal a new referral to
// that unit now gets; and a police unit covering an ended commune and
// one in force still takes new referrals.
func TestReferralRetriedAcrossTheReformAnswersTheFirst(t *testing.T) {
	ts := startServerAt(t, hn(2025, 6, 20, 9, 0), "")
	ts.addPoliceUnit(t, "ca-truc-bach", pTrucBach2025)
	ts.addPoliceUnit(t, "ca-mixed", pTrucBach2025, pBaDinh)
	before := openCase(t, ts, hn(2025, 6, 20, 8, 0), "00004")
	body := `{"police_unit":"policeUnits/ca-truc-bach","suspected_offence":"Điều 140 BLHS","request_id":"refer-once-1","etag":"` + etagOf(t, ts, operatorID, before) + `"}`
	refer := func(name, body string) (int, []byte) {
		t.Helper()
		return restRaw(t, ts, http.MethodPost, "/v1/"+name+":referToPolice", body,
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get(operatorID)})
	}
	code, first := refer(before, body)
	if code != http.StatusOK {
		t.Fatalf("refer before the reform: %d %s", code, first)
	}
	ts.setClock(t, hn(2025, 7, 2, 9, 0))
	if code, again := refer(before, body); code != http.StatusOK || !strings.Contains(string(again), "ca-truc-bach") {
		t.Errorf("the same referral retried after the reform: %d %s, want its first answer", code, again)
	}
	after := openCase(t, ts, hn(2025, 7, 2, 8, 0), "00004")
	if code, b := refer(after, `{"police_unit":"policeUnits/ca-mixed","suspected_offence":"Điều 140 BLHS","etag":"`+etagOf(t, ts, operatorID, after)+`"}`); code != http.StatusOK {
		t.Errorf("refer to a police unit covering an ended commune and one in force: %d %s, want 200", code, b)
	}
}
