package crashtest

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// outcome is what is known of a write.
type outcome int

const (
	inDoubt outcome = iota // sent, no answer: applied or not
	acked                  // answered OK: must be there, once
	refused                // answered with a refusal: must not be there
	// hidden: in doubt, and the retry answered NOT_FOUND (the caller no
	// longer sees the case), so the client cannot tell; the checks find
	// out from the timeline whether it was applied.
	hidden
)

// reportEntry is one CreateReport request, by its request_id.
type reportEntry struct {
	rid   string
	req   *pb.CreateReportRequest
	opens bool   // an intervention report that opens a case
	joins string // the case it joins, "" if none
	cycle int

	state    outcome
	name     string // "reports/{id}" once acknowledged
	caseName string // the case it opened or joined
}

// stepEntry is one transition request, by its request_id.
type stepEntry struct {
	rid      string
	method   string
	kind     string // the timeline event the step writes, once
	caseName string
	note     string // AddCaseNote's text
	cycle    int
	call     func(ctx context.Context, h *harness, p pb.CaseProcessServiceClient) (*pb.Case, error)

	state outcome
	etag  uint64 // of the first acknowledged answer
	sends int    // answers and errors recorded so far
}

// caseEntry is a case an acknowledged report opened.
type caseEntry struct {
	name    string
	maxEtag uint64 // the highest etag an acknowledged answer carried
}

// ledger is what the clients were told, across cycles.
type ledger struct {
	mu        sync.Mutex
	cycle     int
	reports   []*reportEntry
	steps     []*stepEntry
	cases     map[string]*caseEntry
	caseNames []string          // acknowledged cases, oldest first
	touched   map[string]bool   // cases written to (or tried) in this cycle
	pendingBy map[string]string // request_id -> method, for messages
	// reads are the acknowledged GetCase calls of the workload, by the
	// request id they were sent with: the file must hold the audit event
	// of each, since a read is answered only after its event is on disk.
	reads map[string]string // request id -> case
}

func newLedger() *ledger {
	return &ledger{cases: map[string]*caseEntry{}, touched: map[string]bool{}, pendingBy: map[string]string{}, reads: map[string]string{}}
}

func (l *ledger) beginCycle(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cycle = n
	l.touched = map[string]bool{}
}

func (l *ledger) addCase(name string) {
	if _, ok := l.cases[name]; ok || name == "" {
		return
	}
	l.cases[name] = &caseEntry{name: name}
	l.caseNames = append(l.caseNames, name)
}

// ackedByMethod counts the acknowledged transitions by method, for the
// summary: which steps the run crashed around.
func (l *ledger) ackedByMethod() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := map[string]int{}
	for _, e := range l.steps {
		if e.state == acked {
			n[e.method]++
		}
	}
	var out []string
	for _, m := range slices.Sorted(maps.Keys(n)) {
		out = append(out, fmt.Sprintf("%s %d", m, n[m]))
	}
	return strings.Join(out, ", ")
}

// pickCase returns an acknowledged case, mostly a recent one.
func (l *ledger) pickCase(rng *rand.Rand) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.caseNames)
	if n == 0 {
		return ""
	}
	if rng.IntN(100) < 75 {
		recent := min(n, 40)
		return l.caseNames[n-recent+rng.IntN(recent)]
	}
	return l.caseNames[rng.IntN(n)]
}

// worker is one client of the workload: until ctx ends, it records
// reports and takes steps on the cases, with think time between; while
// burst says so (shortly before a kill) without, so that the kill finds
// many requests in flight without the database growing too fast.
func (h *harness) worker(ctx context.Context, cycle, w int, cl *client, rng *rand.Rand, burst func() bool) {
	for i := 1; ctx.Err() == nil; i++ {
		rid := fmt.Sprintf("c%d-w%d-%d", cycle, w, i)
		if rng.IntN(100) < 35 || h.led.pickCase(rng) == "" {
			h.opReport(ctx, cl, rng, rid)
		} else {
			h.opStep(ctx, cl, rng, rid)
		}
		think := time.Duration(40+rng.IntN(80)) * time.Millisecond
		if burst() {
			think = time.Duration(rng.IntN(3)) * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(think):
		}
	}
}

// errClass sorts a call's error.
type errClass int

const (
	classOK         errClass = iota
	classInDoubt             // the server died or the call was cut: outcome unknown
	classRefused             // a refusal the workload expects (stale etag, wrong step)
	classUnexpected          // anything else: a bug of the service (or the test)
)

func (h *harness) classify(err error) errClass {
	if err == nil {
		return classOK
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Canceled, codes.DeadlineExceeded:
		return classInDoubt
	case codes.Internal, codes.Unknown:
		// A connection cut by the kill can surface as these too.
		if h.killing.Load() {
			return classInDoubt
		}
	case codes.Aborted, codes.FailedPrecondition:
		return classRefused
	}
	return classUnexpected
}

// newReport is a valid report received a few minutes ago.
func newReport(commune string, callType pb.CallType, joins string) *pb.Report {
	return &pb.Report{
		Channel:             pb.Channel_CHANNEL_HOTLINE_111,
		ReceiveTime:         timestamppb.New(time.Now().Add(-5 * time.Minute).Truncate(time.Second)),
		IncidentCommuneCode: commune,
		CallType:            callType,
		Children: []*pb.Child{{
			FullName:  "Nguyễn Thị Lan",
			Age:       &pb.Child_EstimatedAgeYears{EstimatedAgeYears: 9},
			Sex:       pb.Sex_SEX_FEMALE,
			Condition: "bầm tím ở tay",
		}},
		Caregivers:     []*pb.Caregiver{{FullName: "Nguyễn Văn Hùng", Relation: "bố dượng", SuspectedAbuser: true}},
		Narrative:      "Hàng xóm nghe tiếng trẻ khóc và tiếng đánh nhiều đêm.",
		SuspectedAbuse: []pb.AbuseForm{pb.AbuseForm_ABUSE_FORM_VIOLENCE},
		Reporter: &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{
			Consent: true, FullName: "Trần Thị Mai", Phone: "0912 345 678", RelationToChild: "hàng xóm",
		}}},
		Case: joins,
	}
}

// opReport records a report: mostly an intervention that opens a case in
// Ba Đình, some in Hoàn Kiếm, some counselling calls (no case), some a
// repeat call joining a case.
func (h *harness) opReport(ctx context.Context, cl *client, rng *rand.Rand, rid string) {
	commune, callType, joins := "00004", pb.CallType_CALL_TYPE_INTERVENTION, ""
	switch x := rng.IntN(100); {
	case x < 70:
	case x < 80:
		commune = "00070"
	case x < 90:
		callType = pb.CallType_CALL_TYPE_COUNSELLING
	default:
		joins = h.led.pickCase(rng)
	}
	e := &reportEntry{
		rid: rid, req: &pb.CreateReportRequest{Report: newReport(commune, callType, joins), RequestId: rid},
		opens: callType == pb.CallType_CALL_TYPE_INTERVENTION && joins == "", joins: joins,
	}
	h.led.mu.Lock()
	e.cycle = h.led.cycle
	h.led.reports = append(h.led.reports, e)
	if joins != "" {
		h.led.touched[joins] = true
	}
	h.led.mu.Unlock()

	err := h.sendReport(ctx, cl, e)
	switch {
	case err != nil && h.classify(err) == classInDoubt && rng.IntN(2) == 0 && ctx.Err() == nil:
		// Retry the same request at once, as a client would.
		time.Sleep(20 * time.Millisecond)
		_ = h.sendReport(ctx, cl, e)
	case err == nil && rng.IntN(100) < 15:
		// Retry an answered request: the same report, never a second one.
		if h.sendReport(ctx, cl, e) == nil {
			h.bump(func(s *stats) { s.sameAnswers++ })
		}
	}
}

// sendReport sends e's request once and records the answer.
func (h *harness) sendReport(ctx context.Context, cl *client, e *reportEntry) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := cl.reports.CreateReport(h.as(cctx, userOp), e.req)
	h.settleReport(e, resp, err, true)
	return err
}

func (h *harness) bump(f func(*stats)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(&h.stats)
}

// settleReport records the answer to a CreateReport. live is true while
// the workload runs (an acknowledgement then counts as one).
func (h *harness) settleReport(e *reportEntry, resp *pb.Report, err error, live bool) {
	switch h.classify(err) {
	case classOK:
		h.led.mu.Lock()
		defer h.led.mu.Unlock()
		if e.state == acked {
			if resp.GetName() != e.name || resp.GetCase() != e.caseName {
				h.problem("CreateReport request_id %s answered %s (case %q) when retried, first %s (case %q): a duplicate",
					e.rid, resp.GetName(), resp.GetCase(), e.name, e.caseName)
			}
			return
		}
		wasInDoubt := e.state == inDoubt && !live
		e.state, e.name, e.caseName = acked, resp.GetName(), resp.GetCase()
		switch {
		case e.opens && e.caseName == "":
			h.problem("CreateReport %s (intervention) opened no case", e.rid)
		case e.joins != "" && e.caseName != e.joins:
			h.problem("CreateReport %s joined %q, want %s", e.rid, e.caseName, e.joins)
		case !e.opens && e.joins == "" && e.caseName != "":
			h.problem("CreateReport %s (counselling) opened case %s", e.rid, e.caseName)
		}
		if e.opens {
			h.led.addCase(e.caseName)
		}
		if e.caseName != "" {
			h.led.touched[e.caseName] = true
		}
		h.mu.Lock()
		if live {
			h.stats.ackedReports++
		} else if wasInDoubt {
			h.stats.inDoubtReports++
		}
		h.mu.Unlock()
	case classInDoubt:
		// Stays as it was: in doubt, or acknowledged by an earlier answer.
	case classRefused:
		// A report that joins a case another client has closed since
		// (the workload closes cases) is refused: reopen it first. Like
		// a stale etag, it must then not be there.
		if e.joins == "" || status.Code(err) != codes.FailedPrecondition {
			h.problem("CreateReport request_id %s: %v (a valid report must be recorded)", e.rid, err)
			return
		}
		h.led.mu.Lock()
		defer h.led.mu.Unlock()
		if e.state == acked {
			h.problem("CreateReport request_id %s joining %s: acknowledged, then refused when retried: %v", e.rid, e.joins, err)
			return
		}
		e.state = refused
	default:
		h.problem("CreateReport request_id %s: %v (a valid report must be recorded)", e.rid, err)
	}
}

// opStep takes a step on a case: reads it as the city officer (who sees
// every case) and does what the case's state allows, as the user whose
// step it is.
func (h *harness) opStep(ctx context.Context, cl *client, rng *rand.Rand, rid string) {
	name := h.led.pickCase(rng)
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	readID := rid + ".read"
	c, err := cl.cases.GetCase(metadata.AppendToOutgoingContext(h.as(cctx, userCity), "x-request-id", readID), &pb.GetCaseRequest{Name: name})
	cancel()
	if err != nil {
		if h.classify(err) != classInDoubt {
			h.problem("GetCase %s (an acknowledged case) as the city officer: %v", name, err)
		}
		return
	}
	e := planStep(c, rng, rid)
	h.led.mu.Lock()
	h.led.reads[readID] = name
	e.cycle = h.led.cycle
	h.led.steps = append(h.led.steps, e)
	h.led.touched[name] = true
	h.led.mu.Unlock()

	err = h.sendStep(ctx, cl, e)
	switch {
	case err != nil && h.classify(err) == classInDoubt && rng.IntN(2) == 0 && ctx.Err() == nil:
		time.Sleep(20 * time.Millisecond)
		_ = h.sendStep(ctx, cl, e)
	case err == nil && rng.IntN(100) < 15:
		// An answered step retried: the first answer again, nothing done twice.
		if h.sendStep(ctx, cl, e) == nil {
			h.bump(func(s *stats) { s.sameAnswers++ })
		}
	}
}

// sendStep sends e's request once and records the answer.
func (h *harness) sendStep(ctx context.Context, cl *client, e *stepEntry) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := e.call(cctx, h, cl.proc)
	h.settleStep(e, resp, err, true)
	return err
}

// settleStep records the answer to a transition.
func (h *harness) settleStep(e *stepEntry, resp *pb.Case, err error, live bool) {
	h.led.mu.Lock()
	defer h.led.mu.Unlock()
	first := e.sends == 0
	e.sends++
	class := h.classify(err)
	if status.Code(err) == codes.NotFound && first && (e.method == "AcceptTransfer" || e.method == "DeclineTransfer") {
		// The case was read while the transfer was offered to the unit,
		// which sees it only while the offer stands; another client
		// decided it meanwhile. A refusal like a stale etag.
		class = classRefused
	}
	switch class {
	case classOK:
		// A police step answers the police view, whose etag ("p" and a
		// number) counts the changes that view shows, not the case's
		// revision: it is compared between retries, never with the case's.
		view := strings.HasPrefix(resp.GetEtag(), "p")
		etag, perr := strconv.ParseUint(strings.TrimPrefix(etagCount(resp.GetEtag()), "p"), 10, 64)
		if perr != nil {
			h.problem("%s %s on %s: etag %q is not a number", e.method, e.rid, e.caseName, resp.GetEtag())
		}
		if e.state == acked {
			if etag != e.etag {
				h.problem("%s request_id %s on %s answered etag %d when retried, first %d: applied twice?", e.method, e.rid, e.caseName, etag, e.etag)
			}
			return
		}
		if e.state == refused {
			h.problem("%s request_id %s on %s: refused, then applied when retried", e.method, e.rid, e.caseName)
		}
		wasInDoubt := e.state == inDoubt && !live
		e.state, e.etag = acked, etag
		if ce := h.led.cases[e.caseName]; ce != nil && !view {
			ce.maxEtag = max(ce.maxEtag, etag)
		}
		h.mu.Lock()
		if live {
			h.stats.ackedSteps++
		} else if wasInDoubt {
			h.stats.inDoubtStepsApplied++
		}
		h.mu.Unlock()
	case classInDoubt:
	case classRefused:
		switch e.state {
		case acked:
			h.problem("%s request_id %s on %s: acknowledged, then refused when retried: %v", e.method, e.rid, e.caseName, err)
		case inDoubt:
			if !live {
				h.mu.Lock()
				h.stats.inDoubtStepsRefused++
				h.mu.Unlock()
			}
			e.state = refused
		}
	default:
		switch {
		case e.state == acked:
			h.problem("%s request_id %s on %s: acknowledged, then answered %q when retried with the same request_id "+
				"(the API promises the first result)", e.method, e.rid, e.caseName, err)
		case !first && e.state == inDoubt && status.Code(err) == codes.NotFound:
			// Right if it was never applied (the offer went to another
			// decision meanwhile); wrong if it was: the checks count.
			e.state = hidden
		default:
			h.problem("%s request_id %s on %s as the step's user: %v", e.method, e.rid, e.caseName, err)
		}
	}
}

// stepRequestID is the x-request-id of the sends of step rid.
func stepRequestID(rid string) string { return rid + ".step" }

// planStep chooses the next step on c and who takes it.
func planStep(c *pb.Case, rng *rand.Rand, rid string) *stepEntry {
	name, etag := c.GetName(), c.GetEtag()
	resp := c.GetResponsibleUnit()
	worker := workerOf[resp]
	e := &stepEntry{rid: rid, caseName: name}
	set := func(method, kind, actor string, call func(context.Context, pb.CaseProcessServiceClient) (*pb.Case, error)) *stepEntry {
		e.method, e.kind = method, kind
		// Every send of the step carries one request id, by which the
		// checks find its audit event in the file.
		e.call = func(ctx context.Context, h *harness, p pb.CaseProcessServiceClient) (*pb.Case, error) {
			return call(metadata.AppendToOutgoingContext(h.as(ctx, actor), "x-request-id", stepRequestID(rid)), p)
		}
		return e
	}
	note := func() *stepEntry {
		actor := worker
		if resp == unitBD && rng.IntN(2) == 0 {
			actor = userBDC
		}
		e.note = "ghi chú " + rid
		req := &pb.AddCaseNoteRequest{Name: name, Etag: etag, RequestId: rid, Text: e.note}
		return set("AddCaseNote", "NOTE_ADDED", actor, func(ctx context.Context, p pb.CaseProcessServiceClient) (*pb.Case, error) {
			return p.AddCaseNote(ctx, req)
		})
	}
	transfer := func() *stepEntry {
		req := &pb.ProposeTransferRequest{Name: name, Etag: etag, RequestId: rid, ToUnit: otherUnit[resp], Reason: "gia đình chuyển nơi ở"}
		return set("ProposeTransfer", "TRANSFER_PROPOSED", worker, func(ctx context.Context, p pb.CaseProcessServiceClient) (*pb.Case, error) {
			return p.ProposeTransfer(ctx, req)
		})
	}
	refer := func() *stepEntry {
		if slices.ContainsFunc(c.GetPoliceReferrals(), func(r *pb.PoliceReferral) bool { return r.GetPoliceUnit() == policeBD }) {
			return note()
		}
		req := &pb.ReferCaseToPoliceRequest{Name: name, Etag: etag, RequestId: rid, PoliceUnit: policeBD, SuspectedOffence: "Điều 140 BLHS"}
		return set("ReferCaseToPolice", "POLICE_REFERRAL", worker, func(ctx context.Context, p pb.CaseProcessServiceClient) (*pb.Case, error) {
			return p.ReferCaseToPolice(ctx, req)
		})
	}

	// A transfer awaiting a decision: the receiving commune decides.
	for _, t := range c.GetTransfers() {
		if t.GetState() != "PROPOSED" {
			continue
		}
		actor := workerOf[t.GetToUnit()]
		if rng.IntN(100) < 60 {
			req := &pb.AcceptTransferRequest{Name: name, Etag: etag, RequestId: rid}
			return set("AcceptTransfer", "TRANSFER_ACCEPTED", actor, func(ctx context.Context, p pb.CaseProcessServiceClient) (*pb.Case, error) {
				return p.AcceptTransfer(ctx, req)
			})
		}
		req := &pb.DeclineTransferRequest{Name: name, Etag: etag, RequestId: rid, Reason: "địa chỉ chưa xác minh"}
		return set("DeclineTransfer", "TRANSFER_DECLINED", actor, func(ctx context.Context, p pb.CaseProcessServiceClient) (*pb.Case, error) {
			return p.DeclineTransfer(ctx, req)
		})
	}
	// A referral to Ba Đình's police awaiting its acknowledgement: the
	// police liaison acknowledges, on the police view.
	for _, r := range c.GetPoliceReferrals() {
		if r.GetPoliceUnit() == policeBD && r.GetState() == "REFERRED" && rng.IntN(100) < 30 {
			req := &pb.AcknowledgePoliceReferralRequest{Name: name, Etag: etag, RequestId: rid, ReferenceNumber: "CA-BD/" + rid}
			return set("AcknowledgePoliceReferral", "POLICE_ACKNOWLEDGED", userPolice, func(ctx context.Context, p pb.CaseProcessServiceClient) (*pb.Case, error) {
				return p.AcknowledgePoliceReferral(ctx, req)
			})
		}
	}
	x := rng.IntN(100)
	// The steps further on: the worker's (specific assessment, plan) on
	// the cases of either commune; the chair's (assign, plan approval,
	// closure, reopening) on Ba Đình's, whose chair the workload has.
	// Each by the status the case was read in; one the case no longer
	// allows is refused, like a stale etag.
	bd := resp == unitBD
	status := c.GetStatus()
	chair := userBDC
	switch y := rng.IntN(100); {
	case status == pb.CaseStatus_CASE_STATUS_CLOSED:
		if y < 60 && bd {
			req := &pb.ReopenCaseRequest{Name: name, Etag: etag, RequestId: rid, Reason: "hàng xóm báo trẻ lại bị đánh"}
			return set("ReopenCase", "REOPENED", chair, func(ctx context.Context, p pb.CaseProcessServiceClient) (*pb.Case, error) {
				return p.ReopenCase(ctx, req)
			})
		}
		return note()
	case y < 70 && status == pb.CaseStatus_CASE_STATUS_SPECIFIC_ASSESSMENT:
		req := &pb.RecordSpecificAssessmentRequest{Name: name, Etag: etag, RequestId: rid,
			Needs: "hỗ trợ tâm lý", ChildViews: "muốn ở với mẹ", MeetingRecord: "họp ngày " + rid,
			// Now: neither before the acknowledgement (or a reopening)
			// nor in the future once the server reads it.
			MeetingTime:  timestamppb.Now(),
			MeetingChair: &pb.MeetingAttendee{FullName: "Chủ tịch UBND", Role: "chủ trì"}}
		return set("RecordSpecificAssessment", "SPECIFIC_ASSESSMENT_RECORDED", worker, func(ctx context.Context, p pb.CaseProcessServiceClient) (*pb.Case, error) {
			return p.RecordSpecificAssessment(ctx, req)
		})
	case y < 70 && bd && status == pb.CaseStatus_CASE_STATUS_PLANNING && c.GetPlanState() == "SUBMITTED":
		req := &pb.ApprovePlanRequest{Name: name, Etag: etag, RequestId: rid, DecisionNumber: "QĐ/" + rid, DecisionDate: vntime.DateOf(time.Now()).String()}
		return set("ApprovePlan", "PLAN_APPROVED", chair, func(ctx context.Context, p pb.CaseProcessServiceClient) (*pb.Case, error) {
			return p.ApprovePlan(ctx, req)
		})
	case y < 70 && status == pb.CaseStatus_CASE_STATUS_PLANNING && c.GetPlanState() != "SUBMITTED":
		day := vntime.DateOf(time.Now())
		req := &pb.SubmitPlanRequest{Name: name, Etag: etag, RequestId: rid, Services: []*pb.PlanServiceInput{{
			Name: "tư vấn tâm lý", Owner: "trạm y tế phường", CommuneAssignee: "cán bộ BVTE",
			StartDate: day.AddDays(1).String(), ExpectedEndDate: day.AddDays(30).String()}}}
		return set("SubmitPlan", "PLAN_SUBMITTED", worker, func(ctx context.Context, p pb.CaseProcessServiceClient) (*pb.Case, error) {
			return p.SubmitPlan(ctx, req)
		})
	case y >= 70 && y < 78 && bd:
		req := &pb.AssignCaseRequest{Name: name, Etag: etag, RequestId: rid, Officer: "users/" + worker}
		return set("AssignCase", "OFFICER_ASSIGNED", chair, func(ctx context.Context, p pb.CaseProcessServiceClient) (*pb.Case, error) {
			return p.AssignCase(ctx, req)
		})
	case y >= 78 && y < 84 && bd && status != pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT:
		req := &pb.ApproveClosureRequest{Name: name, Etag: etag, RequestId: rid, Ground: pb.ClosureGround_CLOSURE_GROUND_MOVED_AWAY,
			Reason: "gia đình đã chuyển vào TP.HCM", NoPoliceReferralReason: "gia đình đã rời Hà Nội"}
		return set("ApproveClosure", "CLOSED", chair, func(ctx context.Context, p pb.CaseProcessServiceClient) (*pb.Case, error) {
			return p.ApproveClosure(ctx, req)
		})
	}
	switch c.GetStatus() {
	case pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT:
		switch {
		case x < 55:
			actor := worker
			if resp == unitBD && rng.IntN(3) == 0 {
				actor = userBDC
			}
			req := &pb.AcknowledgeCaseRequest{Name: name, Etag: etag, RequestId: rid}
			return set("AcknowledgeCase", "ACKNOWLEDGED", actor, func(ctx context.Context, p pb.CaseProcessServiceClient) (*pb.Case, error) {
				return p.AcknowledgeCase(ctx, req)
			})
		case x < 80:
			return transfer()
		}
		return note()
	case pb.CaseStatus_CASE_STATUS_INITIAL_ASSESSMENT:
		switch {
		case x < 40:
			low := pb.RiskLevel_RISK_LEVEL_LOW
			req := &pb.RecordInitialAssessmentRequest{Name: name, Etag: etag, RequestId: rid,
				HarmSeverity: pb.RiskLevel_RISK_LEVEL_MEDIUM, AbuserAccess: low, SafetyObstacles: low, Notes: "không khẩn cấp"}
			// Every report names the stepfather as suspected, so each
			// case opens as an emergency, which this assessment
			// downgrades with its reason; a case reopened after an
			// assessment that downgraded it is no emergency, and a
			// reason then is refused.
			if c.GetEmergency() {
				req.EmergencyDowngradeReason = "người bị nghi ngờ đã rời khỏi nhà"
			}
			return set("RecordInitialAssessment", "INITIAL_ASSESSMENT_RECORDED", worker, func(ctx context.Context, p pb.CaseProcessServiceClient) (*pb.Case, error) {
				return p.RecordInitialAssessment(ctx, req)
			})
		case x < 60:
			return note()
		case x < 85:
			return transfer()
		}
		return refer()
	}
	switch {
	case x < 50:
		return note()
	case x < 80:
		return transfer()
	}
	return refer()
}

// resolve retries, after the restart, every write the kill left in doubt,
// with the same request: a report must come back (the same one if it was
// stored), a transition must either come back (applied once) or be refused
// (never applied).
func (h *harness) resolve(cl *client) {
	h.led.mu.Lock()
	var reports []*reportEntry
	for _, e := range h.led.reports {
		if e.state == inDoubt {
			reports = append(reports, e)
		}
	}
	var steps []*stepEntry
	for _, e := range h.led.steps {
		if e.state == inDoubt {
			steps = append(steps, e)
		}
	}
	h.led.mu.Unlock()
	h.stats.inDoubt += len(reports) + len(steps)

	for _, e := range reports {
		tries, last := h.retryUntilAnswered(func(ctx context.Context) error {
			resp, err := cl.reports.CreateReport(h.as(ctx, userOp), e.req)
			if h.classify(err) != classInDoubt {
				h.settleReport(e, resp, err, false)
			}
			return err
		})
		if p := unresolvedReport(e, tries, last); p != "" {
			h.problem("%s", p)
		}
		if e.state == refused {
			h.bump(func(s *stats) { s.inDoubtReportsRefused++ })
		}
	}
	for _, e := range steps {
		tries, last := h.retryUntilAnswered(func(ctx context.Context) error {
			resp, err := e.call(ctx, h, cl.proc)
			if h.classify(err) != classInDoubt {
				h.settleStep(e, resp, err, false)
			}
			return err
		})
		if e.state == inDoubt {
			h.problem("%s request_id %s on %s (in doubt at the kill) got no answer to its retries: %d sends, the last answered %v",
				e.method, e.rid, e.caseName, tries, last)
		}
		if e.state == hidden {
			h.bump(func(s *stats) { s.hidden++ })
		}
	}
}

// retryUntilAnswered calls f until it gets an answer (not a transport
// error), for at most a while, and returns how many times it called f and
// f's last error, for the message of a retry that resolved nothing.
func (h *harness) retryUntilAnswered(f func(ctx context.Context) error) (sends int, last error) {
	for try := 0; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		err := f(ctx)
		cancel()
		if h.classify(err) != classInDoubt || try == 20 {
			return try + 1, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// unresolvedReport says what is wrong with report e, in doubt at a kill,
// once resolve has sent it again sends times (the last answered last), or
// "" if nothing. Retried with its request_id, it must be answered: with
// the first answer if the first send was stored, else recorded now; or,
// for a report joining a case that was closed since (by a closure
// acknowledged, or in doubt and applied, before the kill), refused with
// FAILED_PRECONDITION, as the same report sent for the first time would
// be (settleReport marks it refused; checkFile then finds no trace of it
// in the file: a stored first send would have been answered instead).
// Such a refusal is the service keeping its promise, not losing the
// report.
func unresolvedReport(e *reportEntry, sends int, last error) string {
	switch {
	case e.state == acked:
		return ""
	case e.state == refused && e.joins != "":
		return ""
	}
	return fmt.Sprintf("CreateReport request_id %s (in doubt at the kill%s) was not recorded by its retry: %s after %d sends, the last answered %v",
		e.rid, joinsNote(e.joins), e.state, sends, last)
}

// joinsNote names the case a report joins, for a message.
func joinsNote(joins string) string {
	if joins == "" {
		return ""
	}
	return ", joining " + joins
}

func (o outcome) String() string {
	switch o {
	case inDoubt:
		return "still in doubt"
	case acked:
		return "acknowledged"
	case refused:
		return "refused"
	case hidden:
		return "hidden (NOT_FOUND)"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}
