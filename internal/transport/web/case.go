package web

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
)

// The case page: what GetCase answers the signed-in person (the full view,
// or the police view for a police liaison, whose page then has only what
// that view has), the case's timeline when the person may read it, and a
// form for each step of CaseProcessService the API says they may take now
// (the case's allowed_steps). A step posts to
// /cases/{number}/steps/{step}; the API decides whether it applies, and
// its refusal shows beside the form with what was typed.

// etagMismatch is the ErrorInfo reason of a stale etag (grpcapi errors.go).
const etagMismatch = "ETAG_MISMATCH"

// timelineShown is how many of the newest timeline entries the page
// shows unless the person asks for all of them.
const timelineShown = 50

// timelineMaxPages bounds the pages of the timeline read for one page
// (the person asked for all of it).
const timelineMaxPages = 10

// casePage is the data of the case page.
type casePage struct {
	Case      *pb.Case
	Number    string
	Deadlines []deadlineRow
	Sections  []caseSection // transfers, referrals, services, dossier: those the view has
	Reports   []string      // the ids of the case's reports, for those who may read them
	Timeline  []timelineEntry
	ReadsLog  bool // the person may read the timeline
	MoreLog   bool // older entries are not shown
	SeenSeq   uint64
	Was       []headerValue // the header as rendered, for a stale edit to compare
	Forms     []stepForm
	Choices   fieldChoices // of the step forms' fields that name a part of the case
}

type deadlineRow struct {
	D      *pb.Deadline
	WarnAt time.Time
}

// caseSection is a part of the case shown as the API returned it.
type caseSection struct {
	Key   string
	Lines []showLine
}

// stepForm is the form of one step.
type stepForm struct {
	Step      string // the method's name, as in the route
	Key       string // the catalog key of its name
	ID        string
	Fields    []formField
	Etag      string
	RequestID string
	Open      bool
	Error     string      // the API's answer, for the whole form
	Stale     *staleEdit  // set when the case changed under the form
	Check     *mergeCheck // a merge's absorbed case, shown before the merge
	// Unconfirmed: the API did not say whether the step applied; the
	// form is kept with its request id, to be sent again.
	Unconfirmed bool
	// Unsaved: the form is the one a send answered, kept as typed and
	// not applied (renderStep); the page's script guards it as typed
	// text (console.js).
	Unsaved bool

	// ErrorDetail is the API's own words below Error (refusal.go).
	ErrorDetail string
}

// mergeCheck is the case a merge would absorb, as the person may see it,
// shown before the merge: the merge is sent with the etag of the version
// shown, so that a case changed since is not merged unseen.
type mergeCheck struct {
	Name string // "cases/{number}", as checked
	Case *pb.Case
}

// staleEdit is what changed since the form was rendered.
type staleEdit struct {
	Changes []headerChange
	Events  []timelineEntry
}

// timelineEntry is a line of the timeline with its kind in words: the
// catalog's "event.KIND" where it has one, else the API's kind as is
// (the kinds are an open list of the API's).
type timelineEntry struct {
	*pb.CaseEvent
	What string
	Said string // the detail in the page's language (timeline.go)
}

type headerValue struct{ Key, Value string }

type headerChange struct{ Key, Was, Now string }

func (c *Console) caseRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /cases/{number}", c.signed(c.casePage))
	mux.HandleFunc("POST /cases/{number}/steps/{step}", c.signed(c.caseStep))
	// A refused form is answered at its own path; the language switch (or
	// a reload) from there goes back to the case's page.
	mux.HandleFunc("GET /cases/{number}/steps/{step}", c.signed(func(w http.ResponseWriter, r *http.Request, _ *session) {
		http.Redirect(w, r, "/cases/"+url.PathEscape(r.PathValue("number")), http.StatusSeeOther)
	}))
}

func (c *Console) casePage(w http.ResponseWriter, r *http.Request, s *session) {
	page, err := c.loadCase(r, s, r.PathValue("number"))
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	page.Forms = c.stepForms(s, page, "")
	v := view{User: &s.user, CSRF: s.csrf, Title: "case.title", Data: page}
	v.Flash = s.doneFlash(r.URL.Query().Get("done"), page.Number, "")
	c.render(w, r, http.StatusOK, "case", v)
}

// loadCase reads a case and, when the person may read it, its timeline.
func (c *Console) loadCase(r *http.Request, s *session, number string) (*casePage, error) {
	ctx := c.apiContext(r, s)
	cs, err := c.api.cases.GetCase(ctx, &pb.GetCaseRequest{Name: "cases/" + number})
	if err != nil {
		return nil, err
	}
	page := &casePage{Case: cs, Number: cs.GetCaseNumber(), Was: headerOf(cs)}
	for _, d := range cs.GetDeadlines() {
		page.Deadlines = append(page.Deadlines, deadlineRow{D: d, WarnAt: c.warnAt(d)})
	}
	lang := c.language(r)
	unitName := c.unitNamer(r, s)
	if page.Choices, err = c.caseChoices(r, s, lang, cs, unitName); err != nil {
		return nil, err
	}
	if mayUse(s, "ReportService/GetReport") {
		for _, name := range cs.GetReports() {
			page.Reports = append(page.Reports, strings.TrimPrefix(name, "reports/"))
		}
	}
	add := func(key string, lines []showLine) {
		if len(lines) > 0 {
			page.Sections = append(page.Sections, caseSection{Key: key, Lines: lines})
		}
	}
	add("case.referrals", c.showList(shown{lang, unitName}, cs.ProtoReflect(), "police_referrals"))
	add("case.transfers", c.showList(shown{lang, unitName}, cs.ProtoReflect(), "transfers"))
	add("case.services", c.showList(shown{lang, unitName}, cs.ProtoReflect(), "services"))
	if cs.GetDossier() != nil {
		add("case.dossier", c.showMessage(shown{lang, unitName}, cs.GetDossier().ProtoReflect(), 0))
	}
	if mayUse(s, "CaseProcessService/ListCaseEvents") {
		shown := timelineShown
		if r.URL.Query().Get("timeline") == "all" {
			shown = timelineMaxPages * timelinePage
		}
		events, more, err := c.timeline(r, s, cs.GetName(), shown)
		if err != nil {
			return nil, err
		}
		page.ReadsLog = true
		if len(events) > 0 {
			page.SeenSeq = events[0].GetSeq()
		}
		page.MoreLog = more && shown == timelineShown
		for _, e := range events {
			what, ok := c.catalogs[lang]["event."+e.GetKind()]
			if !ok {
				what = e.GetKind()
			}
			page.Timeline = append(page.Timeline, timelineEntry{CaseEvent: e, What: what, Said: c.eventDetail(lang, e, cs.GetDeadlines(), unitName)})
		}
	}
	return page, nil
}

// timelinePage is the API's largest page of a timeline.
const timelinePage = 1000

// timeline reads up to limit of a case's newest timeline entries, newest
// first, and whether it has older ones. The API pages the timeline newest
// first, so the page costs what it shows, however long the case's
// timeline.
func (c *Console) timeline(r *http.Request, s *session, name string, limit int) (events []*pb.CaseEvent, more bool, err error) {
	token := ""
	for len(events) < limit {
		resp, err := c.api.process.ListCaseEvents(c.apiContext(r, s), &pb.ListCaseEventsRequest{
			Parent: name, PageSize: int32(min(limit-len(events), timelinePage)), PageToken: token, OrderBy: "seq desc",
		})
		if err != nil {
			return nil, false, err
		}
		events = append(events, resp.GetEvents()...)
		if token = resp.GetNextPageToken(); token == "" {
			return events, false, nil
		}
	}
	return events, true, nil
}

// officerPages bounds the API's pages of officers a case page reads, of
// 1,000 officers each.
const officerPages = 10

// assignableOfficers are the people the API's ListAssignableOfficers
// offers as the case's officer, by name, and whether the list is whole
// (it read on, up to officerPages pages, to the last).
func (c *Console) assignableOfficers(r *http.Request, s *session, name string) ([]formOption, bool, error) {
	out := []formOption{}
	token := ""
	for range officerPages {
		resp, err := c.api.process.ListAssignableOfficers(c.apiContext(r, s), &pb.ListAssignableOfficersRequest{
			Name: name, PageSize: 1000, PageToken: token,
		})
		if err != nil {
			return nil, false, err
		}
		for _, o := range resp.GetOfficers() {
			id := strings.TrimPrefix(o.GetName(), "users/")
			out = append(out, formOption{Value: o.GetName(), Label: o.GetDisplayName() + " (" + id + ")"})
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, true, nil
		}
	}
	return out, false, nil
}

// caseChoices are the choices of the step forms' fields that name a unit
// or a part of the case by its name or id, which people do not know:
//   - a deadline (pause, resume) is one of the case's open deadlines,
//     shown as the deadlines table shows it (its kind, unit and due time
//     in Vietnam time, and whether it is paused);
//   - a service (its progress) is one of the plan's, by its name, owner
//     and state;
//   - a unit (a transfer, a reassignment) is one of the units in force
//     today, and a police unit (a referral) one of the police units, by
//     their names; they are read only when such a form is shown.
//
// Which of them a step applies to is the API's to say.
func (c *Console) caseChoices(r *http.Request, s *session, lang string, cs *pb.Case, unitName func(string) string) (fieldChoices, error) {
	// The pause form offers the clocks the API says it would pause now
	// (pausable), the resume form those paused but the police's D16,
	// which the police's own decision resumes.
	var pausable, paused []formOption
	for _, d := range cs.GetDeadlines() {
		if d.GetState() != "OPEN" {
			continue
		}
		label := c.catalogs.text(lang, "deadline."+d.GetKind()) + " · " + unitName(d.GetUnit()) + " · " +
			c.catalogs.text(lang, "deadline.due") + " " + view{Lang: lang, cats: c.catalogs}.Due(d.GetDueTime().AsTime())
		o := formOption{Value: strconv.Itoa(int(d.GetId())), Label: label}
		switch {
		case d.GetPausable():
			pausable = append(pausable, o)
		case d.GetPaused() && !strings.HasPrefix(d.GetUnit(), "policeUnits/"):
			o.Label += " (" + c.catalogs.text(lang, "deadline.paused") + ")"
			paused = append(paused, o)
		}
	}
	var services []formOption
	for _, sv := range cs.GetServices() {
		label := sv.GetName() + " · " + sv.GetOwner()
		if sv.GetState() != "" {
			label += " (" + c.codeText(lang, sv.GetState()) + ")"
		}
		services = append(services, formOption{Value: strconv.Itoa(int(sv.GetId())), Label: label})
	}
	out := fieldChoices{"service_id": services, stepField("PauseDeadline", "deadline_id"): pausable, stepField("ResumeDeadline", "deadline_id"): paused}
	shown := func(steps ...string) bool {
		for _, step := range steps {
			rule, ok := access.RuleFor("CaseProcessService/" + step)
			if ok && slices.Contains(cs.GetAllowedSteps(), rule.Step) && mayUse(s, rule.Method) {
				return true
			}
		}
		return false
	}
	// The officer to name is one of those the step would accept, by
	// name: nobody knows their colleagues' user names. With none, the
	// choice is empty rather than a box to type one in.
	if shown("AssignCase") {
		officers, complete, err := c.assignableOfficers(r, s, cs.GetName())
		if err != nil {
			return nil, fmt.Errorf("officers of %s: %w", cs.GetName(), err)
		}
		// A list cut short would hide people the step accepts: the box
		// to type a user name in stays then.
		if complete {
			out["officer"] = officers
		}
	}
	if !shown("ProposeTransfer", "ReassignCase", "ReferCaseToPolice") {
		return out, nil
	}
	units, err := c.unitChoices(r, s)
	if err != nil {
		return nil, err
	}
	for _, u := range units.Units {
		out["to_unit"] = append(out["to_unit"], formOption{Value: u.GetName(), Label: unitLabel(u)})
	}
	inForce := map[string]bool{}
	for _, u := range units.Units {
		inForce[u.GetName()] = true
	}
	for _, p := range units.Police {
		if !servesAny(p, inForce) {
			continue
		}
		label := p.GetDisplayName()
		if label == "" {
			label = p.GetName()
		}
		out["police_unit"] = append(out["police_unit"], formOption{Value: p.GetName(), Label: label})
	}
	return out, nil
}

// servesAny reports whether the police unit p serves a unit of inForce
// (the units in force today), or, covering none, the whole city. The
// referral form leaves out one whose communes a reform ended, which the
// API refuses a new referral (police_unit, unit.in_force): offering it
// would only lead to that refusal. One covering units not yet in force
// is left out too, as it serves nobody today.
func servesAny(p *pb.PoliceUnit, inForce map[string]bool) bool {
	if len(p.GetCovers()) == 0 {
		return true
	}
	for _, u := range p.GetCovers() {
		if inForce[u] {
			return true
		}
	}
	return false
}

// headerOf is what a stale edit compares: the case's header as shown.
func headerOf(cs *pb.Case) []headerValue {
	var refs []string
	for _, p := range cs.GetPoliceReferrals() {
		refs = append(refs, p.GetPoliceUnit()+" "+p.GetState())
	}
	var open []string
	for _, d := range cs.GetDeadlines() {
		if d.GetState() == "OPEN" {
			open = append(open, d.GetKind())
		}
	}
	return []headerValue{
		{"case.status", cs.GetStatus().String()},
		{"case.unit", cs.GetResponsibleUnit()},
		{"case.officer", cs.GetResponsibleOfficer().GetDisplayName()},
		{"case.emergency", strconv.FormatBool(cs.GetEmergency())},
		{"case.plan", cs.GetPlanState()},
		{"case.referrals", strings.Join(refs, ", ")},
		{"case.deadlines", strings.Join(open, ", ")},
	}
}

// stepForms are the forms of the steps the person may take on the case
// now, open: those GetCase answered them in allowed_steps (their role may
// take the step, and the case is in the step's gate, by the one process
// table). A step their role may take but the case's state does not allow
// has no form. The API still decides when the form is sent, and a finer
// refusal shows beside the form.
func (c *Console) stepForms(s *session, page *casePage, posted string) []stepForm {
	cs := page.Case
	var out []stepForm
	for _, m := range caseSteps() {
		step := string(m.Name())
		rule, ok := access.RuleFor("CaseProcessService/" + step)
		if !ok || !slices.Contains(cs.GetAllowedSteps(), rule.Step) || !mayUse(s, rule.Method) {
			continue
		}
		if step == posted {
			continue // the caller adds the posted form with its values
		}
		f := stepForm{Step: step, Key: "step." + step, ID: "step-" + step, Etag: cs.GetEtag(), RequestID: newRequestID(), Open: true}
		f.Fields = buildFields(f.ID, m.Input(), "", nil, nil, page.Choices.of(step))
		out = append(out, f)
	}
	return out
}

// newRequestID is a form's request_id: a retry of the same form is
// harmless, the API answers it with the first result.
func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "web-" + hex.EncodeToString(b[:])
}

func (c *Console) caseStep(w http.ResponseWriter, r *http.Request, s *session) {
	number, step := r.PathValue("number"), r.PathValue("step")
	m, ok := stepMethod(step)
	if !ok {
		c.notFoundFor(w, r, s)
		return
	}
	req, err := newStepRequest(m)
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	vals := r.PostForm
	msg := req.ProtoReflect()
	fd := m.Input().Fields()
	msg.Set(fd.ByName("name"), protoreflect.ValueOfString("cases/"+number))
	method := "/" + string(m.Parent().FullName()) + "/" + step
	if !mayUse(s, "CaseProcessService/"+step) {
		// The API refuses it, with nothing read from the form: its refusal
		// puts the attempt on the case's audit trail (auth.denied), as the
		// same call made to the API would.
		c.refused(w, r, s, c.cfg.Conn.Invoke(c.apiContext(r, s), method, req, new(pb.Case)))
		return
	}
	msg.Set(fd.ByName("etag"), protoreflect.ValueOfString(vals.Get("etag")))
	msg.Set(fd.ByName("request_id"), protoreflect.ValueOfString(vals.Get("request_id")))
	lang := c.language(r)
	bad := formErrors{}
	fillRequest(msg, "", vals, bad)
	form := stepForm{Step: step, Key: "step." + step, ID: "step-" + step, Etag: vals.Get("etag"), RequestID: vals.Get("request_id"), Open: true}
	errs := map[string]string{}
	if len(bad) > 0 {
		for k, key := range bad {
			errs[k] = c.catalogs.text(lang, key)
		}
		form.Error = c.catalogs.text(lang, "form.fix")
		c.renderStep(w, r, s, number, m, form, vals, errs)
		return
	}
	if step == "MergeCase" && !c.mergeChecked(w, r, s, number, m, msg, &form, vals) {
		return
	}
	out := new(pb.Case)
	err = c.cfg.Conn.Invoke(c.apiContext(r, s), method, req, out)
	if err == nil {
		if out.GetCaseNumber() != "" {
			number = out.GetCaseNumber()
		}
		done := s.remember(savedAnswer{requestID: "step " + number + " " + step + " " + form.RequestID, caseNumber: number, done: step})
		http.Redirect(w, r, "/cases/"+url.PathEscape(number)+"?done="+done, http.StatusSeeOther)
		return
	}
	st, _ := status.FromError(err)
	switch {
	case st.Code() == codes.Aborted && errorReason(st) == etagMismatch:
		form.Stale = &staleEdit{}
		form.RequestID = newRequestID() // a new try against the new version
		form.Error = c.catalogs.text(lang, "case.stale")
	case st.Code() == codes.InvalidArgument:
		form.Error = c.catalogs.text(lang, "form.fix")
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					errs[v.GetField()] = strings.TrimSpace(errs[v.GetField()] + " " + c.catalogs.rule(lang, v))
				}
			}
		}
		if len(errs) == 0 {
			form.Error = st.Message()
		}
	case st.Code() == codes.FailedPrecondition || st.Code() == codes.AlreadyExists || st.Code() == codes.ResourceExhausted:
		// The step does not apply now (or the request id was used for
		// another form); the API's reason says why.
		said := c.catalogs.refusal(lang, st)
		form.Error, form.ErrorDetail = c.catalogs.text(lang, "case.refused", said.Text), said.Detail
	case notConfirmed(st.Code()):
		if r.Context().Err() != nil {
			return // the browser left; the same form sent again finds the first answer
		}
		// The API may or may not have applied the step (the store did
		// not answer, the call failed on its way): the form is kept as
		// typed with its request id, so that sending it again is the same
		// request, which the API applies once.
		c.cfg.Log.WarnContext(r.Context(), "console: step not confirmed", "user", s.user.ID, "step", step, "err", err)
		form.Error, form.Unconfirmed = c.catalogs.text(lang, "case.notconfirmed"), true
	default:
		c.apiError(w, r, s, err)
		return
	}
	c.renderStep(w, r, s, number, m, form, vals, errs)
}

// notConfirmed reports whether a step's call failed without the API
// saying whether it applied: not a refusal, and not the session's or
// the record's end.
func notConfirmed(code codes.Code) bool {
	switch code {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Unknown, codes.DataLoss, codes.Canceled:
		return true
	}
	return false
}

// mergeChecked reads the case a merge would absorb, by the number typed,
// and reports whether the merge may be sent: only once the person has
// seen that case. The first send shows it in the form (with its etag and
// name hidden); the next sends the merge with that etag, and a case
// number changed since is checked anew. A case the person may not see is
// said as absent, as the API says it.
func (c *Console) mergeChecked(w http.ResponseWriter, r *http.Request, s *session, number string, m protoreflect.MethodDescriptor, msg protoreflect.Message, form *stepForm, vals url.Values) bool {
	fields := m.Input().Fields()
	absorbed := strings.TrimSpace(vals.Get("absorbed_case"))
	if absorbed == "" {
		return true // the API says it is required
	}
	if !strings.HasPrefix(absorbed, "cases/") {
		absorbed = "cases/" + absorbed
	}
	msg.Set(fields.ByName("absorbed_case"), protoreflect.ValueOfString(absorbed))
	if etag := vals.Get("absorbed_etag"); etag != "" && vals.Get("absorbed_checked") == absorbed {
		msg.Set(fields.ByName("absorbed_etag"), protoreflect.ValueOfString(etag))
		return true
	}
	lang := c.language(r)
	errs := map[string]string{}
	cs, err := c.api.cases.GetCase(c.apiContext(r, s), &pb.GetCaseRequest{Name: absorbed})
	switch {
	case status.Code(err) == codes.NotFound || status.Code(err) == codes.InvalidArgument:
		form.Error = c.catalogs.text(lang, "form.fix")
		errs["absorbed_case"] = c.catalogs.text(lang, "link.notfound")
	case err != nil:
		c.apiError(w, r, s, err)
		return false
	default:
		form.Check = &mergeCheck{Name: absorbed, Case: cs}
	}
	c.renderStep(w, r, s, number, m, *form, vals, errs)
	return false
}

// renderStep shows the case page again with the posted form open, what
// was typed in it, and the API's answer; for a stale edit, what changed
// since the form was rendered and the case's new etag.
func (c *Console) renderStep(w http.ResponseWriter, r *http.Request, s *session, number string, m protoreflect.MethodDescriptor, form stepForm, vals url.Values, errs map[string]string) {
	lang := c.language(r)
	page, err := c.loadCase(r, s, number)
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	form.Fields = buildFields(form.ID, m.Input(), "", vals, errs, page.Choices.of(string(m.Name())))
	form.Unsaved = true
	// A field the API names but the form has not (a rule over the whole
	// request) is said above the form.
	for k, e := range errs {
		if !slices.ContainsFunc(form.Fields, func(f formField) bool { return f.Name == k }) && !strings.Contains(k, "[") {
			form.Error += " " + c.catalogs.fieldName(lang, k) + ": " + e
		}
	}
	if form.Stale != nil {
		form.Etag = page.Case.GetEtag()
		form.Stale.Changes = changedHeader(vals, page.Was)
		unitName := c.unitNamer(r, s)
		for i, ch := range form.Stale.Changes {
			form.Stale.Changes[i].Was, form.Stale.Changes[i].Now = c.headerText(lang, ch.Key, ch.Was, unitName), c.headerText(lang, ch.Key, ch.Now, unitName)
		}
		seen, _ := strconv.ParseUint(vals.Get("seen_seq"), 10, 64)
		for _, e := range page.Timeline {
			if e.GetSeq() > seen {
				form.Stale.Events = append(form.Stale.Events, e)
			}
		}
	}
	page.Forms = append([]stepForm{form}, c.stepForms(s, page, form.Step)...)
	code := http.StatusBadRequest
	switch {
	case form.Stale != nil:
		code = http.StatusConflict
	case form.Check != nil:
		code = http.StatusOK
	case form.Unconfirmed:
		code = http.StatusServiceUnavailable
	}
	c.render(w, r, code, "case", view{User: &s.user, CSRF: s.csrf, Title: "case.title", Data: page})
}

// changedHeader compares the header the form was rendered with (its
// "was." fields) with the case's now.
func changedHeader(vals url.Values, now []headerValue) []headerChange {
	var out []headerChange
	for _, h := range now {
		was, ok := vals["was."+h.Key]
		if ok && len(was) == 1 && was[0] != h.Value {
			out = append(out, headerChange{Key: h.Key, Was: was[0], Now: h.Value})
		}
	}
	return out
}

// headerText shows a header value (as headerOf wrote it) in the page's
// language, as the rest of the page shows the same values: units by
// their names, deadlines by theirs, states in words.
func (c *Console) headerText(lang, key, value string, unitName func(string) string) string {
	switch key {
	case "case.status":
		return c.catalogs.text(lang, "status."+value)
	case "case.emergency":
		if value == "true" {
			return c.catalogs.text(lang, "yes")
		}
		return c.catalogs.text(lang, "no")
	}
	if value == "" {
		return "—"
	}
	switch key {
	case "case.unit":
		return unitName(value)
	case "case.plan":
		return c.codeText(lang, value)
	case "case.deadlines":
		kinds := strings.Split(value, ", ")
		for i, k := range kinds {
			kinds[i] = c.catalogs.text(lang, "deadline."+k)
		}
		return strings.Join(kinds, ", ")
	case "case.referrals":
		// "policeUnits/{id} STATE, ...": a police unit id has no space.
		refs := strings.Split(value, ", ")
		for i, ref := range refs {
			if unit, state, ok := strings.Cut(ref, " "); ok {
				refs[i] = unitName(unit) + " (" + c.codeText(lang, state) + ")"
			}
		}
		return strings.Join(refs, ", ")
	}
	return value
}

func errorReason(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// showLine is a line of a part of the case shown as the API returned it;
// a message's fields nest under it by depth.
type showLine struct {
	Depth int
	Key   string // the catalog key of the field's name
	Value string // "" for a heading
}

// shown is how a part of the case is shown: in the page's language, with
// units by their names as the rest of the page names them.
type shown struct {
	lang string
	unit func(name string) string
}

// showList shows a repeated field of a message, one heading per item.
func (c *Console) showList(sh shown, m protoreflect.Message, field protoreflect.Name) []showLine {
	fd := m.Descriptor().Fields().ByName(field)
	list := m.Get(fd).List()
	var out []showLine
	for i := range list.Len() {
		out = append(out, showLine{Depth: 0, Key: "field." + string(field), Value: "#" + strconv.Itoa(i+1)})
		out = append(out, c.showMessage(sh, list.Get(i).Message(), 1)...)
	}
	return out
}

// showMessage shows the fields a message has set, in the page's language.
func (c *Console) showMessage(sh shown, m protoreflect.Message, depth int) []showLine {
	var out []showLine
	fds := m.Descriptor().Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if !m.Has(fd) {
			continue
		}
		key := "field." + string(fd.Name())
		v := m.Get(fd)
		switch {
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			for j := range v.List().Len() {
				out = append(out, showLine{Depth: depth, Key: key, Value: "#" + strconv.Itoa(j+1)})
				out = append(out, c.showMessage(sh, v.List().Get(j).Message(), depth+1)...)
			}
		case fd.IsList():
			var parts []string
			for j := range v.List().Len() {
				parts = append(parts, c.showScalar(sh, fd, v.List().Get(j)))
			}
			out = append(out, showLine{Depth: depth, Key: key, Value: strings.Join(parts, "; ")})
		case fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() != "google.protobuf.Timestamp":
			out = append(out, showLine{Depth: depth, Key: key})
			out = append(out, c.showMessage(sh, v.Message(), depth+1)...)
		default:
			out = append(out, showLine{Depth: depth, Key: key, Value: c.showScalar(sh, fd, v)})
		}
	}
	return out
}

func (c *Console) showScalar(sh shown, fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	lang := sh.lang
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return c.catalogs.text(lang, "enum."+string(ev.Name()))
		}
		return strconv.Itoa(int(v.Enum()))
	case protoreflect.BoolKind:
		if v.Bool() {
			return c.catalogs.text(lang, "yes")
		}
		return c.catalogs.text(lang, "no")
	case protoreflect.MessageKind:
		if ts, ok := v.Message().Interface().(interface{ AsTime() time.Time }); ok {
			return view{}.Time(ts.AsTime())
		}
		return prototext.Format(v.Message().Interface())
	case protoreflect.StringKind:
		if unit := v.String(); strings.HasPrefix(unit, "units/") || strings.HasPrefix(unit, "policeUnits/") {
			return sh.unit(unit)
		}
		if d, err := time.Parse(time.DateOnly, v.String()); err == nil && strings.HasSuffix(string(fd.Name()), "_date") {
			return d.Format("02/01/2006") // a date of the API's, as the page's times show dates
		}
		if codedFields[string(fd.Name())] {
			if t, ok := c.catalogs[lang]["code."+v.String()]; ok {
				return t
			}
		}
	}
	return v.String()
}

// codeText is a code the API documents in the page's language
// ("code.VALUE"), or the code as the API gives it.
func (c *Console) codeText(lang, code string) string {
	if t, ok := c.catalogs[lang]["code."+code]; ok {
		return t
	}
	return code
}

// codedFields are the string fields of the API's messages whose values are
// codes the API documents (a referral's state, a plan's, an outcome, a
// decision's kind), shown by their catalog text ("code.VALUE"); a value
// without one shows as the API gives it.
var codedFields = map[string]bool{"state": true, "outcome": true, "kind": true, "plan_state": true}
