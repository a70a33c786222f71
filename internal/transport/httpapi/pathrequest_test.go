package httpapi

import (
	"net/http/httptest"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The request the gateway sends the server for a request whose input it
// refused carries the fields the path sets, and only those.
func TestPathRequestCarriesThePathsFields(t *testing.T) {
	tests := []struct {
		method, target, rpc string
		want                proto.Message
	}{
		{"POST", "/v1/cases/HN-2026-00001:acknowledge", pb.CaseProcessService_AcknowledgeCase_FullMethodName,
			&pb.AcknowledgeCaseRequest{Name: "cases/HN-2026-00001"}},
		{"POST", "/v1/users/u1/tokens/t%2D1:revoke", pb.AdminService_RevokeToken_FullMethodName,
			&pb.RevokeTokenRequest{Name: "users/u1/tokens/t-1"}},
		{"GET", "/v1/cases/HN-2026-00001/events?page_token=%ff", pb.CaseProcessService_ListCaseEvents_FullMethodName,
			&pb.ListCaseEventsRequest{Parent: "cases/HN-2026-00001"}},
		// Nothing to name: the path sets no field, a value is not UTF-8,
		// or the path is not the route's.
		{"POST", "/v1/reports", pb.ReportService_CreateReport_FullMethodName, &pb.CreateReportRequest{}},
		{"GET", "/v1/cases/HN%ff", pb.CaseService_GetCase_FullMethodName, &pb.GetCaseRequest{}},
		{"DELETE", "/v1/cases/HN-2026-00001", pb.CaseService_GetCase_FullMethodName, &pb.GetCaseRequest{}},
	}
	for _, tc := range tests {
		got := pathRequest(tc.rpc, httptest.NewRequest(tc.method, tc.target, nil))
		gotText, _ := prototext.Marshal(got)
		wantText, _ := prototext.Marshal(tc.want)
		if string(gotText) != string(wantText) {
			t.Errorf("%s %s: %s {%s}, want {%s}", tc.method, tc.target, got.ProtoReflect().Descriptor().FullName(), gotText, wantText)
		}
	}
}
