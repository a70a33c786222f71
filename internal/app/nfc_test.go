package app_test

import (
	"testing"

	"golang.org/x/text/unicode/norm"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// Vietnamese text comes in whatever normalisation form the keyboard
// sends; it is stored in NFC, so that it compares equal and an answer
// never holds two spellings of one name. Every text of a report, a user
// and a police unit below is sent decomposed (NFD), and every string of
// the answers, and of a later read, is NFC and equal to the text as
// composed.
func TestTextInAnyFormIsStoredNFC(t *testing.T) {
	ts := startServer(t, "")
	nfd := func(s string) string { return norm.NFD.String(s) }

	report := validReport()
	report.Children[0].FullName = nfd("Nguyễn Thị Lan")
	report.Children[0].Condition = nfd("bầm tím ở tay")
	report.Caregivers[0].FullName = nfd("Nguyễn Văn Hùng")
	report.Caregivers[0].Relation = nfd("bố dượng")
	report.Narrative = nfd("Hàng xóm nghe tiếng trẻ khóc và tiếng đánh nhiều đêm.")
	report.GetReporter().GetIdentified().FullName = nfd("Trần Thị Mai")
	report.GetReporter().GetIdentified().RelationToChild = nfd("hàng xóm")
	ctx := ts.as(t, operatorID)
	created, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: report, RequestId: "nfc-report"})
	if err != nil {
		t.Fatalf("create report: %v", err)
	}
	read, err := ts.reports().GetReport(ctx, &pb.GetReportRequest{Name: created.GetName()})
	if err != nil {
		t.Fatalf("get report: %v", err)
	}
	for _, r := range []*pb.Report{created, read} {
		if got := r.GetChildren()[0].GetFullName(); got != "Nguyễn Thị Lan" {
			t.Errorf("child's name %q (% x), want it composed", got, got)
		}
		wantAllNFC(t, r)
	}

	admin := ts.as(t, "admin")
	user, err := ts.admin().CreateUser(admin, &pb.CreateUserRequest{UserId: "nfc.user",
		User: &pb.User{DisplayName: nfd("Lê Thị Hoa (cán bộ BVTE phường Ba Đình)"), Role: pb.Role_ROLE_HOTLINE_OPERATOR, Unit: "orgs/hotline-111"}})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	gotUser, err := ts.admin().GetUser(admin, &pb.GetUserRequest{Name: user.GetUser().GetName()})
	if err != nil {
		t.Fatalf("get user: %v", err)
	}
	for _, u := range []*pb.User{user.GetUser(), gotUser} {
		if u.GetDisplayName() != "Lê Thị Hoa (cán bộ BVTE phường Ba Đình)" {
			t.Errorf("user's display name %q, want it composed", u.GetDisplayName())
		}
		wantAllNFC(t, u)
	}

	unit, err := ts.admin().CreatePoliceUnit(admin, &pb.CreatePoliceUnitRequest{PoliceUnitId: "ca-nfc",
		PoliceUnit: &pb.PoliceUnit{DisplayName: nfd("Công an phường Ba Đình"), Covers: []string{"units/00004@2025-07-01"}}})
	if err != nil {
		t.Fatalf("create police unit: %v", err)
	}
	gotUnit, err := pb.NewPoliceUnitServiceClient(ts.conn).GetPoliceUnit(admin, &pb.GetPoliceUnitRequest{Name: unit.GetName()})
	if err != nil {
		t.Fatalf("get police unit: %v", err)
	}
	for _, u := range []*pb.PoliceUnit{unit, gotUnit} {
		if u.GetDisplayName() != "Công an phường Ba Đình" {
			t.Errorf("police unit's display name %q, want it composed", u.GetDisplayName())
		}
		wantAllNFC(t, u)
	}
}

// wantAllNFC fails for each string of m, at any depth, that is not NFC.
func wantAllNFC(t *testing.T, m proto.Message) {
	t.Helper()
	var walk func(protoreflect.Message)
	walk = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			check := func(v protoreflect.Value) {
				switch fd.Kind() {
				case protoreflect.StringKind:
					if s := v.String(); !norm.NFC.IsNormalString(s) {
						t.Errorf("%s: %q is not NFC", fd.FullName(), s)
					}
				case protoreflect.MessageKind, protoreflect.GroupKind:
					walk(v.Message())
				}
			}
			switch {
			case fd.IsList():
				for i := range v.List().Len() {
					check(v.List().Get(i))
				}
			case fd.IsMap():
				v.Map().Range(func(_ protoreflect.MapKey, v protoreflect.Value) bool {
					if fd.MapValue().Kind() == protoreflect.StringKind && !norm.NFC.IsNormalString(v.String()) {
						t.Errorf("%s: %q is not NFC", fd.FullName(), v.String())
					}
					return true
				})
			default:
				check(v)
			}
			return true
		})
	}
	walk(m.ProtoReflect())
}
