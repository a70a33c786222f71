package app_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A request_id is the caller's own: another user who sends the same one,
// with the same request or another, even of the same role and unit, is
// neither answered the first caller's answer nor refused for it; their
// request is carried out as a first try. Request ids are guessable
// ("call-1"), so an id shared across users would have shown one
// operator's report, the reporter's name and phone in it, to another.
func TestRequestIDIsTheCallersOwn(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "operator.two", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	const id = "call-1"
	first, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: validReport(), RequestId: id})
	if err != nil {
		t.Fatal(err)
	}
	// The same request under the same id, by another operator.
	same, err := ts.reports().CreateReport(ts.as(t, "operator.two"), &pb.CreateReportRequest{Report: validReport(), RequestId: id})
	if err != nil {
		t.Fatalf("the same request_id by another user: %v", err)
	}
	if same.GetName() == first.GetName() {
		t.Errorf("another user's request with the same request_id was answered the first user's report %s", first.GetName())
	}
	// Another request under it.
	r := validReport()
	r.Narrative = "Một cuộc gọi khác."
	r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Anonymous{Anonymous: true}}
	other, err := ts.reports().CreateReport(ts.as(t, "operator.two"), &pb.CreateReportRequest{Report: r, RequestId: "call-2"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: r, RequestId: "call-2"})
	if err != nil {
		t.Fatalf("the first operator's own first try under an id the other used: %v", err)
	}
	if again.GetName() == other.GetName() {
		t.Errorf("the first operator was answered the other's report %s", other.GetName())
	}
	// Each one's retry still gets their own first answer.
	retry, err := ts.reports().CreateReport(ts.as(t, "operator.two"), &pb.CreateReportRequest{Report: validReport(), RequestId: id})
	if err != nil || retry.GetName() != same.GetName() {
		t.Errorf("the second operator's retry: %v, %v; want %s", retry.GetName(), err, same.GetName())
	}

	// A case step's id the same way: the step taken by another user
	// under the first one's id is taken, not answered as the first.
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, confBaDinh)
	ts.addUser(t, "bd.worker2", pb.Role_ROLE_COMMUNE_WORKER, confBaDinh)
	c, err := ts.cases().GetCase(ts.as(t, "bd.worker"), &pb.GetCaseRequest{Name: first.GetCase()})
	if err != nil {
		t.Fatal(err)
	}
	noted, err := ts.process().AddCaseNote(ts.as(t, "bd.worker"), &pb.AddCaseNoteRequest{Name: c.GetName(), Etag: c.GetEtag(), RequestId: "note-1", Text: "lần một"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.process().AddCaseNote(ts.as(t, "bd.worker2"), &pb.AddCaseNoteRequest{Name: c.GetName(), Etag: c.GetEtag(), RequestId: "note-1", Text: "lần một"})
	// The etag is stale now: a first try is refused for it (ABORTED),
	// where a replay of the first would have answered the noted case.
	st := wantCode(t, err, codes.Aborted)
	if errorReason(st) != "ETAG_MISMATCH" {
		t.Errorf("the other worker's note under the same request_id: %v, want ETAG_MISMATCH", st)
	}
	second, err := ts.process().AddCaseNote(ts.as(t, "bd.worker2"), &pb.AddCaseNoteRequest{Name: c.GetName(), Etag: noted.GetEtag(), RequestId: "note-1", Text: "lần một"})
	if err != nil {
		t.Fatal(err)
	}
	if second.GetEtag() == noted.GetEtag() {
		t.Errorf("the other worker's note was answered the first worker's case (etag %s)", noted.GetEtag())
	}
}
