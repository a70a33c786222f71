package app_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// Two operators who take calls about the same child at the same moment
// each open a case; the one whose write commits second is told of the
// other's case among its candidates, as it would be a moment later. The
// candidates were found before the write, in the index as it stood, and
// an index entry is written after its case's commit, so neither was told
// of the other and the child had two cases nobody knew of.
func TestReportsAboutOneChildAtOnceListEachOther(t *testing.T) {
	ts := startServer(t, "")
	children := [][2]string{
		{"Trần Minh Khôi", "Tran Minh Khoi"}, {"Phạm Thu Trang", "Pham Thu Trang"}, {"Lê Gia Bảo", "Le Gia Bao"},
		{"Đỗ Ngọc Ánh", "Do Ngoc Anh"}, {"Vũ Đức Anh", "Vu Duc Anh"}, {"Hoàng Bảo Ngọc", "Hoang Bao Ngoc"},
		{"Bùi Quang Huy", "Bui Quang Huy"}, {"Ngô Phương Linh", "Ngo Phuong Linh"},
	}
	for round, name := range children {
		// Each round's child has a caregiver of her own, so that no round
		// finds another's.
		caregiver := []string{"Hùng", "Dũng", "Cường", "Thắng", "Sơn", "Tuấn", "Long", "Hải"}[round]
		call := func(typed, phone string) *pb.Report {
			r := firstCall()
			r.Children[0].FullName = typed
			r.Children[0].Age = &pb.Child_BirthDate{BirthDate: fmt.Sprintf("2016-0%d-1%d", round+1, round)}
			r.Caregivers = []*pb.Caregiver{{FullName: "Nguyễn Văn " + caregiver, Relation: "bố", Phone: phone}}
			return r
		}
		phone := fmt.Sprintf("0912 555 %03d", round)
		// The second operator types the name without diacritics and the
		// phone in E.164.
		reports := []*pb.Report{call(name[0], phone), call(name[1], fmt.Sprintf("+84912555%03d", round))}
		answers := make([]*pb.Report, 2)
		errs := make([]error, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range reports {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				answers[i], errs[i] = ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: reports[i]})
			}()
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		a, b := answers[0], answers[1]
		if a.GetCase() == "" || b.GetCase() == "" || a.GetCase() == b.GetCase() {
			t.Fatalf("round %d: cases %q and %q, want two", round, a.GetCase(), b.GetCase())
		}
		told := false
		for i, answer := range answers {
			other := answers[1-i].GetCase()
			for _, c := range answer.GetCandidates() {
				if c.GetCase() != other {
					continue
				}
				told = true
				// Scored as the index scores it: as a search with the same
				// report finds the other case now.
				now, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: reports[i], ValidateOnly: true})
				if err != nil {
					t.Fatal(err)
				}
				at := slices.IndexFunc(now.GetCandidates(), func(n *pb.ReportCandidate) bool { return n.GetCase() == other })
				if at < 0 {
					t.Fatalf("round %d: a search with the report now does not find %s: %v", round, other, candidateCases(now.GetCandidates()))
				}
				if n := now.GetCandidates()[at]; n.GetScore() != c.GetScore() || !slices.Equal(n.GetMatchedFields(), c.GetMatchedFields()) {
					t.Errorf("round %d: %s was listed with score %v %v; a search now scores it %v %v", round, other, c.GetScore(), c.GetMatchedFields(), n.GetScore(), n.GetMatchedFields())
				}
			}
		}
		if !told {
			t.Errorf("round %d: %s lists %v and %s lists %v: neither is told of the other's case", round,
				a.GetCase(), candidateCases(a.GetCandidates()), b.GetCase(), candidateCases(b.GetCandidates()))
		}
	}
}
