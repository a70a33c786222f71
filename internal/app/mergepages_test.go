package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// A case merged into another keeps its index entries (its unit's, its
// status's, its scope keys'): the export, a record of every case number,
// reads them and keeps its row, and check expects them of the record. The
// list leaves it out as it reads, and that costs no page its fill: a page
// passes over it and takes the next case, so that paging one case at a
// time through a scope whose newest case was absorbed gives every other
// case, a full page each, and the store checks clean.
func TestMergedCaseLeavesNoPageShort(t *testing.T) {
	ts := startServerAt(t, hn(2026, 3, 2, 9, 0), "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	first := openCase(t, ts, hn(2026, 3, 2, 7, 0), "00004")
	second := openCase(t, ts, hn(2026, 3, 2, 7, 30), "00004")
	newest := openCase(t, ts, hn(2026, 3, 2, 8, 0), "00004")
	mergeAsChair(t, ts, first, newest)

	for _, user := range []string{operatorID, "bd.worker", "bd.chair"} {
		for _, status := range []pb.CaseStatus{pb.CaseStatus_CASE_STATUS_UNSPECIFIED, pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT} {
			var got []string
			token := ""
			for {
				page, err := ts.cases().ListCases(ts.as(t, user), &pb.ListCasesRequest{PageSize: 1, PageToken: token, Status: status})
				if err != nil {
					t.Fatalf("ListCases as %s: %v", user, err)
				}
				token = page.GetNextPageToken()
				if token != "" && len(page.GetCases()) != 1 {
					t.Errorf("a page of %s's list (%v) holds %v, not a case, before the last", user, status, caseNames(page.GetCases()))
				}
				got = append(got, caseNames(page.GetCases())...)
				if token == "" {
					break
				}
			}
			if want := []string{second, first}; !slices.Equal(got, want) {
				t.Errorf("%s's list (%v) one case a page: %v, want %v", user, status, got, want)
			}
		}
	}
	file, _, err := exportCases(t, ts, "bd.chair", &pb.ExportCasesRequest{Format: pb.ExportFormat_EXPORT_FORMAT_CSV})
	if err != nil {
		t.Fatal(err)
	}
	if rows := len(slices.DeleteFunc(strings.Split(string(file), "\n")[1:], func(s string) bool { return s == "" })); rows != 3 {
		t.Errorf("the export holds %d rows, want the 3 case numbers", rows)
	}
	ts.stop()
	res, err := boltstore.Check(context.Background(), ts.cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Problems {
		t.Errorf("check after the merge: %s", p)
	}
}
