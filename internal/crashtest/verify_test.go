package crashtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// stepKinds are the timeline events the workload's steps write, one per
// applied request; nothing else writes them.
var stepKinds = []string{
	"ACKNOWLEDGED", "INITIAL_ASSESSMENT_RECORDED", "NOTE_ADDED", "TRANSFER_PROPOSED",
	"TRANSFER_ACCEPTED", "TRANSFER_DECLINED", "POLICE_REFERRAL", "POLICE_ACKNOWLEDGED",
	"OFFICER_ASSIGNED", "SPECIFIC_ASSESSMENT_RECORDED", "PLAN_SUBMITTED", "PLAN_APPROVED", "CLOSED", "REOPENED",
}

// caseKind is a case and a kind of timeline event.
type caseKind struct{ caseName, kind string }

// stepCounts counts, per case and event kind, the acknowledged and the
// in-doubt step requests. The caller holds the ledger's lock.
func (l *ledger) stepCounts() (ack, doubt, hid map[caseKind]int) {
	ack, doubt, hid = map[caseKind]int{}, map[caseKind]int{}, map[caseKind]int{}
	for _, e := range l.steps {
		k := caseKind{e.caseName, e.kind}
		switch e.state {
		case acked:
			ack[k]++
		case inDoubt:
			doubt[k]++
		case hidden:
			hid[k]++
		}
	}
	return ack, doubt, hid
}

// checkFile checks a database file (the crash test's, with the server
// down, or a backup of the failover test's etcd cluster): no problem
// from boltstore.Check (structure, every index against its records, the
// audit chain, the timers), every acknowledged report and case present,
// counts within what was acknowledged and what was in doubt, each applied
// step on the timeline once, and every deadline's firings once each.
func (h *harness) checkFile(path string) {
	ctx := context.Background()
	res, err := boltstore.Check(ctx, path)
	if err != nil {
		h.problem("boltstore.Check: %v", err)
		return
	}
	for _, p := range res.Problems {
		h.problem("boltstore.Check: %s", p)
	}
	if res.Omitted > 0 {
		h.problem("boltstore.Check: %d more problems", res.Omitted)
	}
	h.stats.final = checkCounts{Reports: res.Reports, Cases: res.Cases, CaseEvents: res.CaseEvents,
		AuditEvents: res.AuditEvents, Bytes: res.Bytes}

	h.led.mu.Lock()
	defer h.led.mu.Unlock()
	var ackReports, doubtReports, ackCases, doubtCases int
	for _, e := range h.led.reports {
		switch e.state {
		case acked:
			ackReports++
			if e.opens {
				ackCases++
			}
		case inDoubt:
			doubtReports++
			if e.opens {
				doubtCases++
			}
		}
	}
	if res.Reports < ackReports || res.Reports > ackReports+doubtReports {
		h.problem("the file holds %d reports; %d were acknowledged and %d in doubt at the kill (lost, or stored twice)",
			res.Reports, ackReports, doubtReports)
	}
	if res.Cases < ackCases || res.Cases > ackCases+doubtCases {
		h.problem("the file holds %d cases; %d were opened by acknowledged reports and %d by reports in doubt",
			res.Cases, ackCases, doubtCases)
	}

	st, err := boltstore.OpenReadOnly(path, boltstore.Options{})
	if err != nil {
		h.problem("open the file read-only: %v", err)
		return
	}
	defer st.Close()
	ack, doubt, hid := h.led.stepCounts()
	err = st.View(ctx, func(tx datastore.ReadTx) error {
		h.checkAudited(tx)
		for _, e := range h.led.reports {
			// The record of a request_id is written in the transaction
			// that stores the report: an acknowledged report has one,
			// naming it; a refused one (joining a closed case) must have
			// none, since had a send been stored, the record would have
			// made the later send answer it instead of refusing.
			key := idempotency.Key(access.Principal{UserID: userOp}, "CreateReport", e.rid)
			rec, err := tx.Idempotency(key)
			if err != nil && !errors.Is(err, model.ErrNotFound) {
				h.problem("idempotency record %s: %v", key, err)
				continue
			}
			switch {
			case e.state == refused && err == nil:
				h.problem("CreateReport request_id %s joining %s was refused (cycle %d), yet the file holds it as stored, report %s: "+
					"refused when it should have been answered", e.rid, e.joins, e.cycle, rec.Resource)
			case e.state == acked && (err != nil || "reports/"+rec.Resource != e.name):
				h.problem("CreateReport request_id %s, acknowledged as %s (cycle %d): its idempotency record names %q (%v)",
					e.rid, e.name, e.cycle, rec.Resource, err)
			}
			if e.state != acked {
				continue
			}
			r, err := tx.Report(strings.TrimPrefix(e.name, "reports/"))
			if err != nil {
				h.problem("acknowledged report %s (request_id %s, cycle %d) is not in the file: %v", e.name, e.rid, e.cycle, err)
				continue
			}
			if want := strings.TrimPrefix(e.caseName, "cases/"); r.CaseNumber != want {
				h.problem("report %s belongs to case %q in the file, acknowledged with %q", e.name, r.CaseNumber, want)
			}
		}
		for _, name := range h.led.caseNames {
			ce := h.led.cases[name]
			c, err := tx.CaseByNumber(strings.TrimPrefix(name, "cases/"))
			if err != nil {
				h.problem("acknowledged case %s is not in the file: %v", name, err)
				continue
			}
			if c.Revision < ce.maxEtag {
				h.problem("case %s has revision %d in the file; etag %d was acknowledged", name, c.Revision, ce.maxEtag)
			}
			events, err := allEventsTx(tx, c.ID)
			if err != nil {
				h.problem("case %s: timeline: %v", name, err)
				continue
			}
			count := map[string]int{}
			for _, ev := range events {
				count[ev.kind]++
			}
			for _, kind := range stepKinds {
				k := caseKind{name, kind}
				if got := count[kind]; got < ack[k] || got > ack[k]+doubt[k]+hid[k] {
					h.problem("case %s has %d %s events in the file; %d such steps were acknowledged and %d in doubt",
						name, got, kind, ack[k], doubt[k]+hid[k])
				}
			}
			for _, p := range deadlineProblems(name, modelDeadlines(c), events) {
				h.problem("%s", p)
			}
		}
		return nil
	})
	if err != nil {
		h.problem("read the file: %v", err)
	}
}

// checkAudited checks that the file's audit log holds the event of every
// acknowledged report (report.create), of every acknowledged step (by the
// request id its sends carry) and of every acknowledged read of the
// workload (case.read, by its request id): "nothing lost" covers the
// audit trail, whose events of reads are committed in a group commit of
// their own. The caller holds the ledger's lock.
func (h *harness) checkAudited(tx datastore.ReadTx) {
	created, read, stepped := map[string]bool{}, map[string]string{}, map[string]string{}
	for e, err := range tx.AuditEvents(1) {
		if err != nil {
			h.problem("read the audit log: %v", err)
			return
		}
		switch {
		case e.Action == "report.create" && e.Outcome == audit.OutcomeOK:
			created[e.Resource] = true
		case e.Action == "case.read" && e.Outcome == audit.OutcomeOK:
			read[e.RequestID] = e.Resource
		case strings.HasSuffix(e.RequestID, stepRequestID("")) && e.Outcome == audit.OutcomeOK:
			stepped[e.RequestID] = e.Case
		}
	}
	for _, e := range h.led.steps {
		if got, ok := stepped[stepRequestID(e.rid)]; e.state == acked && (!ok || got != e.caseName) {
			h.problem("%s request_id %s on %s, acknowledged, has no audit event of it in the file (found one on %q)", e.method, e.rid, e.caseName, got)
		}
	}
	for _, e := range h.led.reports {
		if e.state == acked && !created[e.name] {
			h.problem("acknowledged report %s (request_id %s, cycle %d) has no report.create audit event in the file", e.name, e.rid, e.cycle)
		}
	}
	for id, name := range h.led.reads {
		if got, ok := read[id]; !ok || got != name {
			h.problem("GetCase %s, answered (request id %s), has no case.read audit event of it in the file (found %q)", name, id, got)
		}
	}
}

// allEventsTx reads a case's whole timeline from the file.
func allEventsTx(tx datastore.ReadTx, caseID uint64) ([]evView, error) {
	var out []evView
	var after uint64
	for {
		evs, err := tx.CaseEvents(caseID, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			out = append(out, evView{seq: e.Seq, at: e.Time, kind: e.Kind, detail: e.Detail, deadline: e.DeadlineID})
			after = e.Seq
		}
		if len(evs) < 1000 {
			return out, nil
		}
	}
}

// dlView and evView are a deadline and a timeline event, from the file or
// from the API.
type dlView struct {
	id          int
	kind        string
	state       string
	due         time.Time
	escalations int
	breached    *bool // known only in the file
}

type evView struct {
	seq      uint64
	at       time.Time
	kind     string
	detail   string
	deadline int
}

func modelDeadlines(c model.Case) []dlView {
	out := make([]dlView, 0, len(c.Deadlines))
	for _, d := range c.Deadlines {
		breached := d.Breached
		out = append(out, dlView{id: d.ID, kind: string(d.Kind), state: string(d.State), due: d.Due,
			escalations: len(d.Escalations), breached: &breached})
	}
	return out
}

func pbDeadlines(c *pb.Case) []dlView {
	out := make([]dlView, 0, len(c.GetDeadlines()))
	for _, d := range c.GetDeadlines() {
		out = append(out, dlView{id: int(d.GetId()), kind: d.GetKind(), state: d.GetState(), due: d.GetDueTime().AsTime(),
			escalations: len(d.GetEscalations())})
	}
	return out
}

func pbEvents(evs []*pb.CaseEvent) []evView {
	out := make([]evView, 0, len(evs))
	for _, e := range evs {
		out = append(out, evView{seq: e.GetSeq(), at: e.GetTime().AsTime(), kind: e.GetKind(), detail: e.GetDetail(), deadline: int(e.GetDeadlineId())})
	}
	return out
}

// deadlineProblems checks that each deadline fired each of its events once:
// no (kind, detail) twice for one deadline (a warning, a breach, an
// escalation done twice), one ESCALATED event per recorded escalation, and
// one breach per escalation (in this deployment every level that breaches
// has a level above it, once); never a breach before the due time.
func deadlineProblems(caseName string, dls []dlView, evs []evView) []string {
	var out []string
	byID := map[int]bool{}
	for _, d := range dls {
		byID[d.id] = true
	}
	per := map[int][]evView{}
	for _, e := range evs {
		if e.deadline == 0 {
			continue
		}
		if !byID[e.deadline] {
			out = append(out, fmt.Sprintf("case %s: event %d %s is about deadline %d, which the case does not have", caseName, e.seq, e.kind, e.deadline))
		}
		per[e.deadline] = append(per[e.deadline], e)
	}
	for _, d := range dls {
		seen := map[[2]string]uint64{}
		breaches, escalations := 0, 0
		for _, e := range per[d.id] {
			k := [2]string{e.kind, e.detail}
			if prev, dup := seen[k]; dup {
				out = append(out, fmt.Sprintf("case %s: deadline %d (%s): %s %q recorded twice (events %d and %d): fired more than once",
					caseName, d.id, d.kind, e.kind, e.detail, prev, e.seq))
			}
			seen[k] = e.seq
			switch e.kind {
			case "DEADLINE_BREACHED":
				breaches++
				if e.at.Before(d.due) {
					out = append(out, fmt.Sprintf("case %s: deadline %d (%s) breached at %s, before it was due at %s",
						caseName, d.id, d.kind, e.at.Format(time.RFC3339Nano), d.due.Format(time.RFC3339Nano)))
				}
			case "ESCALATED":
				escalations++
			}
		}
		if escalations != d.escalations {
			out = append(out, fmt.Sprintf("case %s: deadline %d (%s) records %d escalations, its timeline %d ESCALATED events",
				caseName, d.id, d.kind, d.escalations, escalations))
		}
		if breaches != escalations {
			out = append(out, fmt.Sprintf("case %s: deadline %d (%s): %d DEADLINE_BREACHED events, %d ESCALATED: each breach escalates once",
				caseName, d.id, d.kind, breaches, escalations))
		}
		if d.breached != nil && *d.breached != (breaches > 0) {
			out = append(out, fmt.Sprintf("case %s: deadline %d (%s) breached=%v with %d DEADLINE_BREACHED events",
				caseName, d.id, d.kind, *d.breached, breaches))
		}
	}
	return out
}

// fullEvery is how often (in cycles) the online check lists every report
// and case (and it does in the last). Each listing is audited, one audit
// event per record listed, so doing it every cycle would grow the audit
// log with the square of the cycles; the offline check finds every
// acknowledged write in the file after every kill anyway.
func (h *harness) fullEvery() int { return max(5, h.cycles/8) }

// checkOnline checks the restarted service over gRPC: the reports of this
// cycle readable; the deadlines that fell due while it was down fired
// (within fireTimeout) and fired once; on every case written to in this
// cycle (or with a deadline still to fire) each applied step on the
// timeline exactly once, each acknowledged note in the dossier once, the
// etag not behind an acknowledged one; and, every fullEvery cycles, every
// report and case ever acknowledged listed, none twice, and the audit log
// intact.
func (h *harness) checkOnline(cl *client, n int) {
	h.led.mu.Lock()
	var reports []*reportEntry
	for _, e := range h.led.reports {
		if e.cycle == n && e.state == acked {
			reports = append(reports, e)
		}
	}
	set := map[string]bool{}
	for name := range h.led.touched {
		set[name] = true
	}
	h.led.mu.Unlock()
	for name := range h.watch {
		set[name] = true
	}
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)

	for _, e := range reports {
		var r *pb.Report
		err := h.call(func(ctx context.Context) (err error) {
			r, err = cl.reports.GetReport(h.as(ctx, userOp), &pb.GetReportRequest{Name: e.name})
			return err
		})
		switch {
		case err != nil:
			h.problem("GetReport %s (acknowledged, request_id %s): %v", e.name, e.rid, err)
		case r.GetCase() != e.caseName:
			h.problem("GetReport %s: case %q, acknowledged with %q", e.name, r.GetCase(), e.caseName)
		}
	}

	h.awaitScheduler(cl, names)

	h.led.mu.Lock()
	ack, _, hid := h.led.stepCounts()
	notes := map[string][]string{}
	maxEtag := map[string]uint64{}
	for _, e := range h.led.steps {
		if e.state == acked && e.note != "" {
			notes[e.caseName] = append(notes[e.caseName], e.note)
		}
	}
	for name, ce := range h.led.cases {
		maxEtag[name] = ce.maxEtag
	}
	h.led.mu.Unlock()

	watch := map[string]bool{}
	for _, name := range names {
		c, evs, err := h.snapshot(cl, name)
		if err != nil {
			h.problem("case %s: %v", name, err)
			continue
		}
		if etag, err := strconv.ParseUint(etagCount(c.GetEtag()), 10, 64); err != nil || etag < maxEtag[name] {
			h.problem("case %s has etag %q; etag %d was acknowledged", name, c.GetEtag(), maxEtag[name])
		}
		count := map[string]int{}
		for _, ev := range evs {
			count[ev.kind]++
		}
		for _, kind := range stepKinds {
			k := caseKind{name, kind}
			switch got, want := count[kind], ack[k]; {
			case got > want && got <= want+hid[k]:
				h.problem("case %s has %d %s events and %d such steps were acknowledged: %d step(s) in doubt at the kill were applied, "+
					"yet their retry with the same request_id answered NOT_FOUND instead of the first result, so the client cannot know",
					name, got, kind, want, got-want)
			case got != want:
				h.problem("case %s has %d %s events; %d such steps were acknowledged (none is in doubt now)", name, got, kind, want)
			}
		}
		var got []string
		for _, note := range c.GetDossier().GetNotes() {
			if note.GetKind() == "NOTE" {
				got = append(got, note.GetText())
			}
		}
		want := notes[name]
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			h.problem("case %s: dossier notes %q, acknowledged %q", name, got, want)
		}
		dls := pbDeadlines(c)
		for _, p := range deadlineProblems(name, dls, evs) {
			h.problem("%s", p)
		}
		for _, d := range dls {
			if d.due.After(h.killTime) && !d.due.After(h.upTime) && d.state == "OPEN" {
				// Due while the server was down: fired after the restart, once.
				var at []time.Time
				for _, ev := range evs {
					if ev.deadline == d.id && ev.kind == "DEADLINE_BREACHED" {
						at = append(at, ev.at)
					}
				}
				switch {
				case len(at) != 1:
					h.problem("case %s: deadline %d (%s) was due at %s, while the server was down; %d breaches after the restart, want 1",
						name, d.id, d.kind, d.due.Format(time.RFC3339Nano), len(at))
				case at[0].Before(h.upTime):
					h.problem("case %s: deadline %d (%s) breached at %s, while the server was down (killed %s, restarted %s)",
						name, d.id, d.kind, at[0].Format(time.RFC3339Nano), h.killTime.Format(time.RFC3339Nano), h.upTime.Format(time.RFC3339Nano))
				default:
					h.stats.downtimeFired++
				}
			}
			if d.state == "OPEN" && d.escalations == 0 && d.due.Before(time.Now().Add(time.Hour)) {
				watch[name] = true
			}
		}
	}
	h.watch = watch

	if n%h.fullEvery() == 0 || n == h.cycles {
		h.fullSweep(cl)
	}
}

// call runs f with a fresh timeout, retrying while the answer is a
// transport error (the server was just restarted).
func (h *harness) call(f func(ctx context.Context) error) error {
	var err error
	for try := 0; try < 20; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		err = f(ctx)
		cancel()
		if h.classify(err) != classInDoubt {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// awaitScheduler waits until every open deadline of the cases that fell
// due before the restart has been breached and escalated: the scheduler
// has caught up on the downtime.
func (h *harness) awaitScheduler(cl *client, names []string) {
	deadline := time.Now().Add(fireTimeout)
	for {
		var lagging []string
		for _, name := range names {
			var c *pb.Case
			err := h.call(func(ctx context.Context) (err error) {
				c, err = cl.cases.GetCase(h.as(ctx, userCity), &pb.GetCaseRequest{Name: name})
				return err
			})
			if err != nil {
				h.problem("GetCase %s (acknowledged) as the city officer: %v", name, err)
				continue
			}
			for _, d := range c.GetDeadlines() {
				if d.GetState() == "OPEN" && !d.GetPaused() && !d.GetDueTime().AsTime().After(h.upTime) && len(d.GetEscalations()) == 0 {
					lagging = append(lagging, fmt.Sprintf("%s deadline %d (%s, due %s)", name, d.GetId(), d.GetKind(), d.GetDueTime().AsTime().Format(time.RFC3339Nano)))
				}
			}
		}
		if len(lagging) == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.problem("%s after the restart, %d deadlines due before it have not fired: %s", fireTimeout, len(lagging), strings.Join(lagging, "; "))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// snapshot reads a case and its timeline as of one moment: the timeline
// read before and after the case must agree (the scheduler runs on).
func (h *harness) snapshot(cl *client, name string) (*pb.Case, []evView, error) {
	for try := 0; try < 20; try++ {
		before, err := h.events(cl, name)
		if err != nil {
			return nil, nil, err
		}
		var c *pb.Case
		err = h.call(func(ctx context.Context) (err error) {
			c, err = cl.cases.GetCase(h.as(ctx, userCity), &pb.GetCaseRequest{Name: name})
			return err
		})
		if err != nil {
			return nil, nil, fmt.Errorf("GetCase as the city officer: %w", err)
		}
		after, err := h.events(cl, name)
		if err != nil {
			return nil, nil, err
		}
		if len(before) == len(after) {
			return c, after, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, nil, fmt.Errorf("the timeline kept changing")
}

// events reads a case's whole timeline as the city officer.
func (h *harness) events(cl *client, name string) ([]evView, error) {
	var all []*pb.CaseEvent
	token := ""
	for {
		var resp *pb.ListCaseEventsResponse
		err := h.call(func(ctx context.Context) (err error) {
			resp, err = cl.proc.ListCaseEvents(h.as(ctx, userCity), &pb.ListCaseEventsRequest{Parent: name, PageSize: 1000, PageToken: token})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("ListCaseEvents as the city officer: %w", err)
		}
		all = append(all, resp.GetEvents()...)
		if token = resp.GetNextPageToken(); token == "" {
			return pbEvents(all), nil
		}
	}
}

// fullSweep lists every report (as the operator, who took them all) and
// every case (as the city officer): each acknowledged one there, none
// twice, nothing else; and verifies the audit chain as the auditor.
func (h *harness) fullSweep(cl *client) {
	h.led.mu.Lock()
	wantReports := map[string]string{} // name -> request_id
	openers := 0
	for _, e := range h.led.reports {
		if e.state != acked {
			continue
		}
		if other, dup := wantReports[e.name]; dup {
			h.problem("requests %s and %s were both answered with report %s", other, e.rid, e.name)
		}
		wantReports[e.name] = e.rid
		if e.opens {
			openers++
		}
	}
	wantCases := slices.Clone(h.led.caseNames)
	h.led.mu.Unlock()

	listed := map[string]int{}
	token := ""
	for {
		var resp *pb.ListReportsResponse
		err := h.call(func(ctx context.Context) (err error) {
			resp, err = cl.reports.ListReports(h.as(ctx, userOp), &pb.ListReportsRequest{PageSize: 500, PageToken: token})
			return err
		})
		if err != nil {
			h.problem("ListReports as the operator: %v", err)
			return
		}
		for _, r := range resp.GetReports() {
			listed[r.GetName()]++
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	for name, k := range listed {
		if k > 1 {
			h.problem("ListReports lists %s %d times", name, k)
		}
		if _, ok := wantReports[name]; !ok {
			h.problem("ListReports lists %s, which no request was answered with (a duplicate?)", name)
		}
	}
	for name, rid := range wantReports {
		if listed[name] == 0 {
			h.problem("ListReports does not list %s (request_id %s, acknowledged)", name, rid)
		}
	}

	cases := map[string]int{}
	token = ""
	for {
		var resp *pb.ListCasesResponse
		err := h.call(func(ctx context.Context) (err error) {
			resp, err = cl.cases.ListCases(h.as(ctx, userCity), &pb.ListCasesRequest{PageSize: 500, PageToken: token})
			return err
		})
		if err != nil {
			h.problem("ListCases as the city officer: %v", err)
			return
		}
		for _, c := range resp.GetCases() {
			cases[c.GetName()]++
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	for _, name := range wantCases {
		if cases[name] != 1 {
			h.problem("ListCases lists acknowledged case %s %d times", name, cases[name])
		}
	}
	if len(cases) != openers {
		h.problem("ListCases lists %d cases; %d reports that open a case were acknowledged", len(cases), openers)
	}

	var v *pb.VerifyAuditLogResponse
	err := h.call(func(ctx context.Context) (err error) {
		v, err = cl.audit.VerifyAuditLog(h.as(ctx, userAuditor), &pb.VerifyAuditLogRequest{})
		return err
	})
	switch {
	case err != nil:
		h.problem("VerifyAuditLog: %v", err)
	case !v.GetIntact():
		h.problem("VerifyAuditLog: broken at seq %d: %s", v.GetBrokenSeq(), v.GetProblem())
	}
}
