package process

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
)

// A step's gate is when it applies: the statuses (and plan states) the
// case must be in, or only a closed case, or the caller's police
// referral in a state. The gates are data, in stepGates beside the
// process table, and the engine refuses a step by its gate before the
// step runs, so what StepsAllowed offers and what the engine takes
// cannot disagree. A gate's Ready is the rest of what the step needs of
// the case and the caller, read from the case record alone (the
// responsible unit, a pending transfer to the caller, a separation, a
// deadline paused); the engine checks it before the step too, and
// StepsAllowed offers the step only when it passes. What depends on the
// request (a ground of closure, the deadline or police unit named, the
// size of a text) stays in the step: the API is the final judge of it.

// Gate is when a step applies.
type Gate struct {
	// In are the stages the step applies in; none: any open status.
	In []Stage
	// Closed: the step applies to a closed case only (reopen).
	Closed bool
	// Any: the step applies whatever the status, closed too (a note, a
	// clock's pause).
	Any bool
	// Referral, for a police step: the caller's police unit's referral
	// must be in this state; the police track runs beside the social
	// case, whatever its status.
	Referral string
	// Reason is the refusal's reason when the case is in none of the
	// stages (default WRONG_STEP); First says what must happen first.
	Reason, First string
	// Field, if set, names the request's field that named the case in a
	// refusal (a merge names two cases).
	Field string
	// Ready, if set, refuses the step on a case inside its stages that
	// the step cannot be taken on now by the caller (the caller not of
	// the responsible unit, no transfer pending to them, the child not
	// separated, ...), with the refusal the step gives. It reads the case
	// record, its dossier and the clock, never the request.
	Ready func(s *stepCtx) error
	// Some, if set, is for a step on a part of the case the request names
	// (a deadline): whether some part lets the step through now. Only
	// StepsAllowed asks it; the step refuses the part named by its own
	// checks.
	Some func(s *stepCtx) bool
}

// Stage is a status, and in PLANNING the plan's state if it matters.
type Stage struct {
	Status model.CaseStatus
	Plan   string // "": any
}

// GateOf returns the gate of a step, by its name in access's table
// ("acknowledge").
func GateOf(step string) (Gate, bool) {
	g, ok := stepGates[step]
	return g, ok
}

// check refuses the step on c when the gate is shut: CASE_CLOSED on a
// closed case for a step that needs it open, the gate's reason when the
// case is in none of its stages; a police step without a referral of the
// caller's unit is not found. It returns the caller's referral for a
// police step.
func (g Gate) check(p access.Principal, c *model.Case) (*model.PoliceReferral, error) {
	ref, err := g.shut(p, c)
	var pre *model.PreconditionError
	if g.Field != "" && errors.As(err, &pre) {
		pre.Description = g.Field + ": " + pre.Description
	}
	return ref, err
}

// shut is check but for naming the field.
func (g Gate) shut(p access.Principal, c *model.Case) (*model.PoliceReferral, error) {
	switch {
	case g.Referral != "":
		return policeReferral(p, c, g.Referral)
	case g.Any:
		return nil, nil
	case g.Closed:
		if c.Status != model.StatusClosed {
			return nil, model.Precondition(cmp.Or(g.Reason, "NOT_CLOSED"), "case %s is not closed", c.Number)
		}
		return nil, nil
	case c.MergedInto != "":
		// Only a step on the case the request names exactly (a merge)
		// meets a merged case; the others act on the one it resolves to.
		return nil, model.Precondition("ALREADY_MERGED", "case %s was merged into %s already", c.Number, c.MergedInto)
	case c.Status == model.StatusClosed:
		return nil, model.Precondition("CASE_CLOSED", "case %s is closed; reopen it first", c.Number)
	case len(g.In) > 0 && !slices.ContainsFunc(g.In, func(st Stage) bool {
		return st.Status == c.Status && (st.Plan == "" || st.Plan == c.PlanState)
	}):
		return nil, model.Precondition(cmp.Or(g.Reason, "WRONG_STEP"), "case %s is at %s: %s", c.Number, StatusName(c.Status), g.First)
	}
	return nil, nil
}

// policeReferral returns the referral of the caller's police unit, if it
// is in state.
func policeReferral(p access.Principal, c *model.Case, state string) (*model.PoliceReferral, error) {
	for i := range c.PoliceReferrals {
		r := &c.PoliceReferrals[i]
		if r.PoliceUnit != p.Unit {
			continue
		}
		if r.State != state {
			return nil, model.Precondition("WRONG_POLICE_STEP", "the referral to %s is %s: %s", r.PoliceUnit, strings.ToLower(r.State), policeFirst(r.State, state))
		}
		return r, nil
	}
	return nil, fmt.Errorf("referral: %w", model.ErrNotFound)
}

// policeStage is a state of the police track: the step that takes a
// referral into it, and how a refusal says that step was taken.
type policeStage struct{ state, step, done string }

// policeTrack is the police track's states in order.
var policeTrack = []policeStage{
	{model.PoliceReferred, "", ""},
	{model.PoliceAcknowledged, "acknowledge it with the police reference number", "it was acknowledged already"},
	{model.PoliceForwarded, "record its forwarding to the investigators", "its forwarding to the investigators is recorded already"},
	{model.PoliceDecided, "record the outcome", "its outcome is recorded already"},
}

// policeStageOf is how far along the police track a referral in state
// is: its index in policeTrack, -1 for a state not on it.
func policeStageOf(state string) int {
	return slices.IndexFunc(policeTrack, func(x policeStage) bool { return x.state == state })
}

// policeFirst says what must happen first (or what happened already) to a
// referral in state have, for a step that needs it in want.
func policeFirst(have, want string) string {
	h, w := policeStageOf(have), policeStageOf(want)
	switch {
	case h < 0 || w < 0:
		return "the step does not apply to it"
	case h > w:
		return policeTrack[h].done
	}
	var steps []string
	for _, x := range policeTrack[h+1 : w+1] {
		steps = append(steps, x.step)
	}
	return strings.Join(steps, ", then ") + " first"
}

// StepsAllowed are the steps (by their names in access's table, the API's
// custom verbs: "acknowledge") p may take on c now: p's role may take the
// step, on the view it has of c; c is in the step's gate (for a police
// step, p's unit's referral is in the gate's state); and the gate's Ready
// and Some let it through, for p, on c as it stands now. dossier is c's,
// opened (nil for a view without one: no step of such a view reads it).
// The engine may still refuse a step for what the request says (a ground
// of closure, the deadline it names, a text that would fill the case); it
// never takes one this leaves out.
func (e *Engine) StepsAllowed(p access.Principal, c model.Case, dossier *model.Dossier) []string {
	if dossier == nil {
		dossier = &model.Dossier{}
	}
	// The steps see the case as it follows the reforms (do): work on a
	// copy, whose moves go nowhere.
	c.Deadlines, c.Transfers, c.Handlers = slices.Clone(c.Deadlines), slices.Clone(c.Transfers), slices.Clone(c.Handlers)
	s := &stepCtx{e: e, p: p, now: e.clock.Now(), c: &c, dossier: dossier}
	s.followReform()
	var out []string
	for rule := range access.AllRules() {
		if rule.Step == "" || rule.Grant(p.Role).View() == access.ViewNone {
			continue
		}
		g, ok := stepGates[rule.Step]
		if !ok {
			continue
		}
		if g.allows(s) {
			out = append(out, rule.Step)
		}
	}
	return out
}

// allows reports whether the gate lets the step through for s.p on s.c
// now: its stages, Ready and Some.
func (g Gate) allows(s *stepCtx) bool {
	ref, err := g.check(s.p, s.c)
	if err != nil {
		return false
	}
	s.referral = ref
	if g.Ready != nil && g.Ready(s) != nil {
		return false
	}
	return g.Some == nil || g.Some(s)
}

// String says in words when the gate lets a step through, for the
// README's table.
func (g Gate) String() string {
	switch {
	case g.Referral != "":
		return "the unit's referral " + strings.ToLower(g.Referral)
	case g.Any:
		return "any status"
	case g.Closed:
		return "closed"
	case len(g.In) == 0:
		return "any open status"
	}
	parts := make([]string, len(g.In))
	for i, st := range g.In {
		parts[i] = StatusName(st.Status)
		if st.Plan != "" {
			parts[i] += ", plan " + strings.ToLower(st.Plan)
		}
	}
	return strings.Join(parts, " or ")
}
