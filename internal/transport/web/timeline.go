package web

import (
	"regexp"
	"slices"
	"strings"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The timeline's details in the page's language. The domain writes each
// event's detail in English for the API's clients and its logs; the page
// says it again in its own words, from the case's own data where the event
// names a deadline (its kind, its due time), else from the parts of the
// detail that are data (a unit, a time, a number) put into a catalog
// sentence. What a person typed stays as typed; a detail the console does
// not know shows as the API gave it, never blank.

// deadlineDetails are the event kinds made for one deadline (the event's
// deadline_id): each says "event.detail.KIND" with %[1]s the deadline's
// name, %[2]s its due time in Vietnam time and %[3]s the unit it stands
// with (for an escalation, the unit it went to).
var deadlineDetails = []string{
	"DEADLINE_STARTED", "DEADLINE_WARNING", "DEADLINE_BREACHED", "ESCALATED", "DEADLINE_MET", "DEADLINE_MISSED",
	"DEADLINE_CANCELLED", "DEADLINE_MERGED", "DEADLINE_MOVED", "DEADLINE_PAUSED", "DEADLINE_RESUMED", "SEPARATION_EXTENDED",
	"POLICE_DEADLINE_EXTENDED", "POLICE_DEADLINE_SUSPENDED", "POLICE_DEADLINE_RESUMED",
}

// detailArg is how a part of a detail is shown.
type detailArg int

const (
	argText      detailArg = iota // as it is: a number, a case number
	argUnit                       // a unit's resource name, shown by its name
	argTime                       // an RFC 3339 time, shown in Vietnam time
	argBool                       // "true" or "false", shown as yes or no
	argGround                     // a closure ground, shown by its name
	argEmergency                  // an emergency reason, shown by its name
)

// detailForm is one detail the domain generates: its fmt format, exactly
// as the domain writes it (a test checks that its fixed parts are in the
// domain's sources), and the catalog sentence that says it.
type detailForm struct {
	kind, format, key string
	args              []detailArg
	// words are the domain's words the format fixes where the domain's
	// own format has a verb (the thing recorded late, a service's state).
	words []string
	re    *regexp.Regexp
}

// detailForms are the details without a deadline, by kind. A kind with
// two forms lists the longer first.
var detailForms = compileForms([]detailForm{
	{kind: "FORWARDED", format: "forwarded to %s", key: "event.detail.FORWARDED", args: []detailArg{argUnit}},
	{kind: "TRANSFER_PROPOSED", format: "from %s to %s", key: "event.detail.TRANSFER_PROPOSED", args: []detailArg{argUnit, argUnit}},
	{kind: "REASSIGNMENT_PROPOSED", format: "from %s to %s", key: "event.detail.REASSIGNMENT_PROPOSED", args: []detailArg{argUnit, argUnit}},
	{kind: "TRANSFER_ACCEPTED", format: "%s is now responsible", key: "event.detail.TRANSFER_ACCEPTED", args: []detailArg{argUnit}},
	{kind: "TRANSFER_DECLINED", format: "%s declined for %s, which left it unanswered", key: "event.detail.TRANSFER_DECLINED_FOR", args: []detailArg{argUnit, argUnit}},
	{kind: "TRANSFER_DECLINED", format: "%s declined", key: "event.detail.TRANSFER_DECLINED", args: []detailArg{argUnit}},
	{kind: "POLICE_REFERRAL", format: "%s", key: "event.detail.POLICE_REFERRAL", args: []detailArg{argUnit}},
	{kind: "POLICE_ACKNOWLEDGED", format: "%s", key: "event.detail.POLICE_ACKNOWLEDGED", args: []detailArg{argUnit}},
	{kind: "POLICE_FORWARDED", format: "%s", key: "event.detail.POLICE_FORWARDED", args: []detailArg{argUnit}},
	{kind: "POLICE_RECEIVED", format: "received directly by %s at %s", key: "event.detail.POLICE_RECEIVED", args: []detailArg{argUnit, argTime}},
	{kind: "INITIAL_ASSESSMENT_RECORDED", format: "emergency: %v", key: "event.detail.INITIAL_ASSESSMENT_RECORDED", args: []detailArg{argBool}},
	{kind: "EMERGENCY_DOWNGRADED", format: "the reason is in the case notes (EMERGENCY_DOWNGRADED)", key: "event.detail.EMERGENCY_DOWNGRADED"},
	{kind: "EMERGENCY_REPORTED", format: "a joining report makes it an emergency: %s", key: "event.detail.EMERGENCY_REPORTED", args: []detailArg{argEmergency}},
	{kind: "EMERGENCY_MEASURES_RECORDED", format: "applied %s", key: "event.detail.EMERGENCY_MEASURES_RECORDED", args: []detailArg{argTime}},
	{kind: "SEPARATION_STARTED", format: "started %s", key: "event.detail.SEPARATION_STARTED", args: []detailArg{argTime}},
	{kind: "LATE_RECORDING", format: "emergency measures applied %s, recorded %d minutes later", key: "event.detail.LATE_RECORDING.measures", args: []detailArg{argTime, argText}, words: []string{"emergency measures"}},
	{kind: "LATE_RECORDING", format: "the separation applied %s, recorded %d minutes later", key: "event.detail.LATE_RECORDING.separation", args: []detailArg{argTime, argText}, words: []string{"the separation"}},
	{kind: "COURT_PETITIONED", format: "the separation stays in force until the court decides", key: "event.detail.COURT_PETITIONED"},
	{kind: "PLAN_SUBMITTED", format: "%d services", key: "event.detail.PLAN_SUBMITTED", args: []detailArg{argText}},
	{kind: "SERVICE_PROGRESS", format: "service %d: COMPLETED", key: "event.detail.SERVICE_PROGRESS.COMPLETED", args: []detailArg{argText}, words: []string{"COMPLETED"}},
	{kind: "SERVICE_PROGRESS", format: "service %d: CANCELLED", key: "event.detail.SERVICE_PROGRESS.CANCELLED", args: []detailArg{argText}, words: []string{"CANCELLED"}},
	{kind: "SERVICE_PROGRESS", format: "service %d: IN_PROGRESS", key: "event.detail.SERVICE_PROGRESS.IN_PROGRESS", args: []detailArg{argText}, words: []string{"IN_PROGRESS"}},
	{kind: "MERGED", format: "case %s merged into this case", key: "event.detail.MERGED", args: []detailArg{argText}},
	{kind: "MERGED", format: "merged into case %s, which its number now resolves to", key: "event.detail.MERGED.into", args: []detailArg{argText}},
	{kind: "UNIT_SUCCEEDED", format: "%s is no longer in force; %s succeeds it and is now responsible", key: "event.detail.UNIT_SUCCEEDED", args: []detailArg{argUnit, argUnit}},
	{kind: "UNIT_SUCCEEDED", format: "%s is no longer in force; %s succeeds it", key: "event.detail.UNIT_SUCCEEDED", args: []detailArg{argUnit, argUnit}},
	{kind: "SUCCESSOR_NEEDED", format: "%s is no longer in force and no one unit succeeds it: the city reassigns the case", key: "event.detail.SUCCESSOR_NEEDED", args: []detailArg{argUnit}},
	{kind: "CLOSED", format: "ground %s; NO_POLICE_REFERRAL: a suspected crime closed without a police referral", key: "event.detail.CLOSED.unreferred", args: []detailArg{argGround}},
	{kind: "CLOSED", format: "ground %s", key: "event.detail.CLOSED", args: []detailArg{argGround}},
})

// deadlineReasons are the whys a deadline's line gives after its
// deadline ("KIND: why", or an escalation's "...: why"): a deadline
// cancelled (stepCtx.cancel), an acknowledgement ended by a hand-over, an
// escalation past a level no longer in force. The line is said from the
// deadline, and its why from these, after it. A kind with two forms lists
// the longer first.
var deadlineReasons = compileForms([]detailForm{
	{kind: "ESCALATED", format: "%s is no longer in force", key: "event.reason.level_ended", args: []detailArg{argUnit}},
	{kind: "DEADLINE_MISSED", format: "the case went from %s to %s %d minutes late, not acknowledged", key: "event.reason.handed_late", args: []detailArg{argUnit, argUnit, argText}},
	{kind: "DEADLINE_CANCELLED", format: "the case went from %s to %s before %s acknowledged it", key: "event.reason.handed_before_ack", args: []detailArg{argUnit, argUnit, argUnit}},
	{kind: "DEADLINE_CANCELLED", format: "the case is an emergency: acknowledge_emergency applies", key: "event.reason.emergency_ack"},
	{kind: "DEADLINE_CANCELLED", format: "the case is an emergency: Art. 28 waives the plan's time limits", key: "event.reason.emergency_plan"},
	{kind: "DEADLINE_CANCELLED", format: "merged: the referral from case %s counts", key: "event.reason.merged_referral", args: []detailArg{argText}},
	{kind: "DEADLINE_CANCELLED", format: "merged into %s, whose referral counts", key: "event.reason.merged_into_referral", args: []detailArg{argText}},
	{kind: "DEADLINE_CANCELLED", format: "merged into %s, whose deadline started first", key: "event.reason.merged_into_first", args: []detailArg{argText}},
	{kind: "DEADLINE_CANCELLED", format: "merged into %s", key: "event.reason.merged_into", args: []detailArg{argText}},
	{kind: "DEADLINE_CANCELLED", format: "a new placement in alternative care; its follow-ups count from it", key: "event.reason.new_placement"},
	{kind: "DEADLINE_CANCELLED", format: "emergency downgraded at the initial assessment, with a recorded reason", key: "event.reason.downgraded"},
	{kind: "DEADLINE_CANCELLED", format: "the plan was replaced", key: "event.reason.plan_replaced"},
	{kind: "DEADLINE_CANCELLED", format: "service cancelled", key: "event.reason.service_cancelled"},
	{kind: "DEADLINE_CANCELLED", format: "case closed", key: "event.reason.case_closed"},
})

// typedDetails are the kinds whose detail is what a person typed or chose
// (an officer, an outcome, a reference), shown as it is.
var typedDetails = []string{
	"OFFICER_ASSIGNED", "SEPARATION_ENDED", "COURT_DECISION_RECORDED", "CARE_FOLLOW_UP_RECORDED", "REVIEW_RECORDED", "POLICE_OUTCOME",
}

var verb = regexp.MustCompile(`%[sdv]`)

func compileForms(forms []detailForm) []detailForm {
	for i, f := range forms {
		pat := verb.ReplaceAllStringFunc(regexp.QuoteMeta(f.format), func(v string) string {
			if v == "%d" {
				return `(-?\d+)`
			}
			return `(.+?)`
		})
		forms[i].re = regexp.MustCompile("^" + pat + "$")
	}
	return forms
}

// calendarNote is a note the domain adds to a line whose limit was
// counted on provisional holiday data or past them (process's
// calendarNotes): its subject (the limit, when it is not the line's
// deadline), the kind of data and the year. Its text holds no ";".
var calendarNote = regexp.MustCompile(`; (the late_recording limit )?counted (on provisional|without) holiday data for (-?[0-9]+): [^;]*`)

// calendarNotes splits the notes off a detail: the detail without them,
// and the notes said in the page's language.
func (v view) calendarNotes(detail string) (rest, notes string) {
	for _, m := range calendarNote.FindAllStringSubmatch(detail, -1) {
		subject := ""
		if m[1] != "" {
			subject = v.T("event.note.late_recording")
		}
		key := "event.note.nodata"
		if m[2] == "on provisional" {
			key = "event.note.provisional"
		}
		notes += v.T(key, m[3], subject)
	}
	return calendarNote.ReplaceAllString(detail, ""), notes
}

// eventDetail says an event's detail in the page's language.
func (c *Console) eventDetail(lang string, e *pb.CaseEvent, deadlines []*pb.Deadline, unitName func(string) string) string {
	v := view{Lang: lang, cats: c.catalogs, unitNames: unitName}
	// A note of the holiday data is said after the line, which is said
	// without it.
	detail, notes := v.calendarNotes(e.GetDetail())
	if id := e.GetDeadlineId(); id > 0 && slices.Contains(deadlineDetails, e.GetKind()) {
		i := slices.IndexFunc(deadlines, func(d *pb.Deadline) bool { return d.GetId() == id })
		if i >= 0 {
			d := deadlines[i]
			unit := d.GetUnit()
			at := e.GetTime().AsTime()
			for _, x := range d.GetEscalations() {
				// The escalation this event made, or the last one before
				// the event: a breach in the same run precedes it.
				if xt := x.GetTime().AsTime(); xt.Before(at) || xt.Equal(at) && e.GetKind() == "ESCALATED" {
					unit = x.GetToUnit()
				}
			}
			said := v.T("event.detail."+e.GetKind(), v.T("deadline."+d.GetKind()), v.Due(d.GetDueTime().AsTime()), v.Unit(unit))
			if why := v.deadlineReason(e.GetKind(), detail); why != "" {
				said = v.T("event.why", said, why)
			}
			return said + notes
		}
	}
	if said := v.sayForm(detailForms, e.GetKind(), detail); said != "" {
		return said + notes
	}
	if slices.Contains(codeDetails, e.GetKind()) {
		return c.codeText(lang, e.GetDetail())
	}
	return e.GetDetail()
}

// deadlineReason says the why of a deadline's line in the page's
// language, or "" when it gives none the console knows: what follows the
// first ": " (a deadline's kind, a unit's name and a number hold none).
func (v view) deadlineReason(kind, detail string) string {
	_, why, ok := strings.Cut(detail, ": ")
	if !ok {
		return ""
	}
	return v.sayForm(deadlineReasons, kind, why)
}

// sayForm says text by the first of forms of kind that matches it, or "".
func (v view) sayForm(forms []detailForm, kind, text string) string {
	for _, f := range forms {
		if f.kind != kind {
			continue
		}
		m := f.re.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		args := make([]any, len(f.args))
		for j, a := range f.args {
			args[j] = v.detailPart(a, m[j+1])
		}
		return v.T(f.key, args...)
	}
	return ""
}

// codeDetails are the event kinds whose detail is an outcome code the API
// documents (the process's constants, as the step forms offer them),
// said by its catalog text ("code.VALUE").
var codeDetails = []string{"REVIEW_RECORDED", "POLICE_OUTCOME", "COURT_DECISION_RECORDED", "SEPARATION_ENDED"}

// detailPart shows one part of a detail.
func (v view) detailPart(a detailArg, s string) string {
	switch a {
	case argUnit:
		return v.Unit(s)
	case argTime:
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return v.Time(t)
		}
	case argBool:
		if s == "true" {
			return v.T("yes")
		}
		return v.T("no")
	case argGround:
		return v.T("enum.CLOSURE_GROUND_" + s)
	case argEmergency:
		return v.T("enum.EMERGENCY_REASON_" + s)
	}
	return strings.TrimSpace(s)
}
