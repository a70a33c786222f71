package process

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Hanoi's units were reformed on 2025-01-01 and 2025-07-01. A case whose
// responsible unit went out of force follows it: where the 2025 mapping
// sends the whole unit to one new commune, the case moves there on its
// own (with its open deadlines, so their warnings, breaches and queues go
// to the successor, whose staff see it as a handler); otherwise (a split
// commune, a commune of 2020, which no mapping covers, or a district) it
// waits in the city's queue until the city reassigns it (ReassignCase).
// The scheduler does this at start and each time the date changes, by the
// injected clock; intake does it for a new case of a report received
// before a reform.

// reformPage bounds how many cases one look at a unit's queue reads.
const reformPage = 100

// FollowReforms moves, or marks as awaiting a successor, every open case
// whose responsible unit is not in force today, and returns how many
// cases it changed. It reads the open-case queues of the units no longer
// in force, a few index lookups each, not every case.
//
// A case on a damaged page of the file (model.ErrDamaged), or whose move
// panics (errPanicked), cannot move: the pass goes on past it, as FireDue
// does, so that one such case does not keep every other case in a unit
// that is gone, and reports it at the end. Any other failure ends the pass.
func (e *Engine) FollowReforms(ctx context.Context) (int, error) {
	today := vntime.DateOf(e.clock.Now())
	var gone []string
	for _, u := range e.units.List(units.Filter{}) {
		if u.Level != units.LevelCity && !u.ValidTo.IsZero() && u.ValidTo.Before(today) {
			gone = append(gone, access.UnitName(u.Key))
		}
	}
	// One short read of the index finds them, reading no case, so that a
	// case on a damaged page does not hide the others; each then moves in
	// its own transaction, which reads the case. A case already waiting
	// for the city needs nothing, and is left out here, by the city's
	// queue of them, so that it costs no write transaction.
	var ids []uint64
	err := e.store.View(ctx, func(tx datastore.ReadTx) error {
		ids = ids[:0]
		awaiting, err := allQueueCaseIDs(tx, access.QueueAwaitingSuccessor, access.SuccessorQueueKey)
		if err != nil {
			return err
		}
		waiting := make(map[uint64]bool, len(awaiting))
		for _, id := range awaiting {
			waiting[id] = true
		}
		seen := map[uint64]bool{}
		for _, unit := range gone {
			inUnit, err := allQueueCaseIDs(tx, access.QueueMyUnitOpen, unit)
			if err != nil {
				return err
			}
			// A case offered to a unit that is gone follows too, whoever
			// holds it (followTransfer).
			offered, err := allQueueCaseIDs(tx, access.QueueAwaitingMyAccept, unit)
			if err != nil {
				return err
			}
			for _, id := range inUnit {
				if !waiting[id] && !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
			for _, id := range offered {
				if !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	changed := 0
	var damaged []error
	for _, id := range ids {
		done, err := e.followReformRecovered(ctx, id)
		if errors.Is(err, model.ErrDamaged) || errors.Is(err, errPanicked) {
			damaged = append(damaged, fmt.Errorf("case id %d: %w", id, err))
			continue
		}
		if err != nil {
			return changed, err
		}
		if done {
			changed++
		}
	}
	if changed > 0 {
		e.hub.notify()
		e.log.InfoContext(ctx, "cases followed the unit reforms", "cases", changed)
	}
	return changed, errors.Join(damaged...)
}

// followReformRecovered is followReform, with a panic of the move turned
// into an error of its case (panicError), so that the others move.
func (e *Engine) followReformRecovered(ctx context.Context, id uint64) (_ bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError(p)
		}
	}()
	return e.followReform(ctx, id)
}

// followReform moves one case, in its own transaction, and reports
// whether it changed it.
func (e *Engine) followReform(ctx context.Context, id uint64) (bool, error) {
	now := e.clock.Now()
	changed := false
	err := e.store.Update(ctx, func(tx datastore.Tx) error {
		changed = false
		c, err := tx.CaseByID(id)
		if errors.Is(err, model.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if c, err = e.vault.OpenCase(tx, c); err != nil {
			return err
		}
		// As a firing (fire): a write may have committed on the case
		// since the clock was read (a report joining it needs no etag),
		// and the move happens after it.
		s := &stepCtx{e: e, tx: tx, p: system, now: c.WriteTime(later(now, e.clock.Now())), c: &c, oldFires: map[int]time.Time{}}
		for _, d := range c.Deadlines {
			s.oldFires[d.ID] = d.NextFire
		}
		if !s.followReform() {
			return nil
		}
		changed = true
		_, err = s.commit("case.followReform")
		return err
	})
	return changed, err
}

// followReform moves the case to the successor of its responsible unit,
// or marks it as awaiting one, if that unit is not in force on s.now's
// date, and then a transfer pending to a unit no longer in force to that
// unit's successor (followTransfer); it reports whether it changed the
// case.
func (s *stepCtx) followReform() bool {
	moved := s.followResponsible()
	return s.followTransfer() || moved
}

// followResponsible is followReform for the responsible unit.
func (s *stepCtx) followResponsible() bool {
	c := s.c
	old, ok := s.e.units.Get(c.ResponsibleUnit)
	if c.Status == model.StatusClosed || c.AwaitingSuccessor || !ok || old.InForce(vntime.DateOf(s.now)) {
		return false
	}
	// The service moves the case, whoever's request it rides on.
	caller := s.p
	s.p = system
	defer func() { s.p = caller }()
	from := access.UnitName(old.Key)
	succ, whole := s.e.units.Successor(old.Key)
	if !whole {
		c.AwaitingSuccessor = true
		s.event("SUCCESSOR_NEEDED", fmt.Sprintf("%s is no longer in force and no one unit succeeds it: the city reassigns the case", from), 0, from, s.e.cityName())
		return true
	}
	to := access.UnitName(succ)
	c.ResponsibleUnit = succ
	if !slices.Contains(c.Handlers, succ) {
		c.Handlers = append(c.Handlers, succ)
	}
	// The officer worked for the old unit; the successor's chair names
	// one (AssignOfficer).
	c.ResponsibleOfficer = ""
	for i := range c.Deadlines {
		if d := &c.Deadlines[i]; d.Open() && d.Unit == from {
			d.Unit = to
		}
	}
	if t := c.PendingTransfer(); t != nil && t.From == from {
		t.From = to
	}
	s.event("UNIT_SUCCEEDED", fmt.Sprintf("%s is no longer in force; %s succeeds it and is now responsible", from, to), 0, from, to)
	// The successor now sees the case: the service's own event says so,
	// for the auditor, who reads no case (a step the move rides on is
	// someone else's act, whose event does not name it).
	if caller.UserID == system.UserID {
		s.letIn(to)
	}
	return true
}

// followTransfer follows the reform of the unit a pending transfer is
// offered to, when it is no longer in force on s.now's date and went
// whole into one unit: the transfer is then offered to that successor,
// with its TRANSFER_ACCEPT and the time left on it, since nobody is left
// to decide for the old unit, and its successor's staff could not. Where
// that successor holds the case already (both communes went into one),
// the transfer has what it asked for and is accepted. It reports whether
// it changed the case. A transfer to a unit with no one successor stays
// as it is: its TRANSFER_ACCEPT breaches and escalates to the level above
// in force (the city from 2025-07-01), which may decline it
// (DeclineTransfer), and the case is its sender's to hand on again.
func (s *stepCtx) followTransfer() bool {
	c := s.c
	t := c.PendingTransfer()
	if c.Status == model.StatusClosed || t == nil {
		return false
	}
	k, ok := unitKey(t.To)
	old, found := s.e.units.Get(k)
	if !ok || !found || old.InForce(vntime.DateOf(s.now)) {
		return false
	}
	succ, whole := s.e.units.Successor(old.Key)
	if !whole {
		return false
	}
	// The service follows the reform, whoever's request it rides on.
	caller := s.p
	s.p = system
	defer func() { s.p = caller }()
	from, to := t.To, access.UnitName(succ)
	s.event("UNIT_SUCCEEDED", fmt.Sprintf("%s is no longer in force; %s succeeds it", from, to), 0, t.From, from, to)
	if succ == c.ResponsibleUnit {
		t.State, t.DecidedBy, t.DecideTime = model.TransferAccepted, system.UserID, s.now
		// The transfer had what it asked for as the reform began, when
		// the old unit ended: a reform followed later (the server was
		// down across it) must not make a TRANSFER_ACCEPT due since
		// missed, nobody having had anything left to decide.
		s.meetAt(model.DeadlineTransferAccept, transferRef(t.ID), earlier(s.askedTime(), s.e.levelEnd(from)))
		s.event("TRANSFER_ACCEPTED", fmt.Sprintf("%s is now responsible", to), 0, t.From, to)
		return true
	}
	t.To = to
	if d := c.OpenDeadline(model.DeadlineTransferAccept, transferRef(t.ID)); d != nil {
		d.Unit = to
	}
	if caller.UserID == system.UserID {
		s.letIn(to)
	}
	return true
}

// cityName names the city, the top of every version of the hierarchy.
func (e *Engine) cityName() string {
	for _, u := range e.units.List(units.Filter{Level: units.LevelCity}) {
		return access.UnitName(u.Key)
	}
	return ""
}

// allQueueCaseIDs returns the ids of every case in a queue of the unit
// (or queue key) named key, from the queue index alone, a page at a time.
func allQueueCaseIDs(tx datastore.ReadTx, queue access.Queue, key string) ([]uint64, error) {
	var ids []uint64
	for after := ""; ; {
		page, next, err := tx.QueueCaseIDs(datastore.QueueQuery{Queue: queue, Keys: []string{key}, After: after, Limit: reformPage})
		if err != nil {
			return nil, err
		}
		ids = append(ids, page...)
		if after = next; after == "" {
			return ids, nil
		}
	}
}
