package grpcapi

import (
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The number fields of a request, typed in full width by a Vietnamese
// input method, are read as their ASCII: a commune's code, a birth date,
// the police's reference number. Free text is left as typed.
func TestNarrowNumbers(t *testing.T) {
	report := &pb.CreateReportRequest{Report: &pb.Report{
		IncidentCommuneCode: "００００４",
		Narrative:           "gọi lúc ９ giờ",
		Children:            []*pb.Child{{Age: &pb.Child_BirthDate{BirthDate: "２０１７－０５－０１"}}},
	}}
	narrowNumbers(report.ProtoReflect())
	if got := report.GetReport().GetIncidentCommuneCode(); got != "00004" {
		t.Errorf("incident_commune_code = %q, want 00004", got)
	}
	if got := report.GetReport().GetChildren()[0].GetBirthDate(); got != "2017-05-01" {
		t.Errorf("birth_date = %q, want 2017-05-01", got)
	}
	if got := report.GetReport().GetNarrative(); got != "gọi lúc ９ giờ" {
		t.Errorf("the narrative became %q; free text stays as typed", got)
	}
	search := &pb.SearchCasesRequest{CommuneCode: "００００４", BirthDate: "２０１７-05-01"}
	narrowNumbers(search.ProtoReflect())
	if search.GetCommuneCode() != "00004" || search.GetBirthDate() != "2017-05-01" {
		t.Errorf("search: commune_code %q, birth_date %q; want 00004, 2017-05-01", search.GetCommuneCode(), search.GetBirthDate())
	}
	ack := &pb.AcknowledgePoliceReferralRequest{ReferenceNumber: "１２３/ＣＳＨＳ"}
	narrowNumbers(ack.ProtoReflect())
	if got := ack.GetReferenceNumber(); got != "123/CSHS" {
		t.Errorf("reference_number = %q, want 123/CSHS", got)
	}
}
