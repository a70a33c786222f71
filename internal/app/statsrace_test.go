package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// TestStatisticsAfterConcurrentStepsEqualTheirRecount runs operators,
// commune workers and the commune's chair at once on the same cases, in
// random order (calls that open cases, join them and are linked to them
// later, acknowledgements, notes and merges), while the clock moves on
// under them and the scheduler breaches what falls due, racing the steps
// that meet it. The statistics kept write by write must then be what
// counting the stored reports and cases again gives, cell by cell
// (boltstore.Check compares them): each step counted once, a deadline met
// or missed once, a merged case's reports counted where they went.
func TestStatisticsAfterConcurrentStepsEqualTheirRecount(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { statsRace(t, seed) })
	}
}

func statsRace(t *testing.T, seed uint64) {
	const (
		workers = 6
		iters   = 25
	)
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	operator, worker, chair := ts.as(t, operatorID), ts.as(t, "bd.worker"), ts.as(t, "bd.chair")

	var mu sync.Mutex
	var cases, unlinked []string
	for range 4 {
		cases = append(cases, openCase(t, ts, testNow.Add(-time.Hour), "00004"))
	}
	pick := func(rng *rand.Rand, from *[]string) string {
		mu.Lock()
		defer mu.Unlock()
		if len(*from) == 0 {
			return ""
		}
		return (*from)[rng.IntN(len(*from))]
	}
	add := func(to *[]string, name string) {
		mu.Lock()
		*to = append(*to, name)
		mu.Unlock()
	}
	// Refusals a race may answer: a stale etag, a step the case's state
	// no longer allows (merged, acknowledged), a report linked already.
	// outcomes counts them by call, logged so that a run shows the race
	// was one (some of each applied, some refused).
	outcomes := map[string]int{}
	wantRefusal := func(what, call string, err error) {
		mu.Lock()
		outcomes[call+" "+grpcstatus.Code(err).String()]++
		mu.Unlock()
		switch grpcstatus.Code(err) {
		case codes.OK, codes.Aborted, codes.FailedPrecondition, codes.AlreadyExists:
		default:
			t.Errorf("%s: %s: %v", what, call, err)
		}
	}
	report := func(rng *rand.Rand, callType pb.CallType, joins string) *pb.Report {
		r := validReport()
		r.Caregivers[0].SuspectedAbuser = false
		// Received over the last two months, so that cells of two
		// months and of many days are written.
		r.ReceiveTime = timestamppb.New(ts.clock.Now().Add(-time.Duration(rng.IntN(60*24)) * time.Hour))
		r.CallType = callType
		r.Children[0].FullName = fmt.Sprintf("Trẻ số %d", rng.IntN(1000))
		r.Case = joins
		return r
	}

	together(workers, func(w int) {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		for i := range iters {
			what := fmt.Sprintf("worker %d step %d", w, i)
			switch op := rng.IntN(8); op {
			case 0: // a call that opens a case
				r, err := ts.reports().CreateReport(operator, &pb.CreateReportRequest{Report: report(rng, pb.CallType_CALL_TYPE_INTERVENTION, ""), RequestId: fmt.Sprintf("r%d-%d", w, i)})
				if err != nil {
					t.Errorf("%s: CreateReport: %v", what, err)
					continue
				}
				add(&cases, r.GetCase())
			case 1: // a call that opens none, linked later
				r, err := ts.reports().CreateReport(operator, &pb.CreateReportRequest{Report: report(rng, pb.CallType_CALL_TYPE_COUNSELLING, "")})
				if err != nil {
					t.Errorf("%s: CreateReport: %v", what, err)
					continue
				}
				add(&unlinked, r.GetName())
			case 2: // a repeat call about a case's child
				_, err := ts.reports().CreateReport(operator, &pb.CreateReportRequest{Report: report(rng, pb.CallType_CALL_TYPE_INTERVENTION, pick(rng, &cases))})
				wantRefusal(what, "CreateReport joining a case", err)
			case 3:
				if r := pick(rng, &unlinked); r != "" {
					_, err := ts.reports().LinkReport(operator, &pb.LinkReportRequest{Name: r, Case: pick(rng, &cases)})
					wantRefusal(what, "LinkReport", err)
				}
			case 4, 5:
				name := pick(rng, &cases)
				c, err := ts.cases().GetCase(worker, &pb.GetCaseRequest{Name: name})
				if err != nil {
					t.Errorf("%s: GetCase %s: %v", what, name, err)
					continue
				}
				if op == 4 {
					_, err = ts.process().AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: name, Etag: c.GetEtag(), RequestId: fmt.Sprintf("a%d-%d", w, i)})
				} else {
					_, err = ts.process().AddCaseNote(worker, &pb.AddCaseNoteRequest{Name: name, Etag: c.GetEtag(), Text: what})
				}
				wantRefusal(what, "step", err)
			case 6: // a merge of two cases of one child
				survivor, absorbed := pick(rng, &cases), pick(rng, &cases)
				if survivor == absorbed {
					continue
				}
				s, err1 := ts.cases().GetCase(chair, &pb.GetCaseRequest{Name: survivor})
				a, err2 := ts.cases().GetCase(chair, &pb.GetCaseRequest{Name: absorbed})
				if err1 != nil || err2 != nil {
					t.Errorf("%s: GetCase: %v, %v", what, err1, err2)
					continue
				}
				if s.GetName() == a.GetName() { // merged already
					continue
				}
				_, err := ts.process().MergeCase(chair, &pb.MergeCaseRequest{Name: s.GetName(), Etag: s.GetEtag(), AbsorbedCase: a.GetName(), AbsorbedEtag: a.GetEtag(), Reason: "cùng một trẻ"})
				wantRefusal(what, "MergeCase", err)
			case 7: // time passes: what falls due is breached meanwhile
				ts.clock.Advance(time.Duration(1+rng.IntN(6)) * time.Hour)
			}
		}
	})
	ts.settle(t)
	t.Logf("outcomes %v", outcomes)
	ts.stop()
	res, err := boltstore.Check(context.Background(), ts.cfg.DBPath)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	for _, p := range res.Problems {
		t.Errorf("after the race: %s", p)
	}
}
