package process

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
)

// EventsPage is a page of a timeline: up to Limit events after the seq
// From, oldest first, or with NewestFirst before it (0: from the newest),
// so that the end of a long timeline is one page away.
type EventsPage struct {
	From        uint64
	NewestFirst bool
	Limit       int
}

// ListCaseEvents returns a page of the timeline of a case the caller fully
// sees.
func (e *Engine) ListCaseEvents(ctx context.Context, p access.Principal, name string, page EventsPage) ([]model.CaseEvent, error) {
	const method = "CaseProcessService/ListCaseEvents"
	if !p.May(method) {
		return nil, model.ErrPermissionDenied
	}
	number, err := intake.ParseCaseName(name)
	if err != nil {
		return nil, model.InvalidField("parent", "case.name", "%v", err)
	}
	var events []model.CaseEvent
	err = e.store.View(ctx, func(tx datastore.ReadTx) error {
		c, err := tx.CaseByNumber(number)
		if err != nil {
			return err
		}
		// The timeline tells the whole story: only the full view shows it.
		if e.access.View(p, method, c) != access.ViewFull {
			return fmt.Errorf("case %s: %w", number, model.ErrNotFound)
		}
		if page.NewestFirst {
			events, err = tx.CaseEventsNewestFirst(c.ID, page.From, page.Limit)
		} else {
			events, err = tx.CaseEvents(c.ID, page.From, page.Limit)
		}
		return err
	})
	res := access.CaseResource(number)
	if rerr := auditlog.New(e.store).Record(ctx, p.Event(e.clock.Now(), "case.events.read", res, res, auditlog.Outcome(err))); rerr != nil {
		return nil, rerr
	}
	return events, err
}

// Watch yields the outbox entries after seq after that p may see (the case
// in p's scope; police only their referrals), waiting for new ones until
// ctx ends. send returns an error to stop.
//
// A watch reads case names and what happened to them, so it is audited as
// reads are: its opening, then, before each batch it read is sent, each
// case the batch tells of ("notification.read", on its case, so the
// case's trail shows who was told of it and which notifications; see
// notificationEvents). A batch whose events cannot be recorded is not
// sent; the watch ends, and a client resumes after the last seq it
// received.
// A watch of one case (caseFilter, "cases/{number}") names that case as a
// read does: one out of p's scope is ErrNotFound at once, as one that does
// not exist, and its opening is "case.watch" on the case's trail either
// way; a watch of p's whole scope opens with "notifications.watch".
//
// live, when not nil, is called once the watch's starting point is fixed
// and its opening recorded, before anything is sent, with that point (the
// seq it sends the notifications after, the head of the outbox for a
// watch from now): from then on every notification written is sent (when
// p may see it), so a caller can tell its client that the watch is live,
// and where to resume it when it ends before sending anything.
func (e *Engine) Watch(ctx context.Context, p access.Principal, after uint64, caseFilter string, live func(from uint64) error, send func(model.Notification) error) error {
	const method = "CaseProcessService/WatchEvents"
	if !p.May(method) {
		return model.ErrPermissionDenied
	}
	action, resource, onCase := "notifications.watch", "notifications", ""
	// watched: the cases whose notifications a watch of one case sends;
	// nil for p's whole scope.
	var watched []string
	if caseFilter != "" {
		res, path, err := e.watchedCase(ctx, p, method, caseFilter)
		if err != nil {
			return err
		}
		action, resource, onCase = "case.watch", res, path[len(path)-1]
		watched = path
	}
	reason := fmt.Sprintf("after seq %d", after)
	// Without a cursor, start from now: the stream is live updates.
	// Now is when the stream opens, before its audit event is written,
	// so that nothing done meanwhile is missed. A cursor past the last
	// notification is none this service sent (one kept across a restore
	// from an older backup): the watch would wait for it, and send
	// nothing of what happens next, numbered from the last one. A cursor
	// before the oldest notification kept would skip those pruned
	// (outbox.Service.Prune) without a word.
	//
	// A refusal names the caller's own after_seq and the service's bound,
	// never the outbox's numbers: the outbox is numbered across the whole
	// city, and its last seq would tell any watcher how many
	// notifications every scope has had.
	var head, tail uint64
	if err := e.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		if head, err = tx.OutboxHead(); err != nil {
			return err
		}
		tail, err = tx.OutboxTail()
		return err
	}); err != nil {
		return err
	}
	switch {
	case after == 0:
		after = head
		reason = fmt.Sprintf("from now (after seq %d)", after)
	case after > head:
		return model.InvalidField("after_seq", "after_seq.sent",
			"after_seq %d is past the last notification: resume after a seq this service sent, or leave after_seq out to start from now", after)
	case after+1 < tail:
		return prunedRefusal(after)
	case head-after > e.watchReplay:
		// A replay reads every notification after the cursor, and the
		// case of each, to keep those p may see: from the first of
		// millions it was minutes of the server's work for one call,
		// which any user could ask for again and again.
		return model.InvalidField("after_seq", "after_seq.replay",
			"after_seq %d is more than %d notifications behind the last: a watch resumes at most %d back; older work is in the case lists and each case's events, or leave after_seq out to start from now", after, e.watchReplay, e.watchReplay)
	}
	log := auditlog.New(e.store)
	opened := p.Event(e.clock.Now(), action, resource, onCase, audit.OutcomeOK)
	opened.Reason = reason
	if err := log.Record(ctx, opened); err != nil {
		return err
	}
	if live != nil {
		if err := live(after); err != nil {
			return err
		}
	}
	if after < head {
		var err error
		if watched, err = e.replay(ctx, p, method, log, after, head, watched, send); err != nil {
			if ctx.Err() != nil {
				return nil // ended, as the loop below ends
			}
			return err
		}
		after = head
	}
	for {
		wake := e.hub.Wait()
		var batch []model.Notification
		full := false // a whole page read: there may be more behind it
		err := e.store.View(ctx, func(tx datastore.ReadTx) error {
			ns, err := tx.Notifications(after, watchPage)
			if err != nil {
				return err
			}
			full = len(ns) == watchPage
			for _, n := range ns {
				after = n.Seq
				var sent bool
				if sent, watched, err = e.sends(tx, p, method, watched, n); err != nil {
					return err
				}
				if sent {
					batch = append(batch, n)
				}
			}
			if len(batch) == 0 {
				// Nothing to send, nothing to check: an idle watcher
				// polls each second, and on etcd the token and its user
				// are a round trip each.
				return nil
			}
			return e.mayStillWatch(tx, p)
		})
		if err != nil {
			return err
		}
		if err := log.Record(ctx, notificationEvents(p, e.clock.Now(), batch)...); err != nil {
			return err
		}
		for _, n := range batch {
			if err := send(n); err != nil {
				return err
			}
		}
		if len(batch) > 0 || full {
			// Read on at once: a page of notifications p may not see
			// must not hold back the ones behind it until the next poll.
			if err := ctx.Err(); err != nil {
				return nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-time.After(e.watchPoll):
		}
	}
}

// prunedRefusal refuses a watch resumed after seq after, older than the
// oldest notification the outbox keeps: it would pass over those pruned
// without a word. It names the caller's after_seq alone (see Watch).
func prunedRefusal(after uint64) error {
	return model.InvalidField("after_seq", "after_seq.pruned",
		"after_seq %d is older than the notifications the service keeps (--outbox-retention): a watch cannot resume there; older work is in the case lists and each case's events, or leave after_seq out to start from now", after)
}

// mayStillWatch reports, in a transaction a watch read notifications to
// send in, whether p's token may still act: a stream's token is checked
// when it opens and by the transport every few seconds after, and what
// the watch read between a revocation (a disabled user, an expired token)
// and that check went out to a user already locked out. An error ends
// the watch before it sends, or audits, what the transaction read. A
// live watch asks only when it read something to send: its idle polls
// read the outbox alone.
func (e *Engine) mayStillWatch(tx datastore.ReadTx, p access.Principal) error {
	if e.tokenValid == nil || p.TokenID == "" {
		return nil
	}
	return e.tokenValid(tx, p.TokenID, e.clock.Now())
}

// sends reports whether a watch sends n, read in tx, to p, and returns
// the cases a watch of one case follows from then on (watched; nil for
// p's whole scope).
func (e *Engine) sends(tx datastore.ReadTx, p access.Principal, method string, watched []string, n model.Notification) (bool, []string, error) {
	if watched != nil && !slices.Contains(watched, n.Case) && n.Kind == "MERGED" {
		// The case watched may have just been merged: from here on the
		// watch follows the survivor, as one opened now would.
		var err error
		if watched, err = followMerges(tx, watched); err != nil {
			return false, nil, err
		}
	}
	if watched != nil && !slices.Contains(watched, n.Case) {
		return false, watched, nil
	}
	number, _ := intake.ParseCaseName(n.Case)
	c, err := tx.CaseByNumber(number)
	if err != nil {
		return false, watched, nil
	}
	// A notification carries the case's name, kind and detail: the police
	// view shows only those addressed to the caller's police unit.
	view := e.access.View(p, method, c)
	return view != access.ViewNone && (view != access.ViewPolice || mentions(n, p.Unit)), watched, nil
}

// replay sends the notifications p may see after seq after up to head,
// the last when the watch opened: the part of a watch resumed with
// after_seq, up to MaxWatchReplay back. It is one batch, audited as one,
// so that its events are bounded by the cases it tells of: a first
// reading finds the notifications p is sent, an event is recorded for
// each of their cases (notificationEvents), and a second reading sends
// them. Audited a page at a time, a replay of 200 cases' notifications in
// turn was an event per notification still; holding the notifications
// between the audit and the sending would hold megabytes for each such
// stream, where their seqs and cases are a few hundred kilobytes at most.
// It returns the cases a watch of one case follows after the replay.
func (e *Engine) replay(ctx context.Context, p access.Principal, method string, log *auditlog.Log, after, head uint64, watched []string, send func(model.Notification) error) ([]string, error) {
	var sent []model.Notification // their seqs and cases only
	for from := after; from < head; {
		err := e.store.View(ctx, func(tx datastore.ReadTx) error {
			if err := e.mayStillWatch(tx, p); err != nil {
				return err
			}
			// Watch checked the oldest kept in an earlier snapshot: the
			// leader may have pruned since (outbox.Service.Prune), and
			// this reading would then pass over what follows from
			// without a word.
			tail, err := tx.OutboxTail()
			if err != nil {
				return err
			}
			if from+1 < tail {
				return prunedRefusal(after)
			}
			ns, err := tx.Notifications(from, watchPage)
			if err != nil {
				return err
			}
			if len(ns) == 0 {
				from = head
			}
			for _, n := range ns {
				if n.Seq > head {
					from = head
					break
				}
				from = n.Seq
				var ok bool
				if ok, watched, err = e.sends(tx, p, method, watched, n); err != nil {
					return err
				}
				if ok {
					sent = append(sent, model.Notification{Seq: n.Seq, Case: n.Case})
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// As many cases as notifications make as many events: they are
	// committed a page at a time, as a live watch's are, so that no commit
	// passes a store's bound on one (etcd's request size).
	for events := range slices.Chunk(notificationEvents(p, e.clock.Now(), sent), watchPage) {
		if err := log.Record(ctx, events...); err != nil {
			return nil, err
		}
	}
	for len(sent) > 0 {
		var ns []model.Notification
		if err := e.store.View(ctx, func(tx datastore.ReadTx) (err error) {
			if err := e.mayStillWatch(tx, p); err != nil {
				return err
			}
			// The leader may have pruned since the first reading: what
			// is left would be sent with a gap, and the first gone is
			// no fault of the store.
			tail, err := tx.OutboxTail()
			if err != nil {
				return err
			}
			if sent[0].Seq < tail {
				return prunedRefusal(after)
			}
			ns, err = tx.Notifications(sent[0].Seq-1, watchPage)
			return err
		}); err != nil {
			return nil, err
		}
		if len(ns) == 0 || ns[0].Seq != sent[0].Seq {
			return nil, fmt.Errorf("replay: notification %d is gone from the outbox", sent[0].Seq)
		}
		for _, n := range ns {
			if len(sent) == 0 {
				break
			}
			if n.Seq == sent[0].Seq {
				if err := send(n); err != nil {
					return nil, err
				}
				sent = sent[1:]
			}
		}
	}
	return watched, nil
}

// watchedCase checks that the case a watch names is one p sees, and
// returns its resource name and the names of the cases whose
// notifications the watch sends (intake.MergePath), the case it stands
// for today last: a merged case's old number watches the case that
// survived it, as a read of that number shows it, and, from a cursor
// before the merge, what happened to the number itself until then. A
// case out of p's scope is ErrNotFound, as one that does not exist, and
// the attempt is audited on its trail (the survivor's) before the answer.
func (e *Engine) watchedCase(ctx context.Context, p access.Principal, method, name string) (res string, path []string, err error) {
	number, err := intake.ParseCaseName(name)
	if err != nil {
		return "", nil, model.InvalidField("case", "case.name", "%v", err)
	}
	res = access.CaseResource(number)
	onCase := res
	err = e.store.View(ctx, func(tx datastore.ReadTx) error {
		c, numbers, err := intake.MergePath(tx, number)
		if err != nil {
			return err
		}
		onCase = access.CaseResource(c.Number)
		if e.access.View(p, method, c) == access.ViewNone {
			return fmt.Errorf("case %s: %w", number, model.ErrNotFound)
		}
		path = caseResources(numbers)
		return nil
	})
	if errors.Is(err, model.ErrNotFound) {
		if rerr := auditlog.New(e.store).Record(ctx, p.Event(e.clock.Now(), "case.watch", res, onCase, audit.OutcomeNotFound)); rerr != nil {
			return "", nil, rerr
		}
	}
	return res, path, err
}

// followMerges returns the cases a watch of watched[0] follows now: its
// merge path (intake.MergePath), which grows when the case it ends with
// is merged into another.
func followMerges(tx datastore.ReadTx, watched []string) ([]string, error) {
	number, err := intake.ParseCaseName(watched[0])
	if err != nil {
		return nil, err
	}
	_, numbers, err := intake.MergePath(tx, number)
	if err != nil {
		return nil, err
	}
	return caseResources(numbers), nil
}

// caseResources names the cases of numbers as resources ("cases/...").
func caseResources(numbers []string) []string {
	names := make([]string, len(numbers))
	for i, n := range numbers {
		names[i] = access.CaseResource(n)
	}
	return names
}

// notificationEvents are the audit events of a batch of notifications
// sent to p: one per case, on its case, so that what a watch writes is
// bounded by the cases it tells of, not by the notifications (a replay of
// thousands of one case's was thousands of events, of any user's one
// call). An event's resource is the first notification it stands for;
// when it stands for more than one, its reason counts them and lists
// their seqs ("3 notifications: seq 12, 15, 340"), so the trail still
// says which ones p was sent. An event names at most watchPage of them, so
// that a case's share of a long replay takes one event per watchPage. The
// cases come in the order of their first notification.
func notificationEvents(p access.Principal, now time.Time, ns []model.Notification) []audit.Event {
	var cases []string
	seqs := map[string][]uint64{}
	for _, n := range ns {
		if _, ok := seqs[n.Case]; !ok {
			cases = append(cases, n.Case)
		}
		seqs[n.Case] = append(seqs[n.Case], n.Seq)
	}
	var events []audit.Event
	for _, c := range cases {
		for s := range slices.Chunk(seqs[c], watchPage) {
			events = append(events, notificationEvent(p, now, c, s))
		}
	}
	return events
}

// notificationEvent is the event of the notifications seqs of case c.
func notificationEvent(p access.Principal, now time.Time, c string, s []uint64) audit.Event {
	e := p.Event(now, "notification.read", access.NotificationResource(s[0]), c, audit.OutcomeOK)
	if len(s) > 1 {
		var b strings.Builder
		fmt.Fprintf(&b, "%d notifications: seq ", len(s))
		for i, seq := range s {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.FormatUint(seq, 10))
		}
		e.Reason = b.String()
	}
	return e
}

// watchPage is how many outbox entries a watch reads at a time: a batch,
// audited as one (one event per case it sends notifications of).
const watchPage = 200

// MaxWatchReplay is how many notifications back a watch may resume
// (after_seq): a client resuming after a dropped connection is a few
// behind, one that slept over a weekend some thousands at most.
const MaxWatchReplay = 10_000

func mentions(n model.Notification, unit string) bool {
	for _, u := range n.Units {
		if u == unit {
			return true
		}
	}
	return false
}
