package app_test

// Requests that meet at the same instant: the same request_id sent twice
// at once, two steps on one case with the same etag. Exactly one applies;
// the others get its answer, or are refused as the README says, and
// nothing is written twice or half.

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// together runs fn(0..n-1) in n goroutines released at once, and waits
// for them all: the requests meet at the server as nearly at the same
// instant as a test can make them, without a sleep.
func together(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	for i := range n {
		done.Go(func() {
			ready.Done()
			<-start
			fn(i)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// reportsOf counts the reports the operator sees.
func reportsOf(t *testing.T, ts *testServer) int {
	t.Helper()
	n, token := 0, ""
	for {
		resp, err := ts.reports().ListReports(ts.as(t, operatorID), &pb.ListReportsRequest{PageSize: 100, PageToken: token})
		if err != nil {
			t.Fatalf("ListReports: %v", err)
		}
		n += len(resp.GetReports())
		if token = resp.GetNextPageToken(); token == "" {
			return n
		}
	}
}

// TestSameRequestIDAtOnceAppliesOnce sends one CreateReport eight times at
// once with one request_id, over gRPC and over REST: one report is made,
// and every answer is that report. The same request_id with another body,
// sent at once with the first, is REQUEST_ID_REUSED, never a second report
// or an INTERNAL.
func TestSameRequestIDAtOnceAppliesOnce(t *testing.T) {
	const n = 8
	ts := startServerAt(t, testNow, "")
	ctx := ts.as(t, operatorID)
	before := reportsOf(t, ts)

	req := &pb.CreateReportRequest{Report: validReport(), RequestId: "call-at-once"}
	names := make([]string, n)
	together(n, func(i int) {
		resp, err := ts.reports().CreateReport(ctx, req)
		if err != nil {
			t.Errorf("CreateReport %d: %v", i, err)
			return
		}
		names[i] = resp.GetName() + " " + resp.GetCase()
	})
	for i := range names {
		if names[i] != names[0] {
			t.Errorf("answer %d = %q, answer 0 = %q: two reports for one request_id", i, names[i], names[0])
		}
	}

	// REST, the same body in its JSON form.
	body, err := protojson.Marshal(validReport())
	if err != nil {
		t.Fatal(err)
	}
	restNames := make([]string, n)
	together(n, func(i int) {
		code, answer := restPost(t, ts, operatorID, "/v1/reports?request_id=rest-at-once", string(body))
		if code != http.StatusOK {
			t.Errorf("REST CreateReport %d: %d %s", i, code, answer)
			return
		}
		var resp pb.Report
		if err := protojson.Unmarshal([]byte(answer), &resp); err != nil {
			t.Errorf("REST CreateReport %d: %v", i, err)
		}
		restNames[i] = resp.GetName()
	})
	for i := range restNames {
		if restNames[i] != restNames[0] {
			t.Errorf("REST answer %d = %q, answer 0 = %q", i, restNames[i], restNames[0])
		}
	}

	// Different bodies under one request_id at once: one applies.
	other := validReport()
	other.IncidentCommuneCode = "00070"
	var mu sync.Mutex
	ok, reused := map[string]int{}, 0
	together(n, func(i int) {
		r := &pb.CreateReportRequest{Report: validReport(), RequestId: "call-two-bodies"}
		if i%2 == 1 {
			r.Report = proto.Clone(other).(*pb.Report)
		}
		resp, err := ts.reports().CreateReport(ctx, r)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			ok[resp.GetName()]++
		case grpcstatus.Code(err) == codes.AlreadyExists:
			reused++
			wantReused(t, err)
		default:
			t.Errorf("CreateReport %d with body %d: %v", i, i%2, err)
		}
	})
	if len(ok) != 1 || reused != n/2 {
		t.Errorf("two bodies at once: answered reports %v and %d REQUEST_ID_REUSED; want one report answered to one body's %d senders, the other's refused", ok, reused, n/2)
	}
	if got := reportsOf(t, ts); got != before+3 {
		t.Errorf("reports after the three request_ids: %d more, want 3", got-before)
	}
}

// TestSameCreateUserAtOnceCreatesOneUser sends one CreateUser eight
// times at once with one request_id, and another user under one
// request_id with two bodies: one user each, one token each, the same
// answer to every sender of the body applied, REQUEST_ID_REUSED to the
// others.
func TestSameCreateUserAtOnceCreatesOneUser(t *testing.T) {
	const n = 8
	ts := startServer(t, "")
	ctx := ts.as(t, "admin")
	req := &pb.CreateUserRequest{
		UserId:    "lan.nguyen",
		User:      &pb.User{DisplayName: "Nguyễn Thị Lan", Role: pb.Role_ROLE_HOTLINE_OPERATOR, Unit: "orgs/hotline-111"},
		RequestId: "add-lan-at-once",
	}
	tokens := make([]string, n)
	together(n, func(i int) {
		resp, err := ts.admin().CreateUser(ctx, req)
		if err != nil {
			t.Errorf("CreateUser %d: %v", i, err)
			return
		}
		tokens[i] = resp.GetToken().GetName()
	})
	for i := range tokens {
		if tokens[i] != tokens[0] || tokens[i] == "" {
			t.Errorf("CreateUser %d answered token %q, the first %q", i, tokens[i], tokens[0])
		}
	}
	toks, err := ts.admin().ListTokens(ctx, &pb.ListTokensRequest{Parent: "users/lan.nguyen"})
	if err != nil || len(toks.GetTokens()) != 1 {
		t.Errorf("tokens of the user created %d times at once: %v, %v; want one", n, toks, err)
	}

	var mu sync.Mutex
	applied, reused := 0, 0
	together(n, func(i int) {
		r := proto.Clone(req).(*pb.CreateUserRequest)
		r.UserId, r.RequestId = "minh.tran", "add-minh-at-once"
		if i%2 == 1 {
			r.User.DisplayName = "Trần Văn Minh"
		}
		_, err := ts.admin().CreateUser(ctx, r)
		mu.Lock()
		defer mu.Unlock()
		switch grpcstatus.Code(err) {
		case codes.OK:
			applied++
		case codes.AlreadyExists:
			reused++
			wantReused(t, err)
		default:
			t.Errorf("CreateUser %d with body %d: %v", i, i%2, err)
		}
	})
	if applied != n/2 || reused != n/2 {
		t.Errorf("two bodies under one request_id at once: %d answered, %d REQUEST_ID_REUSED; want %d each", applied, reused, n/2)
	}
	toks, err = ts.admin().ListTokens(ctx, &pb.ListTokensRequest{Parent: "users/minh.tran"})
	if err != nil || len(toks.GetTokens()) != 1 {
		t.Errorf("tokens of the user of two bodies at once: %v, %v; want one", toks, err)
	}
}

// restPost posts body to path as user and returns the status and the
// answer.
func restPost(t *testing.T, ts *testServer, user, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+ts.HTTPAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	req.Header.Set("Authorization", "Bearer "+ts.tokens.get(user))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// TestSameStepAtOnce sends one acknowledgement of a case eight times at
// once, with one request_id and the case's etag: all answer the same
// case at the next etag, and the timeline has one acknowledgement. Then
// eight notes with the same etag and eight request_ids: one applies, the
// others are ABORTED (ETAG_MISMATCH) and wrote nothing.
func TestSameStepAtOnce(t *testing.T) {
	const n = 8
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ctx := ts.as(t, "bd.worker")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	etag := etagOf(t, ts, "bd.worker", name)
	eventsBefore := len(caseEvents(t, ts, "bd.worker", name))

	etags := make([]string, n)
	together(n, func(i int) {
		c, err := ts.process().AcknowledgeCase(ctx, &pb.AcknowledgeCaseRequest{Name: name, Etag: etag, RequestId: "ack-at-once"})
		if err != nil {
			t.Errorf("AcknowledgeCase %d: %v", i, err)
			return
		}
		etags[i] = c.GetEtag()
	})
	for i := range etags {
		if etags[i] != etags[0] || etags[i] == etag {
			t.Errorf("acknowledgement %d answered etag %q, the first %q (sent %q)", i, etags[i], etags[0], etag)
		}
	}
	// The acknowledgement meets its deadline: two events, once each.
	kinds := map[string]int{}
	for _, e := range caseEvents(t, ts, "bd.worker", name)[eventsBefore:] {
		kinds[e.GetKind()+" "+e.GetDetail()]++
	}
	if want := map[string]int{"ACKNOWLEDGED ": 1, "DEADLINE_MET ACKNOWLEDGE": 1}; !maps.Equal(kinds, want) {
		t.Errorf("the acknowledgement sent %d times at once wrote %v, want %v", n, kinds, want)
	}

	// Over REST, the request_id beside the etag in the body: another case.
	name = openCase(t, ts, testNow.Add(-time.Hour), "00004")
	etag = etagOf(t, ts, "bd.worker", name)
	eventsBefore = len(caseEvents(t, ts, "bd.worker", name))
	together(n, func(i int) {
		code, answer := restPost(t, ts, "bd.worker", "/v1/"+name+":acknowledge", fmt.Sprintf(`{"etag": %q, "request_id": "rest-ack-at-once"}`, etag))
		if code != http.StatusOK {
			t.Errorf("REST acknowledgement %d: %d %s", i, code, answer)
			return
		}
		var c pb.Case
		if err := protojson.Unmarshal([]byte(answer), &c); err != nil {
			t.Errorf("REST acknowledgement %d: %v", i, err)
		}
		etags[i] = c.GetEtag()
	})
	for i := range etags {
		if etags[i] != etags[0] || etags[i] == etag {
			t.Errorf("REST acknowledgement %d answered etag %q, the first %q (sent %q)", i, etags[i], etags[0], etag)
		}
	}
	if got := len(caseEvents(t, ts, "bd.worker", name)) - eventsBefore; got != 2 {
		t.Errorf("the REST acknowledgement sent %d times at once wrote %d events, want 2 (the acknowledgement and its deadline met)", n, got)
	}

	etag = etagOf(t, ts, "bd.worker", name)
	eventsBefore = len(caseEvents(t, ts, "bd.worker", name))
	var mu sync.Mutex
	applied, aborted := 0, 0
	together(n, func(i int) {
		_, err := ts.process().AddCaseNote(ctx, &pb.AddCaseNoteRequest{Name: name, Etag: etag, RequestId: fmt.Sprintf("note-%d", i), Text: fmt.Sprintf("note %d", i)})
		mu.Lock()
		defer mu.Unlock()
		switch grpcstatus.Code(err) {
		case codes.OK:
			applied++
		case codes.Aborted:
			aborted++
			if r := errorReason(grpcstatus.Convert(err)); r != "ETAG_MISMATCH" {
				t.Errorf("note %d: reason %q, want ETAG_MISMATCH", i, r)
			}
		default:
			t.Errorf("note %d: %v", i, err)
		}
	})
	if applied != 1 || aborted != n-1 {
		t.Errorf("%d notes with one etag at once: %d applied, %d aborted; want 1 and %d", n, applied, aborted, n-1)
	}
	if got := len(caseEvents(t, ts, "bd.worker", name)) - eventsBefore; got != 1 {
		t.Errorf("the notes wrote %d events, want 1", got)
	}
}

// TestTwoInstancesAtOnceOnEtcd sends the same requests at once to two
// instances sharing an etcd store, whose transactions are optimistic: one
// CreateReport request_id answers one report on both, one etag lets one
// note through, and reports at once on both take distinct case numbers
// with no gap.
func TestTwoInstancesAtOnceOnEtcd(t *testing.T) {
	const n = 8
	cluster, dir, clk, a := etcdWithWorker(t)
	b := startOnEtcd(t, cluster.Endpoints(), dir, clk)
	inst := []*testServer{a, b}

	req := &pb.CreateReportRequest{Report: validReport(), RequestId: "call-two-instances"}
	names := make([]string, n)
	together(n, func(i int) {
		ts := inst[i%2]
		resp, err := ts.reports().CreateReport(ts.as(t, operatorID), req)
		if err != nil {
			t.Errorf("CreateReport %d: %v", i, err)
			return
		}
		names[i] = resp.GetName() + " " + resp.GetCase()
	})
	for i := range names {
		if names[i] != names[0] {
			t.Errorf("answer %d = %q, answer 0 = %q: two reports for one request_id", i, names[i], names[0])
		}
	}

	cases := make([]string, 2*n)
	together(2*n, func(i int) {
		ts := inst[i%2]
		r := validReport()
		r.Children[0].FullName = fmt.Sprintf("Trẻ %d", i)
		resp, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r, RequestId: fmt.Sprintf("call-%d", i)})
		if err != nil {
			t.Errorf("CreateReport %d: %v", i, err)
			return
		}
		cases[i] = resp.GetCase()
	})
	slices.Sort(cases)
	for i, c := range cases {
		// The first report above opened case 1.
		if want := fmt.Sprintf("cases/HN-2026-%05d", i+2); c != want {
			t.Errorf("case numbers of %d reports at once: %v, want 2 to %d, each once", 2*n, cases, 2*n+1)
			break
		}
	}

	name := strings.Fields(names[0])[1]
	etag := etagOf(t, a, "bd.worker", name)
	var mu sync.Mutex
	applied := 0
	together(n, func(i int) {
		ts := inst[i%2]
		_, err := ts.process().AddCaseNote(ts.as(t, "bd.worker"), &pb.AddCaseNoteRequest{Name: name, Etag: etag, RequestId: fmt.Sprintf("note-%d", i), Text: fmt.Sprintf("note %d", i)})
		mu.Lock()
		defer mu.Unlock()
		switch grpcstatus.Code(err) {
		case codes.OK:
			applied++
		case codes.Aborted:
		default:
			t.Errorf("note %d: %v", i, err)
		}
	})
	if applied != 1 {
		t.Errorf("%d notes with one etag at once on two instances: %d applied, want 1", n, applied)
	}
}

// TestCrossingStepsAtOnce races steps that each undo what the other
// assumes: a merge of A into B against one of B into A, and a transfer
// accepted by the receiving commune while the sender writes on the case
// with the same etag. One applies, the other is refused (ABORTED on the
// etag, or FAILED_PRECONDITION on the state it found), and the cases show
// exactly the one applied: never each case merged into the other.
func TestCrossingStepsAtOnce(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	chair, bd, hk := ts.as(t, "bd.chair"), ts.as(t, "bd.worker"), ts.as(t, "hk.worker")
	refused := func(err error) bool {
		c := grpcstatus.Code(err)
		return c == codes.Aborted || c == codes.FailedPrecondition
	}

	for round := range 5 {
		pair := []string{openCase(t, ts, testNow.Add(-time.Hour), "00004"), openCase(t, ts, testNow.Add(-time.Hour), "00004")}
		etags := []string{etagOf(t, ts, "bd.chair", pair[0]), etagOf(t, ts, "bd.chair", pair[1])}
		errs := make([]error, 2)
		together(2, func(i int) {
			_, errs[i] = ts.process().MergeCase(chair, &pb.MergeCaseRequest{
				Name: pair[i], Etag: etags[i], AbsorbedCase: pair[1-i], AbsorbedEtag: etags[1-i],
				Reason: "cùng một trẻ", RequestId: fmt.Sprintf("merge-%d-%d", round, i),
			})
		})
		if (errs[0] == nil) == (errs[1] == nil) || !refused(errs[0]) && !refused(errs[1]) {
			t.Errorf("round %d: crossing merges answered %v and %v; want one applied, the other ABORTED or FAILED_PRECONDITION", round, errs[0], errs[1])
			continue
		}
		survivor := 0
		if errs[0] != nil {
			survivor = 1
		}
		s, err := ts.cases().GetCase(chair, &pb.GetCaseRequest{Name: pair[1-survivor]})
		if err != nil || s.GetName() != pair[survivor] || len(s.GetMergedFrom()) != 1 {
			t.Errorf("round %d: the absorbed case %s reads %v (%v), want the survivor %s merged from it once", round, pair[1-survivor], s.GetName(), err, pair[survivor])
		}
	}

	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	c, err := ts.process().AcknowledgeCase(bd, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)})
	if err != nil {
		t.Fatal(err)
	}
	c, err = ts.process().ProposeTransfer(bd, &pb.ProposeTransferRequest{Name: name, Etag: c.GetEtag(), ToUnit: pHoanKiem, Reason: "gia đình chuyển nhà"})
	if err != nil {
		t.Fatal(err)
	}
	errs := make([]error, 2)
	together(2, func(i int) {
		if i == 0 {
			_, errs[0] = ts.process().AcceptTransfer(hk, &pb.AcceptTransferRequest{Name: name, Etag: c.GetEtag()})
		} else {
			_, errs[1] = ts.process().AddCaseNote(bd, &pb.AddCaseNoteRequest{Name: name, Etag: c.GetEtag(), Text: "gọi lại cho gia đình"})
		}
	})
	if (errs[0] == nil) == (errs[1] == nil) || !refused(errs[0]) && !refused(errs[1]) {
		t.Fatalf("an acceptance and the sender's note with one etag at once: %v and %v; want one applied, the other refused", errs[0], errs[1])
	}
	notes := 0
	for _, e := range caseEvents(t, ts, "bd.chair", name) {
		if e.GetKind() == "NOTE_ADDED" {
			notes++
		}
	}
	unit := getCase(t, ts, "bd.chair", name).GetResponsibleUnit()
	if accepted := errs[0] == nil; accepted && (unit != pHoanKiem || notes != 0) || !accepted && (unit != pBaDinh || notes != 1) {
		t.Errorf("acceptance %v, note %v: the case is %s's with %d notes; want only the winner's change", errs[0], errs[1], unit, notes)
	}
}
