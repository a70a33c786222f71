package web

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/model"
)

// workerAccounts signs anyone in as a commune worker of Phường Ba Đình,
// who has the unit's queues and the dashboard.
type workerAccounts struct{}

func (workerAccounts) SignIn(_ context.Context, c Credentials) (Account, error) {
	return Account{User: model.User{ID: c.UserID, Role: model.RoleCommuneWorker, Unit: "units/00004@2025-07-01"}, Bearer: "t", TokenID: "t"}, nil
}
func (workerAccounts) SignOut(context.Context, string, string) error { return nil }

// sparseCases answers ListCases as a list filtered within its index may:
// empty pages with a token to go on (the API passes over at most 1,000
// entries the filter leaves out per page), then a page with a case. It
// keeps the page tokens it was asked for.
type sparseCases struct {
	pb.UnimplementedCaseServiceServer
	empty  int // how many empty pages come before the case
	mu     sync.Mutex
	tokens []string
}

func (f *sparseCases) ListCases(_ context.Context, req *pb.ListCasesRequest) (*pb.ListCasesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = append(f.tokens, req.GetPageToken())
	n := 0
	if tok := req.GetPageToken(); tok != "" {
		if _, err := fmt.Sscanf(tok, "p%d", &n); err != nil {
			return nil, err
		}
	}
	if n < f.empty {
		return &pb.ListCasesResponse{NextPageToken: fmt.Sprintf("p%d", n+1)}, nil
	}
	return &pb.ListCasesResponse{Cases: []*pb.Case{{Name: "cases/HN-2026-00042", CaseNumber: "HN-2026-00042"}}}, nil
}

// TestQueuePagesReadOnPastEmptyPages: a list page of the API may be empty
// and still go on. The queues page and the overdue cases read on, as the
// audit page does, so that they do not say "no cases" above a link to a
// page that has some; past the bound of reads, a page still empty says
// that only part of the list was read.
func TestQueuePagesReadOnPastEmptyPages(t *testing.T) {
	for _, tc := range []struct {
		path, empty     string
		empties, reads  int
		found, readSome bool
	}{
		{"/queues", "Không có hồ sơ nào.", 3, 4, true, false},
		{"/queues", "Không có hồ sơ nào.", listReadsPerPage + 2, listReadsPerPage, false, true},
		{"/dashboard/overdue", "Không có hồ sơ quá hạn.", 3, 4, true, false},
		{"/dashboard/overdue", "Không có hồ sơ quá hạn.", listReadsPerPage + 2, listReadsPerPage, false, true},
	} {
		cases := &sparseCases{empty: tc.empties}
		client, base := consoleWith(t, workerAccounts{}, func(srv *grpc.Server) { pb.RegisterCaseServiceServer(srv, cases) })
		var code int
		page := fetch(t, client, base+tc.path, &code)
		if code != 200 {
			t.Fatalf("%s after %d empty pages: %d\n%s", tc.path, tc.empties, code, page)
		}
		if got := strings.Contains(page, "HN-2026-00042"); got != tc.found {
			t.Errorf("%s after %d empty pages: lists the case %v, want %v", tc.path, tc.empties, got, tc.found)
		}
		if len(cases.tokens) != tc.reads {
			t.Errorf("%s after %d empty pages: read %d pages of the API (%q), want %d", tc.path, tc.empties, len(cases.tokens), cases.tokens, tc.reads)
		}
		if strings.Contains(page, tc.empty) && strings.Contains(page, "page=p") {
			t.Errorf("%s after %d empty pages: says %q above a link to the next page", tc.path, tc.empties, tc.empty)
		}
		if got := strings.Contains(page, `id="list-read-on"`); got != tc.readSome {
			t.Errorf("%s after %d empty pages: says only part of the list was read %v, want %v", tc.path, tc.empties, got, tc.readSome)
		}
	}
}

// warnedCases lists cases whose one open deadline has its own warning
// times (the API's warning_times).
type warnedCases struct {
	pb.UnimplementedCaseServiceServer
	cases []*pb.Case
}

func (f *warnedCases) ListCases(context.Context, *pb.ListCasesRequest) (*pb.ListCasesResponse, error) {
	return &pb.ListCasesResponse{Cases: f.cases}, nil
}

// TestCountdownTurnsAmberAtTheDeadlinesOwnWarning: a countdown turns amber
// at the first of the deadline's own warning times, which it was given
// when it started and which the scheduler fires, not at a fraction of its
// span from the running policy: a restart with another policy does not
// recolour it, and a working-day clock's warning placed on a working day
// colours it then. HN-2026-00051's deadline warned an hour ago (amber,
// though at 47% of its span); HN-2026-00052's warns in an hour (green,
// though past 80% of its span); HN-2026-00053's has no warning (green until
// overdue); HN-2026-00054's is overdue (red).
func TestCountdownTurnsAmberAtTheDeadlinesOwnWarning(t *testing.T) {
	now := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC) // serveConsoleWith's clock
	at := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(d)) }
	deadline := func(start, due time.Duration, warn ...time.Duration) []*pb.Deadline {
		d := &pb.Deadline{Id: 1, Kind: "D6_PLAN_DRAFT", State: "OPEN", Clock: "WORKING_DAYS", StartTime: at(start), DueTime: at(due)}
		for _, w := range warn {
			d.WarningTimes = append(d.WarningTimes, at(w))
		}
		return []*pb.Deadline{d}
	}
	cases := &warnedCases{cases: []*pb.Case{
		{Name: "cases/HN-2026-00051", CaseNumber: "HN-2026-00051", Deadlines: deadline(-10*time.Hour, 11*time.Hour, -time.Hour, 5*time.Hour)},
		{Name: "cases/HN-2026-00052", CaseNumber: "HN-2026-00052", Deadlines: deadline(-10*time.Hour, 2*time.Hour, time.Hour)},
		{Name: "cases/HN-2026-00053", CaseNumber: "HN-2026-00053", Deadlines: deadline(-10*time.Hour, time.Hour)},
		{Name: "cases/HN-2026-00054", CaseNumber: "HN-2026-00054", Deadlines: deadline(-10*time.Hour, -time.Hour, -5*time.Hour)},
	}}
	client, base := consoleWith(t, workerAccounts{}, func(srv *grpc.Server) { pb.RegisterCaseServiceServer(srv, cases) })
	var code int
	page := fetch(t, client, base+"/queues", &code)
	if code != 200 {
		t.Fatalf("/queues: %d\n%s", code, page)
	}
	for number, want := range map[string]string{"HN-2026-00051": "amber", "HN-2026-00052": "ok", "HN-2026-00053": "ok", "HN-2026-00054": "red"} {
		i := strings.Index(page, ">"+number+"<")
		if i < 0 {
			t.Fatalf("/queues does not list %s", number)
		}
		row, _, _ := strings.Cut(page[i:], "</tr>")
		if !strings.Contains(row, `class="countdown `+want+`"`) {
			t.Errorf("%s's countdown is not %s: %s", number, want, row)
		}
	}
}
