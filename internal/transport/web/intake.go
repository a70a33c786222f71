package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/text/width"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// The intake screen (form Mẫu 01): the operator types the call, checks it
// (CreateReport with validate_only, which answers the field errors or the
// cases the report may be about), chooses to join one of them or to open a
// new case, and saves. The form carries the request id of CreateReport
// from the moment it is first shown, so a second click, a reload or a
// retry after a failure returns the first answer and never a second
// report.

// Limits of the form's repeated blocks: the API's (Report.children and
// Report.caregivers max_items).
const (
	maxChildBlocks     = 20
	maxCaregiverBlocks = 10
)

// datetimeLocal is the value format of an <input type="datetime-local">,
// read and shown in Vietnam time.
const datetimeLocal = "2006-01-02T15:04"

// The per-block fields of the form, named as in the API's Child and
// Caregiver, so that the API's field violations land on their inputs.
// "age" is the estimated_age_years branch of the child's age.
var (
	childFields     = []string{"full_name", "birth_date", "age", "sex", "location", "condition", "expected_harm", "residence_unit"}
	caregiverFields = []string{"full_name", "relation", "phone", "address", "suspected_abuser"}
	reportFields    = []string{
		"channel", "means", "call_type", "receive_time", "incident_commune_code",
		"reporter.kind", "reporter.consent", "reporter.full_name", "reporter.phone", "reporter.relation_to_child", "reporter.address",
		"family_situation", "actions_taken", "narrative", "immediate_danger", "case",
	}
)

// Enum choices of the form, in the schema's order, without UNSPECIFIED.
var (
	channelChoices       = enumNames(pb.Channel(0).Descriptor())
	meansChoices         = enumNames(pb.ReportMeans(0).Descriptor())
	callTypeChoices      = enumNames(pb.CallType(0).Descriptor())
	sexChoices           = enumNames(pb.Sex(0).Descriptor())
	abuseChoices         = enumNames(pb.AbuseForm(0).Descriptor())
	circumstanceChoices  = enumNames(pb.SpecialCircumstance(0).Descriptor())
	requestIDPattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	indexedFieldPattern  = regexp.MustCompile(`^(children|caregivers)\[([0-9]+)\](.*)$`)
	intakeCandidateLimit = 5 // Report.candidates max_items
)

func enumNames(d protoreflect.EnumDescriptor) []string {
	var out []string
	for i := range d.Values().Len() {
		if v := d.Values().Get(i); v.Number() != 0 {
			out = append(out, string(v.Name()))
		}
	}
	return out
}

// intakeForm is what the operator typed, by field name, kept across every
// round trip of the form.
type intakeForm struct {
	RequestID     string
	Values        map[string]string // by field name, "children[0].full_name"
	Abuse         []string          // AbuseForm names checked
	Circumstances []string          // SpecialCircumstance names checked
	Children      int               // child blocks shown
	Caregivers    int               // caregiver blocks shown
	Errors        map[string]string // by field name, in the page's language
	apiIndex      map[string][]int  // block kind -> form block of each API list index
	errorOrder    []string          // field names in the order errors came
	extraErrors   []string          // errors that name no input of the form
}

// intakePage is the data of the intake form.
type intakePage struct {
	Form       *intakeForm
	Communes   []*pb.Unit
	Now        string // the latest receive time, datetime-local in Vietnam time
	Checked    bool   // a check found the report valid: show candidates and Save
	Candidates []candidateRow
	NotSaved   bool // a save failed: say so plainly
	Reused     bool // the request id went with another report: maybe saved
	// Unsaved: the form is the one a send answered (a check, a block
	// added, a refusal), kept as typed and not saved. The page's script
	// guards it as typed text (console.js): leaving asks first, and
	// "Lưu" checks the session before the form may leave the page.
	Unsaved   bool
	Summary   []fieldError
	unitNames map[string]string

	Channels, Means, CallTypes, Sexes, AbuseForms, Circumstances []string
}

// fieldError is an error of the summary: the field's anchor and the text.
type fieldError struct {
	ID, Text string
}

// candidateRow is a case the report may be about, as the person may see
// it (nil Case: only its number is known to them).
type candidateRow struct {
	Name, Number string
	Score        string
	Matched      []string
	Case         *pb.Case
}

// field is one input of the form: its id, name, value and error.
type field struct {
	ID, Name, Value, Err string
}

// F returns the input of a field name.
func (p intakePage) F(name string) field {
	return field{ID: fieldID(name), Name: name, Value: p.Form.Values[name], Err: p.Form.Errors[name]}
}

// Child and Caregiver return a block's input.
func (p intakePage) Child(i int, name string) field {
	return p.F("children[" + strconv.Itoa(i) + "]." + name)
}

func (p intakePage) Caregiver(i int, name string) field {
	return p.F("caregivers[" + strconv.Itoa(i) + "]." + name)
}

// Blocks returns 0..n-1, for ranging over the blocks.
func (p intakePage) Blocks(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// N is a block's number as people count, from 1.
func (p intakePage) N(i int) int { return i + 1 }

// UnitOfCode is the full name of a listed commune by its code, or "".
func (p intakePage) UnitOfCode(code string) string {
	for _, u := range p.Communes {
		if u.GetCode() == code {
			return unitLabel(u)
		}
	}
	return ""
}

// HasAbuse and HasCircumstance say whether a checkbox is checked.
func (p intakePage) HasAbuse(name string) bool { return slices.Contains(p.Form.Abuse, name) }
func (p intakePage) HasCircumstance(name string) bool {
	return slices.Contains(p.Form.Circumstances, name)
}

// MoreChildren and MoreCaregivers say whether another block may be added.
func (p intakePage) MoreChildren() bool   { return p.Form.Children < maxChildBlocks }
func (p intakePage) MoreCaregivers() bool { return p.Form.Caregivers < maxCaregiverBlocks }

// UnitName shows a unit's name, "units/00004@2025-07-01", by its full
// name when it is one of the communes listed.
func (p intakePage) UnitName(name string) string {
	if n, ok := p.unitNames[name]; ok {
		return n
	}
	return strings.TrimPrefix(name, "units/")
}

// fieldID is the HTML id of a field name: "children[0].sex" is
// "children-0-sex".
func fieldID(name string) string {
	return strings.NewReplacer("[", "-", "]", "", ".", "-").Replace(name)
}

func (c *Console) intakeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /reports/new", c.signed(c.intakeNew))
	mux.HandleFunc("POST /reports/new", c.signed(c.intakePost))
	mux.HandleFunc("GET /reports/saved/{id}", c.signed(c.intakeSaved))
	mux.HandleFunc("GET /reports/{id}", c.signed(c.intakeReport))
	// The report's page posts to itself, so that a refusal is answered at
	// the page's own path: to attach the report to a case, or (do=disclose)
	// to ask for the reporter's identity with a reason, whose answer is
	// that page only, never a link or a redirect that would keep it.
	mux.HandleFunc("POST /reports/{id}", c.signed(func(w http.ResponseWriter, r *http.Request, s *session) {
		if r.PostFormValue("do") == "disclose" {
			c.discloseReporter(w, r, s)
			return
		}
		c.linkReport(w, r, s)
	}))
}

// intakeNew shows a blank form with a new request id, received now.
func (c *Console) intakeNew(w http.ResponseWriter, r *http.Request, s *session) {
	if !mayUse(s, "ReportService/CreateReport") {
		// The API refuses it: its refusal is audited (auth.denied), as
		// every other screen's refusal for the role is. An empty check
		// (validate_only) stores nothing even were it not refused.
		_, err := c.api.reports.CreateReport(c.apiContext(r, s), &pb.CreateReportRequest{ValidateOnly: true})
		c.refused(w, r, s, err)
		return
	}
	f := &intakeForm{RequestID: uuid.NewString(), Values: map[string]string{}, Errors: map[string]string{}, Children: 1, Caregivers: 1}
	f.Values["receive_time"] = c.cfg.Clock.Now().In(vntime.Location()).Format(datetimeLocal)
	f.Values["channel"], f.Values["means"] = defaultChannel(s.user)
	c.renderIntake(w, r, s, http.StatusOK, f, intakePage{})
}

// defaultChannel is where a person's reports usually come from, to spare
// a choice on every call; the operator may change it.
func defaultChannel(u model.User) (channel, means string) {
	switch {
	case u.Unit == model.OrgHotline111:
		return pb.Channel_CHANNEL_HOTLINE_111.String(), pb.ReportMeans_REPORT_MEANS_PHONE_CALL.String()
	case u.Unit == model.OrgSocialWorkCentre:
		return pb.Channel_CHANNEL_SOCIAL_WORK_CENTRE.String(), pb.ReportMeans_REPORT_MEANS_PHONE_CALL.String()
	case u.Role == model.RolePoliceLiaison:
		return pb.Channel_CHANNEL_POLICE.String(), ""
	case u.Role == model.RoleCommuneWorker || u.Role == model.RoleCommuneChair:
		return pb.Channel_CHANNEL_COMMUNE.String(), ""
	case u.Role == model.RoleDistrictOfficer || u.Role == model.RoleCityOfficer:
		return pb.Channel_CHANNEL_SOCIAL_AFFAIRS_OFFICE.String(), ""
	}
	return "", ""
}

// intakePost is every button of the form: add a block, check, save.
func (c *Console) intakePost(w http.ResponseWriter, r *http.Request, s *session) {
	if !mayUse(s, "ReportService/CreateReport") {
		// The API refuses it, sent nothing of what was typed: its refusal
		// is audited (auth.denied) as the same call made to the API is.
		_, err := c.api.reports.CreateReport(c.apiContext(r, s), &pb.CreateReportRequest{})
		c.refused(w, r, s, err)
		return
	}
	f := readIntakeForm(r.PostForm)
	switch r.PostFormValue("do") {
	case "add-child":
		f.Children = min(f.Children+1, maxChildBlocks)
		c.renderIntake(w, r, s, http.StatusOK, f, intakePage{})
	case "add-caregiver":
		f.Caregivers = min(f.Caregivers+1, maxCaregiverBlocks)
		c.renderIntake(w, r, s, http.StatusOK, f, intakePage{})
	case "save":
		c.intakeSave(w, r, s, f)
	default:
		c.intakeCheck(w, r, s, f)
	}
}

// intakeCheck runs CreateReport with validate_only: the field errors, or
// the cases the report may be about.
func (c *Console) intakeCheck(w http.ResponseWriter, r *http.Request, s *session, f *intakeForm) {
	report := f.report(c.catalogs, c.language(r))
	if len(f.Errors) > 0 {
		c.renderIntake(w, r, s, http.StatusUnprocessableEntity, f, intakePage{})
		return
	}
	resp, err := c.api.reports.CreateReport(c.apiContext(r, s), &pb.CreateReportRequest{
		Report: report, RequestId: f.RequestID, ValidateOnly: true,
	})
	if err != nil {
		if f.apiErrors(err, c.catalogs, c.language(r)) {
			c.renderIntake(w, r, s, http.StatusUnprocessableEntity, f, intakePage{})
			return
		}
		switch status.Code(err) {
		case codes.Unauthenticated, codes.NotFound, codes.PermissionDenied:
			c.apiError(w, r, s, err)
			return
		}
		if r.Context().Err() != nil {
			return
		}
		// The check failed for a reason of the service's: keep the form
		// and what was typed, and let the operator try again.
		c.cfg.Log.WarnContext(r.Context(), "console: intake check", "user", s.user.ID, "err", err)
		f.extraErrors = append(f.extraErrors, c.catalogs.text(c.language(r), "intake.checkfailed"))
		c.renderIntake(w, r, s, http.StatusServiceUnavailable, f, intakePage{})
		return
	}
	page := intakePage{Checked: true, Candidates: c.candidateRows(r, s, report, resp.GetCandidates())}
	c.renderIntake(w, r, s, http.StatusOK, f, page)
}

// intakeSave runs CreateReport with the form's request id and, once it
// answers, sends the browser to the report's confirmation (POST, redirect,
// GET: a reload shows the confirmation again and saves nothing).
func (c *Console) intakeSave(w http.ResponseWriter, r *http.Request, s *session, f *intakeForm) {
	report := f.report(c.catalogs, c.language(r))
	if len(f.Errors) > 0 {
		c.renderIntake(w, r, s, http.StatusUnprocessableEntity, f, intakePage{NotSaved: true})
		return
	}
	resp, err := c.api.reports.CreateReport(c.apiContext(r, s), &pb.CreateReportRequest{Report: report, RequestId: f.RequestID})
	if err != nil {
		c.intakeSaveFailed(w, r, s, f, err)
		return
	}
	saved := savedAnswer{requestID: f.RequestID, report: resp.GetName(), caseNumber: strings.TrimPrefix(resp.GetCase(), "cases/")}
	for _, cand := range resp.GetCandidates() {
		saved.candidates = append(saved.candidates, strings.TrimPrefix(cand.GetCase(), "cases/"))
	}
	http.Redirect(w, r, "/reports/saved/"+s.remember(saved), http.StatusSeeOther)
}

// intakeSaveFailed answers a save the API did not confirm: the form again,
// with what was typed and the same request id, and a plain "not saved".
func (c *Console) intakeSaveFailed(w http.ResponseWriter, r *http.Request, s *session, f *intakeForm, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the browser left; its retry will find the first answer
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.Unauthenticated, codes.NotFound, codes.PermissionDenied:
		c.apiError(w, r, s, err)
		return
	case codes.AlreadyExists:
		// The request id went with a report of other content: the first
		// try may have been saved before the form was changed.
		c.renderIntake(w, r, s, http.StatusConflict, f, intakePage{Reused: true})
		return
	}
	if !f.apiErrors(err, c.catalogs, c.language(r)) {
		c.cfg.Log.WarnContext(r.Context(), "console: report not saved", "user", s.user.ID, "err", err)
	}
	code := http.StatusServiceUnavailable
	if st.Code() == codes.InvalidArgument || st.Code() == codes.FailedPrecondition {
		code = http.StatusUnprocessableEntity
	}
	c.renderIntake(w, r, s, code, f, intakePage{NotSaved: true})
}

// renderIntake shows the form with the communes in force today.
func (c *Console) renderIntake(w http.ResponseWriter, r *http.Request, s *session, code int, f *intakeForm, page intakePage) {
	communes, err := c.communesToday(r, s)
	if status.Code(err) == codes.Unauthenticated {
		c.apiError(w, r, s, err)
		return
	}
	if err != nil {
		// The form still works without the list: the code can be typed.
		c.cfg.Log.WarnContext(r.Context(), "console: communes for the intake form", "err", err)
	}
	page.Form, page.Communes = f, communes
	// A blank form is a GET's; every POST of the form (intakePost) is
	// answered here only when nothing was saved.
	page.Unsaved = r.Method == http.MethodPost
	page.unitNames = map[string]string{}
	for _, u := range communes {
		page.unitNames[u.GetName()] = unitLabel(u)
	}
	page.Now = c.cfg.Clock.Now().In(vntime.Location()).Format(datetimeLocal)
	page.Channels, page.Means, page.CallTypes, page.Sexes = channelChoices, meansChoices, callTypeChoices, sexChoices
	page.AbuseForms, page.Circumstances = abuseChoices, circumstanceChoices
	lang := c.language(r)
	for _, name := range f.errorOrder {
		page.Summary = append(page.Summary, fieldError{ID: fieldID(name), Text: c.catalogs.fieldLabel(lang, name) + ": " + f.Errors[name]})
	}
	for _, text := range f.extraErrors {
		page.Summary = append(page.Summary, fieldError{Text: text})
	}
	c.render(w, r, code, "intake", view{User: &s.user, CSRF: s.csrf, Title: "intake.title", Data: page})
}

// fieldLabel names an input of the intake form, for the error summary:
// "Trẻ thứ 1 · Ngày sinh".
func (cs catalogs) fieldLabel(lang, name string) string {
	prefix := ""
	if m := indexedFieldPattern.FindStringSubmatch(name); m != nil {
		i, _ := strconv.Atoi(m[2])
		block := "intake.child"
		if m[1] == "caregivers" {
			block = "intake.caregiver"
		}
		prefix, name = cs.text(lang, block, i+1)+" · ", strings.TrimPrefix(m[3], ".")
	}
	if _, ok := cs[lang]["intake.f."+name]; !ok {
		if rest, ok := strings.CutPrefix(name, "reporter."); ok {
			prefix, name = cs.text(lang, "intake.s.reporter")+" · ", rest
		}
	}
	return prefix + cs.text(lang, "intake.f."+name)
}

// communesToday lists the communes in force today (about 130 since the
// 2025 reform; one page holds them all).
func (c *Console) communesToday(r *http.Request, s *session) ([]*pb.Unit, error) {
	resp, err := c.api.units.ListUnits(c.apiContext(r, s), &pb.ListUnitsRequest{
		Level: pb.UnitLevel_UNIT_LEVEL_COMMUNE, PageSize: 1000,
		AsOfDate: vntime.DateOf(c.cfg.Clock.Now()).String(),
	})
	if err != nil {
		return nil, err
	}
	return resp.GetUnits(), nil
}

// readIntakeForm reads the posted form; only the fields of the form are
// kept, and the blocks are bounded by the API's limits.
func readIntakeForm(form url.Values) *intakeForm {
	f := &intakeForm{Values: map[string]string{}, Errors: map[string]string{}}
	f.RequestID = form.Get("request_id")
	if !requestIDPattern.MatchString(f.RequestID) {
		f.RequestID = uuid.NewString()
	}
	f.Children = boundedCount(form.Get("children_count"), maxChildBlocks)
	f.Caregivers = boundedCount(form.Get("caregivers_count"), maxCaregiverBlocks)
	names := slices.Clone(reportFields)
	for i := range f.Children {
		for _, k := range childFields {
			names = append(names, "children["+strconv.Itoa(i)+"]."+k)
		}
	}
	for i := range f.Caregivers {
		for _, k := range caregiverFields {
			names = append(names, "caregivers["+strconv.Itoa(i)+"]."+k)
		}
	}
	for _, n := range names {
		if v := strings.TrimSpace(form.Get(n)); v != "" {
			f.Values[n] = v
		}
	}
	f.Abuse = form["suspected_abuse"]
	f.Circumstances = form["special_circumstances"]
	return f
}

func boundedCount(s string, limit int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 1
	}
	return min(n, limit)
}

// report builds the API's report from the form. Blank blocks are left
// out. What the form itself cannot read (a time, a number) is an error of
// its field; every other rule is the API's.
func (f *intakeForm) report(cats catalogs, lang string) *pb.Report {
	v := f.Values
	rep := &pb.Report{
		Channel:              pb.Channel(pb.Channel_value[v["channel"]]),
		Means:                pb.ReportMeans(pb.ReportMeans_value[v["means"]]),
		CallType:             pb.CallType(pb.CallType_value[v["call_type"]]),
		IncidentCommuneCode:  v["incident_commune_code"],
		FamilySituation:      v["family_situation"],
		ActionsTaken:         v["actions_taken"],
		Narrative:            v["narrative"],
		ImmediateDanger:      v["immediate_danger"] != "",
		Case:                 v["case"],
		Reporter:             &pb.Reporter{},
		SuspectedAbuse:       enumValues[pb.AbuseForm](f.Abuse, pb.AbuseForm_value),
		SpecialCircumstances: enumValues[pb.SpecialCircumstance](f.Circumstances, pb.SpecialCircumstance_value),
	}
	if t := v["receive_time"]; t != "" {
		at, err := time.ParseInLocation(datetimeLocal, t, vntime.Location())
		if err != nil {
			f.addError("receive_time", cats.text(lang, "intake.err.datetime"))
		} else {
			rep.ReceiveTime = timestamppb.New(at)
		}
	}
	switch v["reporter.kind"] {
	case "anonymous":
		rep.Reporter.Identity = &pb.Reporter_Anonymous{Anonymous: true}
	case "identified":
		rep.Reporter.Identity = &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{
			Consent: v["reporter.consent"] != "", FullName: v["reporter.full_name"], Phone: v["reporter.phone"],
			RelationToChild: v["reporter.relation_to_child"], Address: v["reporter.address"],
		}}
	}
	f.apiIndex = map[string][]int{}
	for i := range f.Children {
		p := "children[" + strconv.Itoa(i) + "]."
		if f.blank(p, childFields) {
			continue
		}
		child := &pb.Child{
			FullName: v[p+"full_name"], Sex: pb.Sex(pb.Sex_value[v[p+"sex"]]), Location: v[p+"location"],
			Condition: v[p+"condition"], ExpectedHarm: v[p+"expected_harm"], ResidenceUnit: v[p+"residence_unit"],
		}
		switch birth, age := v[p+"birth_date"], v[p+"age"]; {
		case birth != "" && age != "":
			f.addError(p+"age", cats.text(lang, "intake.err.age_or_birth"))
		case birth != "":
			child.Age = &pb.Child_BirthDate{BirthDate: birth}
		case age != "":
			// A Vietnamese input method types full-width digits ("１２").
			years, err := strconv.ParseInt(width.Narrow.String(age), 10, 32)
			if err != nil {
				f.addError(p+"age", cats.text(lang, "intake.err.number"))
			}
			child.Age = &pb.Child_EstimatedAgeYears{EstimatedAgeYears: int32(years)}
		}
		f.apiIndex["children"] = append(f.apiIndex["children"], i)
		rep.Children = append(rep.Children, child)
	}
	for i := range f.Caregivers {
		p := "caregivers[" + strconv.Itoa(i) + "]."
		if f.blank(p, caregiverFields) {
			continue
		}
		f.apiIndex["caregivers"] = append(f.apiIndex["caregivers"], i)
		rep.Caregivers = append(rep.Caregivers, &pb.Caregiver{
			FullName: v[p+"full_name"], Relation: v[p+"relation"], Phone: v[p+"phone"],
			Address: v[p+"address"], SuspectedAbuser: v[p+"suspected_abuser"] != "",
		})
	}
	return rep
}

// enumValues maps checked names to an enum's values; a name the schema
// does not have is sent as 0, which the API refuses by name.
func enumValues[E ~int32](names []string, values map[string]int32) []E {
	var out []E
	for _, n := range names {
		out = append(out, E(values[n]))
	}
	return out
}

func (f *intakeForm) blank(prefix string, fields []string) bool {
	for _, k := range fields {
		if f.Values[prefix+k] != "" {
			return false
		}
	}
	return true
}

func (f *intakeForm) addError(name, text string) {
	if _, dup := f.Errors[name]; dup {
		return
	}
	f.Errors[name] = text
	f.errorOrder = append(f.errorOrder, name)
}

// apiErrors puts the field violations of an INVALID_ARGUMENT answer on
// their inputs (or in the summary when they name none) and reports
// whether the error was one; a FailedPrecondition's message goes to the
// summary too.
func (f *intakeForm) apiErrors(err error, cats catalogs, lang string) bool {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.InvalidArgument:
	case codes.FailedPrecondition:
		f.extraErrors = append(f.extraErrors, cats.refusal(lang, st).String())
		return true
	default:
		return false
	}
	found := false
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			found = true
			text := cats.rule(lang, v, "intake.rule.")
			if name := f.formField(v.GetField()); name != "" {
				f.addError(name, text)
			} else {
				f.extraErrors = append(f.extraErrors, cats.fieldName(lang, v.GetField())+": "+text)
			}
		}
	}
	if !found {
		f.extraErrors = append(f.extraErrors, st.Message())
	}
	return true
}

// formField is the input an API field path names, "" for none: the
// API's indexes count only the blocks sent, and the reporter's oneof
// shows as one set of inputs.
func (f *intakeForm) formField(path string) string {
	name := strings.TrimPrefix(path, "report.")
	if m := indexedFieldPattern.FindStringSubmatch(name); m != nil {
		i, err := strconv.Atoi(m[2])
		blocks := f.apiIndex[m[1]]
		if err != nil || i >= len(blocks) {
			return ""
		}
		sub := strings.TrimPrefix(m[3], ".")
		switch sub {
		case "estimated_age_years":
			sub = "age"
		case "age", "":
			sub = "birth_date"
			if m[1] == "caregivers" {
				sub = "full_name"
			}
		}
		name = m[1] + "[" + strconv.Itoa(blocks[i]) + "]." + sub
	}
	switch {
	case name == "reporter" || name == "reporter.identity" || name == "reporter.anonymous":
		return "reporter.kind"
	case name == "reporter.identified":
		return "reporter.full_name"
	case strings.HasPrefix(name, "reporter.identified."):
		name = "reporter." + strings.TrimPrefix(name, "reporter.identified.")
	case name == "children":
		return "children[0].full_name"
	case strings.HasPrefix(name, "suspected_abuse"):
		return "suspected_abuse"
	case strings.HasPrefix(name, "special_circumstances"):
		return "special_circumstances"
	}
	if _, ok := f.Values[name]; ok || f.known(name) {
		return name
	}
	return ""
}

// known says whether a field name is an input of the form.
func (f *intakeForm) known(name string) bool {
	if slices.Contains(reportFields, name) {
		return true
	}
	m := indexedFieldPattern.FindStringSubmatch(name)
	if m == nil {
		return false
	}
	i, _ := strconv.Atoi(m[2])
	sub := strings.TrimPrefix(m[3], ".")
	if m[1] == "children" {
		return i < f.Children && slices.Contains(childFields, sub)
	}
	return i < f.Caregivers && slices.Contains(caregiverFields, sub)
}

// candidateRows shows the API's candidates as the person may see them:
// each case as SearchCases answers it to them for the report's first
// child, caregiver and phone (in the candidate view for another
// operator's case), or by its number alone.
func (c *Console) candidateRows(r *http.Request, s *session, rep *pb.Report, cands []*pb.ReportCandidate) []candidateRow {
	if len(cands) == 0 {
		return nil
	}
	seen := map[string]*pb.Case{}
	if q := searchOf(rep); q != nil && mayUse(s, "CaseService/SearchCases") {
		resp, err := c.api.cases.SearchCases(c.apiContext(r, s), q)
		if err != nil {
			c.cfg.Log.WarnContext(r.Context(), "console: candidates' details", "err", err)
		}
		for _, cc := range resp.GetCandidates() {
			seen[cc.GetCase().GetName()] = cc.GetCase()
		}
	}
	var rows []candidateRow
	for _, cand := range cands[:min(len(cands), intakeCandidateLimit)] {
		rows = append(rows, candidateRow{
			Name: cand.GetCase(), Number: strings.TrimPrefix(cand.GetCase(), "cases/"),
			Score: strconv.FormatFloat(cand.GetScore(), 'f', 2, 64), Matched: cand.GetMatchedFields(),
			Case: seen[cand.GetCase()],
		})
	}
	return rows
}

// searchOf is the search of a report's first child, caregiver and phone,
// or nil when it has nothing to search by.
func searchOf(rep *pb.Report) *pb.SearchCasesRequest {
	q := &pb.SearchCasesRequest{CommuneCode: rep.GetIncidentCommuneCode(), PageSize: 20}
	if ch := rep.GetChildren(); len(ch) > 0 {
		q.ChildName, q.BirthDate = ch[0].GetFullName(), ch[0].GetBirthDate()
	}
	if cg := rep.GetCaregivers(); len(cg) > 0 {
		q.CaregiverName, q.Phone = cg[0].GetFullName(), cg[0].GetPhone()
	}
	if q.Phone == "" {
		q.Phone = rep.GetReporter().GetIdentified().GetPhone()
	}
	if q.ChildName == "" && q.BirthDate == "" && q.Phone == "" && q.CaregiverName == "" && q.CommuneCode == "" {
		return nil
	}
	return q
}

// savedPage is the confirmation of a saved report or, unsaid saved, a
// report as the API answers it.
type savedPage struct {
	Saved      bool   // this session's save: say "Đã lưu"
	ReportID   string // "" for a police receipt
	Report     *pb.Report
	Case       *pb.Case // nil: the report opened no case, or one the person may not see
	CaseNumber string
	// Elsewhere: the report's case is out of the person's scope (a
	// commune worker's report about another commune's child): its number
	// is the person's to read aloud, the case the other unit's.
	Elsewhere  bool
	Commune    string
	First      *pb.Deadline // the case's first open deadline
	Candidates []string     // case numbers the API answered this session's save with
	// Link is the form that attaches a report in no case to a case, for
	// those who may (LinkReport); nil when it is not offered.
	Link *linkForm
	// Reporter is the report page's part about the reporter; nil on the
	// confirmation of a save.
	Reporter *reporterPanel
}

// reporterPanel says that the reporter's identity is withheld, as the API
// answers it to everyone, and, to those who may disclose it
// (DiscloseReporter: hotline supervisors and city officers), offers the
// form that asks for it with a reason. Disclosed is the API's answer to
// that form, shown on that answer only.
type reporterPanel struct {
	MayDisclose   bool
	Reason, Error string
	Disclosed     *pb.Reporter
}

// linkForm is the form that attaches a report to a case: the case number
// typed, the request id that makes a retry harmless, and the API's answer.
type linkForm struct {
	Case, RequestID string
	Error, Detail   string
}

// intakeSaved is the confirmation of a save this session made: "Đã
// lưu", the case number to read aloud, the case's commune and first
// deadline, and the cases the save answered as candidates. A police
// receipt names no report: it shows the case, which they read in the
// police view. Another session's confirmation, or a made-up one, is not
// found.
func (c *Console) intakeSaved(w http.ResponseWriter, r *http.Request, s *session) {
	saved, ok := s.recall(r.PathValue("id"))
	if !ok || saved.done != "" {
		c.notFoundFor(w, r, s)
		return
	}
	page := savedPage{Saved: true, Candidates: saved.candidates}
	if saved.report == "" {
		c.showSaved(w, r, s, page, saved.caseNumber)
		return
	}
	c.showReport(w, r, s, page, saved.report)
}

// intakeReport shows a report as the API answers it to the person, by
// its address: not a confirmation, since a link can name any report.
func (c *Console) intakeReport(w http.ResponseWriter, r *http.Request, s *session) {
	if _, err := uuid.Parse(r.PathValue("id")); err != nil {
		c.notFoundFor(w, r, s)
		return
	}
	c.showReport(w, r, s, savedPage{}, "reports/"+r.PathValue("id"))
}

// linkReport attaches a report that is in no case to the case whose
// number was typed (LinkReport), with the form's request id, so that a
// second click or a retry links once. A refusal shows the report's page
// again with the number typed and the API's reason; a case the person
// may not see is refused as absent, as the API refuses it.
func (c *Console) linkReport(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil {
		c.notFoundFor(w, r, s)
		return
	}
	form := &linkForm{Case: strings.TrimSpace(r.PostFormValue("case")), RequestID: r.PostFormValue("request_id")}
	if !requestIDPattern.MatchString(form.RequestID) {
		form.RequestID = newRequestID()
	}
	number := strings.TrimPrefix(form.Case, "cases/")
	if number == "" {
		form.Error = c.catalogs.text(c.language(r), "rule.required")
		c.showReport(w, r, s, savedPage{Link: form}, "reports/"+id)
		return
	}
	_, err := c.api.reports.LinkReport(c.apiContext(r, s), &pb.LinkReportRequest{
		Name: "reports/" + id, Case: "cases/" + number, RequestId: form.RequestID,
	})
	if err == nil {
		done := s.remember(savedAnswer{requestID: "link " + form.RequestID, report: "reports/" + id, done: "link"})
		http.Redirect(w, r, "/reports/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
		return
	}
	lang := c.language(r)
	switch status.Code(err) {
	case codes.NotFound:
		// The case, or the report: a report the person may not see is
		// answered as not found when the page reads it again.
		form.Error = c.catalogs.text(lang, "link.notfound")
	default:
		said, ok := c.catalogs.refused(lang, err)
		if !ok {
			c.apiError(w, r, s, err)
			return
		}
		form.Error, form.Detail = said.Text, said.Detail
	}
	c.showReport(w, r, s, savedPage{Link: form}, "reports/"+id)
}

// discloseReporter asks the API for the reporter's identity with the
// reason typed, and shows it on the report's page. The API audits the
// disclosure, with its reason, before it answers; a reason it refuses is
// said on the form, kept as typed.
func (c *Console) discloseReporter(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil {
		c.notFoundFor(w, r, s)
		return
	}
	panel := &reporterPanel{Reason: r.PostFormValue("reason")}
	rep, err := c.api.reports.DiscloseReporter(c.apiContext(r, s), &pb.DiscloseReporterRequest{Name: "reports/" + id, Reason: panel.Reason})
	switch {
	case err == nil:
		panel.Disclosed = rep
	case status.Code(err) == codes.InvalidArgument:
		said, _ := c.catalogs.refused(c.language(r), err)
		panel.Error = said.String()
	default:
		c.apiError(w, r, s, err)
		return
	}
	c.showReport(w, r, s, savedPage{Reporter: panel}, "reports/"+id)
}

func (c *Console) showReport(w http.ResponseWriter, r *http.Request, s *session, page savedPage, name string) {
	rep, err := c.api.reports.GetReport(c.apiContext(r, s), &pb.GetReportRequest{Name: name})
	if err != nil {
		c.apiError(w, r, s, err)
		return
	}
	page.ReportID, page.Report = strings.TrimPrefix(rep.GetName(), "reports/"), rep
	if page.Reporter == nil {
		page.Reporter = &reporterPanel{}
	}
	page.Reporter.MayDisclose = mayUse(s, "ReportService/DiscloseReporter")
	switch {
	case rep.GetCase() != "" || !mayUse(s, "ReportService/LinkReport"):
		page.Link = nil
	case page.Link == nil:
		page.Link = &linkForm{RequestID: newRequestID()}
	}
	c.showSaved(w, r, s, page, strings.TrimPrefix(rep.GetCase(), "cases/"))
}

func (c *Console) showSaved(w http.ResponseWriter, r *http.Request, s *session, page savedPage, number string) {
	page.CaseNumber = number
	if number != "" {
		cs, err := c.api.cases.GetCase(c.apiContext(r, s), &pb.GetCaseRequest{Name: "cases/" + number})
		switch {
		case status.Code(err) == codes.NotFound && page.Report != nil:
			// The person's own report, whose case the API answered it
			// with, in another unit's scope: the number, not the case.
			page.Elsewhere = true
		case err != nil:
			c.apiError(w, r, s, err)
			return
		default:
			page.Case, page.First = cs, nearestOpen(cs.GetDeadlines())
			page.Commune = strings.TrimPrefix(cs.GetResponsibleUnit(), "units/")
			if u, err := c.api.units.GetUnit(c.apiContext(r, s), &pb.GetUnitRequest{Name: cs.GetResponsibleUnit()}); err == nil {
				page.Commune = unitLabel(u)
			}
		}
	}
	title := "intake.report.title"
	if page.Saved {
		title = "intake.saved.title"
	}
	v := view{User: &s.user, CSRF: s.csrf, Title: title, Data: page}
	code := http.StatusOK
	switch {
	case page.Link != nil && page.Link.Error != "", page.Reporter != nil && page.Reporter.Error != "":
		code = http.StatusUnprocessableEntity
	case page.CaseNumber != "":
		v.Flash = s.doneFlash(r.URL.Query().Get("done"), "", "reports/"+page.ReportID)
	}
	c.render(w, r, code, "intake_saved", v)
}
