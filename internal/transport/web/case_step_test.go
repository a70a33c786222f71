package web

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// oneCase answers GetCase with a case on which a note may be added.
type oneCase struct {
	pb.UnimplementedCaseServiceServer
}

func (oneCase) GetCase(context.Context, *pb.GetCaseRequest) (*pb.Case, error) {
	return &pb.Case{Name: "cases/HN-2026-00001", CaseNumber: "HN-2026-00001", Etag: "3",
		Status: pb.CaseStatus_CASE_STATUS_INITIAL_ASSESSMENT, ResponsibleUnit: "units/00004@2025-07-01", AllowedSteps: []string{"addNote"}}, nil
}

// flakyNotes answers AddCaseNote as flaky says, with the case.
type flakyNotes struct {
	pb.UnimplementedCaseProcessServiceServer
	flaky[*pb.AddCaseNoteRequest]
}

func (f *flakyNotes) AddCaseNote(_ context.Context, req *pb.AddCaseNoteRequest) (*pb.Case, error) {
	if err := f.call(req); err != nil {
		return nil, err
	}
	return &pb.Case{Name: "cases/HN-2026-00001", CaseNumber: "HN-2026-00001", Etag: "4"}, nil
}

func (*flakyNotes) ListCaseEvents(context.Context, *pb.ListCaseEventsRequest) (*pb.ListCaseEventsResponse, error) {
	return &pb.ListCaseEventsResponse{}, nil
}

// A step the API does not confirm (the connection dropped, the store did
// not answer, the server failed) keeps the form as typed, with the same
// request id, and says that it may not have been saved and that sending
// it again is safe: sending it again is the very same request, which the
// API applies once. An error page instead lost what was typed, and
// typing it again made a new request, applied a second time if the first
// had been stored after all.
func TestStepNotConfirmedKeepsTheForm(t *testing.T) {
	failures := []error{
		status.Error(codes.Unavailable, "the database did not answer a write, which may or may not have been made"),
		status.Error(codes.Internal, "internal error"),
		status.Error(codes.DeadlineExceeded, "the request took too long"),
	}
	notes := &flakyNotes{flaky: flaky[*pb.AddCaseNoteRequest]{errs: failures}}
	client, base := consoleWith(t, workerAccounts{}, func(srv *grpc.Server) {
		pb.RegisterCaseServiceServer(srv, oneCase{})
		pb.RegisterCaseProcessServiceServer(srv, notes)
	})
	page := fetch(t, client, base+"/cases/HN-2026-00001", nil)
	const typed = "Đã gặp trẻ tại trường; trẻ kể bị đánh tối qua."
	form := url.Values{
		"csrf": {formValue(t, page, "csrf")}, "etag": {"3"}, "request_id": {formValue(t, page, "request_id")}, "text": {typed},
	}
	for _, failure := range failures {
		resp := send(t, client, base+"/cases/HN-2026-00001/steps/AddCaseNote", form)
		b, _ := io.ReadAll(resp.Body)
		page := string(b)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, testCatalogs(t).text("vi", "case.notconfirmed")) {
			t.Errorf("%v: %s, want 503 saying the step may not have been saved:\n%s", failure, resp.Status, page)
		}
		if !strings.Contains(page, typed+"</textarea>") {
			t.Errorf("%v: the page lost the note typed", failure)
		}
		if got := formValue(t, page, "request_id"); got != form.Get("request_id") {
			t.Errorf("%v: request_id %q after the failure, want the form's %q", failure, got, form.Get("request_id"))
		}
	}
	resp := send(t, client, base+"/cases/HN-2026-00001/steps/AddCaseNote", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the note sent again: %s", resp.Status)
	}
	if len(notes.requests) != len(failures)+1 {
		t.Fatalf("%d AddCaseNote calls, want %d", len(notes.requests), len(failures)+1)
	}
	for i, req := range notes.requests[1:] {
		if !proto.Equal(req, notes.requests[0]) {
			t.Errorf("try %d sent %v, want the first try's %v", i+2, req, notes.requests[0])
		}
	}
}

func testCatalogs(t *testing.T) catalogs {
	t.Helper()
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	return cats
}
