package access

import (
	"slices"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

// Storage keeps two indexes of cases so that a list costs a page, not the
// city: every case under each of its scope keys, and under each of its
// work-queue entries. Both are pure functions of the case, defined here
// beside the rules they serve; storage computes them on every write of a
// case. They only narrow a list to candidates: callers still apply
// CaseView and the queue rules to each case, so the index can never widen
// what a principal sees.

// Tags of scope keys: each says which field of the case the key comes from.
const (
	scopeIntakeUser = "user:"     // a user who recorded one of its reports
	scopeIntakeOrg  = "org:"      // the unit of such a user (hotline organisation)
	scopeHandler    = "handler:"  // a unit that handled it (Handlers)
	scopeOffered    = "offered:"  // the unit a pending transfer is offered to
	scopeIncident   = "incident:" // the unit where it happened
	scopePolice     = "police:"   // a police unit it was referred to
)

// queueHolder tags the queue key of the unit that holds a case (its
// responsible unit): a key of QueueNone's entries only, never a scope key,
// so that a list by due time of the cases a unit holds (ListScope's held)
// reads those alone, not every case the unit ever handled.
const queueHolder = "holder:"

// HolderQueueKey is the key of QueueNone's entries of the cases unit u
// holds (its responsible unit, open or closed): a list by due time of a
// principal whose ListScope holds u reads them.
func HolderQueueKey(u units.Key) string { return queueHolder + UnitName(u) }

// IsHolderQueueKey reports whether key, a queue key, is a HolderQueueKey:
// the entries a store of before them (schema version 14) has none of.
func IsHolderQueueKey(key string) bool { return strings.HasPrefix(key, queueHolder) }

// HolderQueueEntry is c's entry under its holder's key (HolderQueueKey)
// among QueueEntries, and false when c has none: no open deadline, or no
// responsible unit.
func HolderQueueEntry(c model.Case) (QueueEntry, bool) {
	due := NearestDue(c, "", QueueNone)
	if due.IsZero() || c.ResponsibleUnit.IsZero() {
		return QueueEntry{}, false
	}
	return QueueEntry{Key: HolderQueueKey(c.ResponsibleUnit), Queue: QueueNone, Due: due}, true
}

// Tags of a report's own scope keys, apart from its case's so that a
// case's keys can change without touching them.
const (
	scopeTaker    = "taker:"    // the user who recorded it
	scopeTakerOrg = "takerorg:" // that user's unit
)

// ReportScopeKeys returns the scope keys of r, whose case is c (nil when
// it belongs to none): its taker's, its taker's unit's, and its case's
// ScopeKeys. A principal whose ReportScope holds one of them may see r
// (subject to CanSeeReport).
func ReportScopeKeys(r model.StoredReport, c *model.Case) []string {
	var keys []string
	if r.TakenBy != "" {
		keys = append(keys, scopeTaker+r.TakenBy)
	}
	if r.TakerUnit != "" {
		keys = append(keys, scopeTakerOrg+r.TakerUnit)
	}
	if c != nil {
		keys = append(keys, ScopeKeys(*c)...)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// ReportScope returns the scope keys of the reports p may see, as Scope
// does for cases: whoever recorded a report, hotline supervisors by their
// organisation, commune and district staff by the scope of the report's
// case; the city sees every report of a case (all).
func (pol *Policy) ReportScope(p Principal) (keys []string, all bool) {
	own := scopeTaker + p.UserID
	switch p.Role {
	case model.RoleHotlineOperator:
		return []string{own}, false
	case model.RoleHotlineSupervisor:
		return []string{own, scopeTakerOrg + p.Unit}, false
	case model.RoleCommuneWorker, model.RoleCommuneChair, model.RoleDistrictOfficer:
		keys, _ := pol.Scope(p)
		return append([]string{own}, keys...), false
	case model.RoleCityOfficer:
		if isLevel(pol.units, p.Unit, units.LevelCity) {
			return nil, true
		}
		return []string{own}, false
	}
	return nil, false
}

// OnlyOwnReports reports whether p sees only the reports p recorded
// (ReportScope holds p's own key alone): a list of them reads the index
// of the reports by who recorded them, a few among many.
func (pol *Policy) OnlyOwnReports(p Principal) bool {
	keys, all := pol.ReportScope(p)
	return !all && len(keys) == 1 && keys[0] == scopeTaker+p.UserID
}

// ScopeAll is the queue key of every case: QueueNone's entries for the
// principals who see every case (Scope's all).
const ScopeAll = "all"

// ScopeKeys returns the scope keys of c, sorted and without duplicates:
// a principal whose Scope holds one of them may see c (subject to
// CaseView). They depend on the case alone, never on the unit registry,
// so that a new registry cannot leave the index stale.
func ScopeKeys(c model.Case) []string {
	var keys []string
	for _, u := range c.IntakeUsers {
		keys = append(keys, scopeIntakeUser+u)
	}
	for _, u := range c.IntakeUnits {
		keys = append(keys, scopeIntakeOrg+u)
	}
	for _, k := range c.Handlers {
		keys = append(keys, scopeHandler+UnitName(k))
	}
	if t := c.PendingTransfer(); t != nil {
		keys = append(keys, scopeOffered+t.To)
	}
	if !c.IncidentUnit.IsZero() {
		keys = append(keys, scopeIncident+UnitName(c.IncidentUnit))
	}
	for _, r := range c.PoliceReferrals {
		keys = append(keys, scopePolice+r.PoliceUnit)
	}
	for _, u := range c.PoliceAlerted {
		keys = append(keys, scopePolice+u)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// HandlerScopeKey is the scope key of a unit's handling: every case the
// unit is responsible for carries it (the responsible unit is always
// among the handlers), so a principal whose scope holds it sees all of
// them by key.
func HandlerScopeKey(u units.Key) string { return scopeHandler + UnitName(u) }

// Scope returns the scope keys of the cases p may see: every case CaseView
// shows p carries at least one of them. all is true when p may see every
// case (the city), and then keys is nil; no keys and not all means p sees
// no case.
func (pol *Policy) Scope(p Principal) (keys []string, all bool) {
	switch p.Role {
	case model.RoleHotlineOperator:
		return []string{scopeIntakeUser + p.UserID}, false
	case model.RoleHotlineSupervisor:
		keys = []string{scopeIntakeOrg + p.Unit}
		if p.Unit == model.OrgSocialWorkCentre {
			// It acts for the city: the cases the city holds were handed
			// to it (CaseView checks that it still holds them).
			for _, u := range pol.units.List(units.Filter{Level: units.LevelCity}) {
				keys = append(keys, scopeHandler+UnitName(u.Key))
			}
		}
		return keys, false
	case model.RoleCommuneWorker, model.RoleCommuneChair:
		// CaseView compares handlers by unit key and offers by name.
		unit, ok := p.adminUnit()
		if !ok {
			return nil, false
		}
		keys = []string{scopeHandler + UnitName(unit), scopeOffered + p.Unit}
		// The cases of the communes it wholly succeeds (CaseView).
		for _, l := range pol.units.Predecessors(unit) {
			if pol.succeeds(unit, l.From) {
				keys = append(keys, scopeHandler+UnitName(l.From))
			}
		}
		return keys, false
	case model.RoleDistrictOfficer:
		district, ok := p.adminUnit()
		if !ok {
			return nil, false
		}
		// inDistrict: the district handled it, or one of its units handled
		// it or saw it happen.
		keys = []string{scopeHandler + UnitName(district), scopeOffered + p.Unit}
		for _, u := range pol.units.List(units.Filter{Parent: district}) {
			name := UnitName(u.Key)
			keys = append(keys, scopeHandler+name, scopeIncident+name)
		}
		slices.Sort(keys)
		return slices.Compact(keys), false
	case model.RoleCityOfficer:
		return nil, isLevel(pol.units, p.Unit, units.LevelCity)
	case model.RolePoliceLiaison:
		return []string{scopePolice + p.Unit}, false
	}
	return nil, false
}

// ListScope is Scope for a list of cases (datastore.CaseQuery): the scope
// keys it reads, and the units whose held cases it reads as well (by the
// index of cases by unit), so that it reads no case CaseView refuses. A
// social work centre's supervisor sees the cases the city holds, not
// every case the city handled: every escalation to the city makes it a
// handler without making it hold the case, so the city's handler key
// would have the list read, and pass over, the city's whole history of
// escalations at each page. So with a commune that wholly succeeds an
// old one in a reform: it sees the cases the old commune holds, not
// those the old commune handed to another before the reform, which its
// handler key would have the list read too. Every other role's list
// reads Scope's keys. The search and the statistics read as the list
// does, and so does a list by due time (QueueNone): Scope's keys but
// those, and the entries of the cases the units held hold
// (HolderQueueKey).
func (pol *Policy) ListScope(p Principal) (keys []string, held []units.Key, all bool) {
	switch {
	case p.Role == model.RoleHotlineSupervisor && p.Unit == model.OrgSocialWorkCentre:
		for _, u := range pol.units.List(units.Filter{Level: units.LevelCity}) {
			held = append(held, u.Key)
		}
		return []string{scopeIntakeOrg + p.Unit}, held, false
	case p.Role == model.RoleCommuneWorker || p.Role == model.RoleCommuneChair:
		unit, ok := p.adminUnit()
		if !ok {
			return nil, nil, false
		}
		// Scope's keys but the old communes', whose held cases are read
		// instead (CaseView: pol.succeeds of the unit holding the case).
		for _, l := range pol.units.Predecessors(unit) {
			if pol.succeeds(unit, l.From) && !slices.Contains(held, l.From) {
				held = append(held, l.From)
			}
		}
		return []string{scopeHandler + UnitName(unit), scopeOffered + p.Unit}, held, false
	}
	keys, all = pol.Scope(p)
	return keys, nil, all
}

// Queue names a work queue of a unit.
type Queue int

// Queues, numbered as the API's CaseQueue.
const (
	// QueueNone is no queue: with a due time, every case in scope with an
	// open deadline, nearest first.
	QueueNone             Queue = 0
	QueueMyUnitOpen       Queue = 1 // open cases the unit is responsible for (police: its open referrals)
	QueueOverdue          Queue = 2 // cases with an overdue deadline of the unit, or escalated to it
	QueueAwaitingMyAccept Queue = 3 // transfers to the unit awaiting its decision
	// QueueAwaitingSuccessor holds, for city officers, the open cases
	// whose unit went out of force with no whole successor.
	QueueAwaitingSuccessor Queue = 4
)

// SuccessorQueueKey is the key of QueueAwaitingSuccessor's entries: one
// city-wide queue, kept apart from unit names so that the index stays a
// function of the case alone.
const SuccessorQueueKey = "city:awaiting-successor"

// QueueEntry places a case in a work queue: the queue of that kind of the
// unit named Key (for QueueNone, of the principals holding the scope key
// Key, or whose ListScope holds the unit of the holder key Key,
// HolderQueueKey), in order of Due (zero, for a case without an open deadline that
// counts, comes last), then newest first.
type QueueEntry struct {
	Key   string
	Queue Queue
	Due   time.Time
}

// QueueEntries returns every queue entry of c. A unit's queue holds the
// cases InQueue puts there, each due at NearestDue for that unit.
func QueueEntries(c model.Case) []QueueEntry {
	var out []QueueEntry
	add := func(unit string, q Queue) {
		for _, e := range out {
			if e.Key == unit && e.Queue == q {
				return
			}
		}
		out = append(out, QueueEntry{Key: unit, Queue: q, Due: NearestDue(c, unit, q)})
	}
	if c.Status != model.StatusClosed && !c.ResponsibleUnit.IsZero() {
		add(UnitName(c.ResponsibleUnit), QueueMyUnitOpen)
	}
	for _, r := range c.PoliceReferrals {
		if r.State != model.PoliceDecided {
			add(r.PoliceUnit, QueueMyUnitOpen)
		}
	}
	for _, d := range c.Deadlines {
		if !d.Open() || !d.Breached {
			continue
		}
		add(d.Unit, QueueOverdue)
		for _, e := range d.Escalations {
			add(e.To, QueueOverdue)
		}
	}
	if t := c.PendingTransfer(); t != nil {
		add(t.To, QueueAwaitingMyAccept)
	}
	if c.AwaitingSuccessor && c.Status != model.StatusClosed {
		add(SuccessorQueueKey, QueueAwaitingSuccessor)
	}
	if due := NearestDue(c, "", QueueNone); !due.IsZero() {
		for _, k := range append(ScopeKeys(c), ScopeAll) {
			out = append(out, QueueEntry{Key: k, Queue: QueueNone, Due: due})
		}
		if e, ok := HolderQueueEntry(c); ok {
			out = append(out, e)
		}
	}
	return out
}

// InQueue reports whether c is in queue q of p's unit (QueueNone holds
// every case).
func InQueue(p Principal, c model.Case, q Queue) bool {
	switch q {
	case QueueMyUnitOpen:
		if p.Role == model.RolePoliceLiaison {
			for _, r := range c.PoliceReferrals {
				if r.PoliceUnit == p.Unit && r.State != model.PoliceDecided {
					return true
				}
			}
			return false
		}
		return c.Status != model.StatusClosed && UnitName(c.ResponsibleUnit) == p.Unit
	case QueueOverdue:
		for _, d := range c.Deadlines {
			if d.Open() && d.Breached && concerns(d, p.Unit) {
				return true
			}
		}
		return false
	case QueueAwaitingMyAccept:
		t := c.PendingTransfer()
		return t != nil && t.To == p.Unit
	case QueueAwaitingSuccessor:
		return p.Role == successorQueueRole && c.AwaitingSuccessor && c.Status != model.StatusClosed
	}
	return true
}

// successorQueueRole holds the city-wide queue of cases awaiting a
// successor: the city officers, who reassign them.
const successorQueueRole = model.RoleCityOfficer

// decideTransferMethod decides a transfer offered to the caller's unit.
const decideTransferMethod = "CaseProcessService/AcceptTransfer"

// HasQueue reports whether a person of role can ever find a case in work
// queue q of their unit, so that a list that is always empty for them is
// not offered: a role that works no unit queues (WorksUnitQueues) has
// none; a unit's open and overdue queues are every other's; transfers
// are offered only to the units of the roles that decide them (the
// roles table's row); only city officers hold the queue of cases
// awaiting a successor (InQueue). QueueNone, a list of the role's scope,
// is not a unit's queue.
func HasQueue(role model.Role, q Queue) bool {
	if !WorksUnitQueues(role) {
		return false
	}
	switch q {
	case QueueMyUnitOpen, QueueOverdue:
		return true
	case QueueAwaitingMyAccept:
		r, ok := RuleFor(decideTransferMethod)
		return ok && r.Grant(role) != Refused
	case QueueAwaitingSuccessor:
		return role == successorQueueRole
	}
	return false
}

// concerns reports whether a deadline is the unit's: it must meet it, or
// it was escalated to it.
func concerns(d model.Deadline, unit string) bool {
	if d.Unit == unit {
		return true
	}
	for _, e := range d.Escalations {
		if e.To == unit {
			return true
		}
	}
	return false
}

// NearestDue is the earliest due time among c's open deadlines that order
// it in queue q of unit: the unit's own (or escalated to it) in the open
// and overdue queues, all of them otherwise. It is zero when there is
// none.
func NearestDue(c model.Case, unit string, q Queue) time.Time {
	own := q == QueueMyUnitOpen || q == QueueOverdue
	return nearestDue(c, func(d model.Deadline) bool { return !own || concerns(d, unit) })
}

// ViewDue is the earliest due time among the open deadlines of c that p's
// view of it shows: every one in the full view; in the police view only
// the unit's own and those escalated to it, as PoliceView keeps them, so
// that no list by due time tells the police when the commune's clocks
// fall due. It is zero when there is none. A police unit's cases with
// such a deadline are all in its open or overdue queue (QueueEntries),
// due there at this time: its open referral's clocks run until its
// outcome meets the last of them, and a clock escalated to it is overdue.
func ViewDue(p Principal, view CaseView, c model.Case) time.Time {
	return nearestDue(c, func(d model.Deadline) bool { return view != ViewPolice || concerns(d, p.Unit) })
}

// nearestDue is the earliest due time among c's open deadlines that
// count, zero when there is none.
func nearestDue(c model.Case, counts func(model.Deadline) bool) time.Time {
	var best time.Time
	for _, d := range c.Deadlines {
		if !d.Open() || !counts(d) {
			continue
		}
		if best.IsZero() || d.Due.Before(best) {
			best = d.Due
		}
	}
	return best
}
