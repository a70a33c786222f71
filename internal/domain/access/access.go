// Package access decides who may do and see what: the one table of which
// role may call which method and take which step, and the view of a case
// each gets (rules.go); the rules of deny-by-default, unit-scoped access to
// reports and cases; and the checks on a user's unit for their role. It
// does no I/O. Callers turn "may not see" into NotFound,
// so that a record outside the caller's scope looks exactly like one that
// does not exist.
package access

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Principal is the authenticated user a request acts for.
type Principal struct {
	UserID string
	Role   model.Role
	Unit   string // the user's unit, a resource name (see model.User)
	// RequestID joins the audit events of the request to its logs.
	RequestID string
	// TokenID is the id of the token the request was made with ("" for
	// the service's own work), and TokenCreatedBy the user id of who
	// created that token when it is not UserID ("" otherwise): see
	// audit.Event.
	TokenID, TokenCreatedBy string
}

// SystemUserID is the service's own name on the record: the actor of the
// work it does on its own behalf. No user may take it (identity refuses
// it as a user id), or their acts would pass for the service's.
const SystemUserID = "system"

// System is the principal of work the service does on its own behalf:
// bootstrap, demo seeding, key rotation, the scheduler. Its role is
// model.RoleSystem, which no method's rule grants: what it does, it does
// through the domain, never as a caller of the API.
func System(action string) Principal {
	return Principal{UserID: SystemUserID, Role: model.RoleSystem, Unit: model.OrgSystem, RequestID: action}
}

// Event returns an audit event of p doing action on resource, which belongs
// to caseName ("" when it belongs to no case).
func (p Principal) Event(now time.Time, action, resource, caseName, outcome string) audit.Event {
	return audit.Event{
		Time:           now,
		Actor:          p.UserID,
		Role:           p.Role.String(),
		Unit:           p.Unit,
		Action:         action,
		Resource:       resource,
		Case:           caseName,
		RequestID:      p.RequestID,
		Outcome:        outcome,
		Token:          p.TokenID,
		TokenCreatedBy: p.TokenCreatedBy,
	}
}

// adminUnit returns the administrative unit of p, if p belongs to one.
func (p Principal) adminUnit() (units.Key, bool) {
	name, ok := strings.CutPrefix(p.Unit, "units/")
	if !ok {
		return units.Key{}, false
	}
	k, err := units.ParseKey(name)
	return k, err == nil
}

// CaseView is how much of a case a principal may see.
type CaseView int

const (
	// ViewNone: the case is outside the principal's scope; it must look as
	// if it did not exist.
	ViewNone CaseView = iota
	// ViewCandidate: only that the case exists and enough to join it
	// (CandidateView), what a search shows hotline staff of a case of
	// their organisation beyond their scope (Policy.SearchView).
	ViewCandidate
	// ViewPolice: the police view: number, status, whether an emergency, dates, forms of abuse, the
	// children's age and sex, the commune, the responsible officer's
	// contact and the principal's own police track; never the reports, the
	// narrative or the reporter.
	ViewPolice
	// ViewFull: everything but the reporter's identity, which only a
	// disclosure reveals.
	ViewFull
)

// Policy applies the access rules. Its zero value is not usable; build it
// with New.
type Policy struct {
	units *units.Registry
}

// New returns the policy, which needs the unit registry to find the
// district of a commune.
func New(reg *units.Registry) *Policy { return &Policy{units: reg} }

// CaseView returns how much of c p may see:
//   - hotline operators: the cases their own reports opened or joined;
//   - hotline supervisors: the cases of their organisation's reports, and
//     for the social work centre, which acts for the city, the cases the
//     city holds;
//   - commune staff: cases their commune is or was responsible for, or was
//     handed, or is asked to accept, or inherits from the commune it wholly
//     succeeds (before the case moves there: see process.FollowReforms);
//   - district officers: cases of the communes of their district, and those
//     escalated or handed to the district;
//   - city officers: every case;
//   - police liaisons: the police view of cases referred to their unit,
//     or whose police clock was escalated to it, or a late record of
//     whose police forwarding it was told of (the city police);
//   - auditors and admins: none (they do not read case content).
func (pol *Policy) CaseView(p Principal, c model.Case) CaseView {
	var ok bool
	switch p.Role {
	case model.RoleHotlineOperator:
		ok = slices.Contains(c.IntakeUsers, p.UserID)
	case model.RoleHotlineSupervisor:
		ok = slices.Contains(c.IntakeUnits, p.Unit) || pol.ActsFor(p, UnitName(c.ResponsibleUnit))
	case model.RoleCommuneWorker, model.RoleCommuneChair:
		unit, isUnit := p.adminUnit()
		ok = isUnit && (slices.Contains(c.Handlers, unit) || offeredTo(c, p.Unit) || pol.succeeds(unit, c.ResponsibleUnit))
	case model.RoleDistrictOfficer:
		unit, isUnit := p.adminUnit()
		ok = isUnit && (pol.inDistrict(unit, c) || offeredTo(c, p.Unit))
	case model.RoleCityOfficer:
		ok = isLevel(pol.units, p.Unit, units.LevelCity)
	case model.RolePoliceLiaison:
		if c.ReferredTo(p.Unit) || slices.Contains(c.PoliceAlerted, p.Unit) {
			return ViewPolice
		}
	}
	if ok {
		return ViewFull
	}
	return ViewNone
}

// UnitInReach reports whether p may name unit k in a question about the
// records of a unit (the statistics and the reports of a unit): a unit of
// their scope. The city's officers reach every unit, and so do hotline
// supervisors, whose organisation's reports lie in any commune; a
// district's officer the district and its communes; commune staff their
// commune and those it wholly succeeds in a reform (whose cases it sees),
// each in every version of it.
// Deny by default: any other role, and any other unit, is out of reach,
// and callers answer it as a unit that does not exist (NotFound), never
// with an empty count that would pass for the other unit's.
func (pol *Policy) UnitInReach(p Principal, k units.Key) bool {
	switch p.Role {
	case model.RoleCityOfficer:
		return isLevel(pol.units, p.Unit, units.LevelCity)
	case model.RoleHotlineSupervisor:
		return p.Unit == model.OrgHotline111 || p.Unit == model.OrgSocialWorkCentre
	case model.RoleCommuneWorker, model.RoleCommuneChair:
		own, ok := p.adminUnit()
		if !ok {
			return false
		}
		// An earlier version of a commune the data list anew under the
		// same code and name (Trúc Bạch of 2020 and of 2025-01) is the
		// same commune: its past is in reach as its last version's is.
		for _, v := range pol.units.Versions(k) {
			if v == own || pol.succeeds(own, v) {
				return true
			}
		}
		return false
	case model.RoleDistrictOfficer:
		own, ok := p.adminUnit()
		if !ok {
			return false
		}
		u, found := pol.units.Get(k)
		return k == own || found && u.Parent == own
	}
	return false
}

// succeeds reports whether unit wholly succeeds held, the unit holding a
// case, in a reform.
func (pol *Policy) succeeds(unit, held units.Key) bool {
	succ, ok := pol.units.Successor(held)
	return ok && succ == unit
}

// ActsFor reports whether p acts for unit: p belongs to it, or unit is the
// city and p is a hotline supervisor of the social work centre, the city's
// own service, which runs the steps of the cases the city holds. Its
// operators only take calls.
func (pol *Policy) ActsFor(p Principal, unit string) bool {
	if p.Unit == unit {
		return true
	}
	return p.Role == model.RoleHotlineSupervisor && slices.Contains(pol.OrgsActingFor(unit), p.Unit)
}

// OrgsActingFor are the organisations whose hotline supervisors act for
// unit beside its own users (ActsFor): the social work centre for the
// city, none for any other unit. A list of the users who may act for a
// unit (the chair's assignable officers) reads these units and no others.
func (pol *Policy) OrgsActingFor(unit string) []string {
	if isLevel(pol.units, unit, units.LevelCity) {
		return []string{model.OrgSocialWorkCentre}
	}
	return nil
}

// offeredTo reports whether a transfer of c to unit awaits its decision:
// the receiving unit must see what it is asked to accept.
func offeredTo(c model.Case, unit string) bool {
	t := c.PendingTransfer()
	return t != nil && t.To == unit
}

// inDistrict reports whether a case belongs to a district: the district
// handled it, or one of its communes did, or it happened there.
func (pol *Policy) inDistrict(district units.Key, c model.Case) bool {
	if slices.Contains(c.Handlers, district) {
		return true
	}
	for _, k := range append([]units.Key{c.IncidentUnit}, c.Handlers...) {
		if u, ok := pol.units.Get(k); ok && u.Parent == district {
			return true
		}
	}
	return false
}

// CanSeeReport reports whether p may read r; c is r's case, or nil when r
// belongs to no case. Whoever recorded a report may read it; hotline
// supervisors read every report of their organisation; commune, district
// and city staff read the reports of cases they fully see. Police,
// auditors and admins read no report.
func (pol *Policy) CanSeeReport(p Principal, r model.StoredReport, c *model.Case) bool {
	switch p.Role {
	case model.RolePoliceLiaison, model.RoleAuditor, model.RoleAdmin, model.RoleSystem:
		return false
	}
	if r.TakenBy == p.UserID {
		return true
	}
	if p.Role == model.RoleHotlineSupervisor && r.TakerUnit == p.Unit {
		return true
	}
	switch p.Role {
	case model.RoleCommuneWorker, model.RoleCommuneChair, model.RoleDistrictOfficer, model.RoleCityOfficer:
		return c != nil && pol.CaseView(p, *c) == ViewFull
	}
	return false
}

// PoliceView returns the police view of c for the police unit: the
// reports are removed, and the referrals and clocks of other units but
// those whose clock was escalated to it.
func PoliceView(c model.Case, policeUnit string) model.Case {
	c.ReportIDs = nil
	c.IntakeUsers = nil
	c.IntakeUnits = nil
	c.Handlers = nil
	c.SpecialCircumstances = nil // health and abuse: the child's private information
	c.Dossier = model.Sealed{}
	c.Transfers = nil
	c.Services = nil
	// The social work's own course (the plan, the closure proposal, why
	// the commune judged it an emergency, a pending reassignment) is the
	// commune's; the police see that it is an emergency and its dates.
	c.PlanState, c.PlanCycle, c.ClosureProposed = "", 0, false
	c.EmergencyReason = 0
	c.AwaitingSuccessor = false
	// Its records' bookkeeping too: which were recorded late (a second
	// record of measures changes no date the view shows) and when it was
	// reopened (the status shows that it was).
	c.LateRecordings, c.Reopened = nil, nil
	// The unit's own clocks and referral, and those of a unit below it
	// whose clock was escalated to it: the level above sees what it was
	// alerted to.
	var deadlines []model.Deadline
	tracks := map[string]bool{policeUnit: true}
	for _, d := range c.Deadlines {
		if concerns(d, policeUnit) {
			deadlines = append(deadlines, d)
			tracks[d.Unit] = true
		}
	}
	c.Deadlines = deadlines
	// The city police (the only unit ever alerted: escalations and late
	// records go up the police chain to it) also sees each referral whose
	// forwarding was recorded late, which it was told of (LATE_RECORDING).
	alerted := slices.Contains(c.PoliceAlerted, policeUnit)
	var own []model.PoliceReferral
	for _, r := range c.PoliceReferrals {
		if tracks[r.PoliceUnit] || alerted && r.ForwardLateRecording {
			own = append(own, r)
		}
	}
	c.PoliceReferrals = own
	// Which other units a police clock was escalated to is their track:
	// the unit sees only that it was alerted itself (which is why it may
	// see the case), or the escalation of another unit's clock would move
	// its view's etag and update time.
	if alerted {
		c.PoliceAlerted = []string{policeUnit}
	} else {
		c.PoliceAlerted = nil
	}
	// The view's etag and update time are those of its last change
	// (StampPoliceViews); a case no write has stamped since stamps were
	// kept shows the case's, as it always did, and a view stamped from
	// such a case keeps that number as its etag until it next changes.
	for _, v := range c.PoliceViews {
		if v.PoliceUnit == policeUnit {
			c.Revision, c.UpdateTime = v.Revision, v.Time
			if !v.CaseEtag {
				c.EtagView = model.PoliceEtagView
			}
		}
	}
	c.PoliceViews = nil
	return c
}

// StampPoliceViews records on c, its free text open, about to be stored
// with its new revision and update time, when each police unit's view of
// it last changed, and how many times: now, one more, if the view differs
// from that of the case as stored, which prev reads (nil for a new case;
// called only when some police unit sees c), else as it was; now, 1, for
// a unit that did not see the case as stored. So a police view's
// etag and update time move only with what it shows, never with the
// commune's work it hides, and a police step sent with its view's etag
// goes through however the social track moved since (process checks the
// etag of the caller's view). Every write of a case calls it.
func StampPoliceViews(c *model.Case, prev func() (model.Case, error)) error {
	units := policeUnits(*c)
	if len(units) == 0 {
		c.PoliceViews = nil
		return nil
	}
	var stored *model.Case
	var saw []string // the police units that saw the case as stored
	if prev != nil {
		p, err := prev()
		if err != nil {
			return fmt.Errorf("case %s as stored, for its police views: %w", c.Number, err)
		}
		stored, saw = &p, policeUnits(p)
	}
	stamps := make([]model.PoliceViewStamp, 0, len(units))
	for _, unit := range units {
		// A unit new to the case starts its count now, at 1: the view's
		// first etag must not tell how many changes the case had before
		// the police saw it either (the case's revision would).
		stamp := model.PoliceViewStamp{PoliceUnit: unit, Revision: 1, Time: c.UpdateTime}
		if slices.Contains(saw, unit) {
			// The view's revision counts the changes it shows, not the
			// case's: by how much it moves must not tell how much the
			// commune did in between either.
			before := PoliceView(*stored, unit)
			stamp.Revision = before.Revision + 1
			if sameView(before, PoliceView(*c, unit)) {
				// Its etag too: the case's, on a view not stamped before
				// (an older database's) or kept since.
				stamp.Revision, stamp.Time = before.Revision, before.UpdateTime
				stamp.CaseEtag = before.EtagView == ""
			}
		}
		stamps = append(stamps, stamp)
	}
	c.PoliceViews = stamps
	return nil
}

// policeUnits are the police units that may see c: those it was referred
// to and those a police clock of it was escalated to.
func policeUnits(c model.Case) []string {
	var out []string
	for _, r := range c.PoliceReferrals {
		out = append(out, r.PoliceUnit)
	}
	out = append(out, c.PoliceAlerted...)
	slices.Sort(out)
	return slices.Compact(out)
}

// sameView reports whether two police views of a case show the same, their
// etag and update time aside, and what no view shows (the scheduler's next
// fire time, sealed text). They are compared as canonical JSON: instants
// in UTC, and an empty value as good as an absent one, since a case read
// back from storage may hold either where the one written held the other.
func sameView(a, b model.Case) bool {
	ka, errA := canonicalView(a)
	kb, errB := canonicalView(b)
	return errA == nil && errB == nil && ka == kb
}

func canonicalView(c model.Case) (string, error) {
	c.Revision, c.UpdateTime, c.PoliceViews, c.Texts, c.EtagView = 0, time.Time{}, nil, model.Sealed{}, ""
	c.Deadlines = slices.Clone(c.Deadlines)
	for i := range c.Deadlines {
		c.Deadlines[i].NextFire = time.Time{}
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // every digit of a 64-bit number counts
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	out, err := json.Marshal(canonical(v))
	return string(out), err
}

// canonical drops the empty values of a decoded JSON value and writes
// every instant in UTC.
func canonical(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if x = canonical(x); x == nil {
				delete(v, k)
			} else {
				v[k] = x
			}
		}
		if len(v) == 0 {
			return nil
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = canonical(x)
		}
		if len(v) == 0 {
			return nil
		}
		return v
	case string:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			if t.IsZero() {
				return nil
			}
			return t.UTC().Format(time.RFC3339Nano)
		}
		if v == "" {
			return nil
		}
		return v
	case bool:
		if !v {
			return nil
		}
		return v
	case json.Number:
		if v == "0" {
			return nil
		}
		return v
	}
	return v
}

// PoliceReceipt is what a police liaison gets back for a report they
// recorded: where it went (its case, commune, call type and times), not
// the report itself, since reports lie outside the police view, theirs
// too. They follow the case on its police view.
func PoliceReceipt(r model.Report) model.Report {
	return model.Report{
		Channel: r.Channel, ReceiveTime: r.ReceiveTime, IncidentUnit: r.IncidentUnit, CallType: r.CallType,
		CaseNumber: r.CaseNumber, CreateTime: r.CreateTime, Reporter: model.Reporter{Withheld: true},
	}
}

// CheckUserUnit checks that a unit fits a role: hotline staff belong to the
// hotline 111 or the social work centre, commune staff to a commune,
// district officers to a district, city officers to the city, police
// liaisons to a police unit, auditors and admins to the system
// organisation or the city. It does not check that the unit exists; field
// names the request field for the error.
func CheckUserUnit(reg *units.Registry, role model.Role, unit, field string) error {
	bad := func(want string) error {
		article := "a"
		if name := role.String(); name != "" && strings.ContainsRune("AEIOU", rune(name[0])) {
			article = "an" // an ADMIN, an AUDITOR
		}
		return model.InvalidField(field, "user.unit_for_role", "%s %s belongs to %s", article, role, want)
	}
	switch role {
	case model.RoleHotlineOperator, model.RoleHotlineSupervisor:
		if unit != model.OrgHotline111 && unit != model.OrgSocialWorkCentre {
			return bad(model.OrgHotline111 + " or " + model.OrgSocialWorkCentre)
		}
		return nil
	case model.RolePoliceLiaison:
		if !strings.HasPrefix(unit, "policeUnits/") {
			return bad("a police unit, policeUnits/{id}")
		}
		return nil
	case model.RoleAuditor, model.RoleAdmin:
		if unit == model.OrgSystem || isLevel(reg, unit, units.LevelCity) {
			return nil
		}
		return bad(model.OrgSystem + " or the city")
	case model.RoleCommuneWorker, model.RoleCommuneChair:
		if !isLevel(reg, unit, units.LevelCommune) {
			return bad("a commune, units/{code}@{valid_from}")
		}
		return nil
	case model.RoleDistrictOfficer:
		if !isLevel(reg, unit, units.LevelDistrict) {
			return bad("a district, units/{code}@{valid_from}")
		}
		return nil
	case model.RoleCityOfficer:
		if !isLevel(reg, unit, units.LevelCity) {
			return bad("the city, units/01@2020-01-01")
		}
		return nil
	}
	return model.InvalidField(field, "user.role", "unknown role %d", role)
}

// CheckUnitInForce refuses a unit that a reform ended before day, named
// for a new user's unit or a new police unit's coverage: staff bound to it
// would be given a place that no longer receives a report, a case or a
// transfer (process hands cases only to units in force), and a mistyped
// year in the name (units/00004@2020-01-01 for units/00004@2025-07-01)
// must not pass for the commune in force. The message names the unit, the
// day it ended and what took it over, so the admin can name the unit in
// force. Names that are not an administrative unit's (an organisation, a
// police unit) pass, and so does a unit not yet in force: its staff may be
// set up before a reform takes effect. Users already bound to an ended
// unit keep working; only new ones are refused. field names the request
// field for the error.
func CheckUnitInForce(reg *units.Registry, name string, day vntime.Date, field string) error {
	s, ok := strings.CutPrefix(name, "units/")
	if !ok {
		return nil
	}
	k, err := units.ParseKey(s)
	if err != nil {
		return nil
	}
	u, ok := reg.Get(k)
	if !ok || u.ValidTo.IsZero() || !u.ValidTo.Before(day) {
		return nil
	}
	return model.InvalidField(field, "unit.in_force", "%s (%s) is not in force on %s: it ended on %s%s",
		u.FullName(), k, day, u.ValidTo, tookOver(reg, u, day))
}

// tookOver says, for a message, which units in force on day took over the
// ended unit u: the commune it went on as under the same code and name
// (the 2025-01-01 data list every commune anew), then those the 2025-07
// mapping sends any of it to. A district, and a commune the data map to
// nothing, are said so.
func tookOver(reg *units.Registry, u units.Unit, day vntime.Date) string {
	versions := reg.Versions(u.Key)
	last, _ := reg.Get(versions[len(versions)-1])
	if last.Key != u.Key && last.InForce(day) {
		return fmt.Sprintf("; it goes on as %s (%s)", UnitName(last.Key), last.FullName())
	}
	var into []string
	for _, k := range reg.Successors(last.Key) {
		if s, ok := reg.Get(k); ok && s.InForce(day) {
			into = append(into, fmt.Sprintf("%s (%s)", UnitName(k), s.FullName()))
		}
	}
	switch {
	case len(into) > 0:
		return "; it went into " + strings.Join(into, ", ")
	case u.Level == units.LevelDistrict:
		return "; districts were abolished from 2025-07-01: name a commune in force or the city"
	}
	return "; the reference data do not say which unit took it over: name the unit in force"
}

func isLevel(reg *units.Registry, name string, level units.Level) bool {
	s, ok := strings.CutPrefix(name, "units/")
	if !ok {
		return false
	}
	k, err := units.ParseKey(s)
	if err != nil {
		return false
	}
	u, ok := reg.Get(k)
	return ok && u.Level == level
}

// UnitName returns the resource name of an administrative unit.
func UnitName(k units.Key) string { return "units/" + k.String() }

// ReportResource and CaseResource name records in audit events.
func ReportResource(id string) string { return "reports/" + id }

// CaseResource names a case in audit events.
func CaseResource(number string) string {
	if number == "" {
		return ""
	}
	return "cases/" + number
}

// NotificationResource names a notification of the outbox in audit
// events: a watch that sent it, a webhook that delivered it.
func NotificationResource(seq uint64) string { return "notifications/" + strconv.FormatUint(seq, 10) }
