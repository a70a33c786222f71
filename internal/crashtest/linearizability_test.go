package crashtest

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The linearizability check of the failover test: every case is a
// register holding its etag, read by GetCase and compare-and-set by the
// steps that carry the etag they read. The history is recorded where the
// clients' calls leave (routedConn), so the workload needs no change, and
// checked by porcupine.

// etagOutcome is what a client learned of an operation on a case's etag.
type etagOutcome int

const (
	etagOK      etagOutcome = iota // a read, or a step applied (it answered the new etag)
	etagAborted                    // ABORTED: the etag sent was stale, nothing changed
	etagUnknown                    // no answer: applied or not, at any time after the call
	etagRefused                    // refused otherwise: not applied, and nothing learnt of the etag
)

// etagOp is one operation of the history: a GetCase, or every send of one
// step's request_id together (a retry with the same request_id is the
// same operation, answered the first result).
type etagOp struct {
	client   int
	caseName string
	method   string
	rid      string // a step's request_id; "" for a read
	etag     uint64 // a read: the etag read; a step: the etag sent
	call     time.Time
	ret      time.Time // zero while the outcome is unknown
	outcome  etagOutcome
	newEtag  uint64 // a step applied: the etag answered
}

// answered is the etag the operation answered: the one read, or a step's
// new one (0 when it answered none).
// etagCount is an etag without the tag of its case's number ("3.k7q2m9"
// is "3", "p2.k7q2m9" "p2"): the count the history compares, a case's
// etags all carrying the same tag.
func etagCount(etag string) string {
	count, _, _ := strings.Cut(etag, ".")
	return count
}

func (op *etagOp) answered() uint64 {
	if op.rid == "" {
		return op.etag
	}
	return op.newEtag
}

// etagHistory records the operations. Safe for concurrent use.
type etagHistory struct {
	mu    sync.Mutex
	ops   []*etagOp
	byRID map[string]*etagOp
	bad   []string // answers that are not etags
}

func newEtagHistory() *etagHistory { return &etagHistory{byRID: map[string]*etagOp{}} }

// etagStep is what the requests of the steps that carry an etag have in
// common.
type etagStep interface {
	GetName() string
	GetEtag() string
	GetRequestId() string
}

// record adds a call that went out at call and came back at ret. Only
// GetCase and the steps with an etag are recorded; a failed read tells
// nothing, and a refusal other than ABORTED (a step the case's state did
// not allow, or a transfer decided meanwhile) changed nothing either.
func (hs *etagHistory) record(client int, method string, args, reply any, err error, call, ret time.Time) {
	c, _ := reply.(*pb.Case)
	switch req := args.(type) {
	case *pb.GetCaseRequest:
		if err != nil {
			return
		}
		etag, perr := strconv.ParseUint(etagCount(c.GetEtag()), 10, 64)
		hs.mu.Lock()
		defer hs.mu.Unlock()
		if perr != nil {
			hs.bad = append(hs.bad, fmt.Sprintf("GetCase %s answered etag %q", req.GetName(), c.GetEtag()))
			return
		}
		hs.ops = append(hs.ops, &etagOp{client: client, caseName: req.GetName(), method: "GetCase", etag: etag,
			call: call, ret: ret, outcome: etagOK})
	case etagStep:
		sent, perr := strconv.ParseUint(etagCount(req.GetEtag()), 10, 64)
		if perr != nil || req.GetRequestId() == "" {
			return // not a compare-and-set the workload sends
		}
		hs.mu.Lock()
		defer hs.mu.Unlock()
		op := hs.byRID[req.GetRequestId()]
		if op == nil {
			op = &etagOp{client: client, caseName: req.GetName(), method: method, rid: req.GetRequestId(), etag: sent,
				call: call, outcome: etagUnknown}
			hs.byRID[op.rid] = op
			hs.ops = append(hs.ops, op)
		}
		if op.outcome != etagUnknown {
			return // answered before: a retry answers the first result (the ledger checks it)
		}
		switch code := status.Code(err); {
		case err == nil && strings.HasPrefix(c.GetEtag(), "p"):
			// A police step, sent the case's etag (read by the city),
			// answers its view's etag: the case's own moved from the one
			// sent to the next, as every applied step moves it.
			op.outcome, op.newEtag, op.ret = etagOK, sent+1, ret
		case err == nil:
			n, perr := strconv.ParseUint(etagCount(c.GetEtag()), 10, 64)
			if perr != nil {
				hs.bad = append(hs.bad, fmt.Sprintf("%s %s answered etag %q", method, op.rid, c.GetEtag()))
				return
			}
			op.outcome, op.newEtag, op.ret = etagOK, n, ret
		case code == codes.Aborted:
			op.outcome, op.ret = etagAborted, ret
		case code == codes.FailedPrecondition || code == codes.InvalidArgument ||
			(code == codes.NotFound && op.ret.IsZero() && call.Equal(op.call)):
			// Refused, so not applied: nothing for the register.
			op.outcome, op.ret = etagRefused, ret
		}
	}
}

// etagInput is an operation's input for the model; etagOutput its output.
type etagInput struct {
	caseName string
	// budget is set on each case's first, made-up operation: how many
	// times the etag may move by writes the history does not hold (the
	// case's creation, reports joining it, the deadline scheduler).
	budget uint64
	init   bool
	read   bool
	etag   uint64
	method string
}

type etagOutput struct {
	outcome etagOutcome
	etag    uint64
}

// etagState is a case's register: its etag, and how many more times it
// may move unseen. ready is false before the case's first operation.
type etagState struct {
	ready        bool
	etag, budget uint64
}

// etagModel is the model of one case's etag. Unseen writes move the etag
// up by one each, within the budget; they are assumed as late as
// possible, which loses no history (a state with the etag further up is
// reachable from the one below). A read must see an etag reachable now; a
// step applied must have found the etag it sent (reachable now) and
// answered the next; an ABORTED step must not have found its etag current
// (if it is, an unseen write must have come first); a step with no answer
// either did nothing or was applied as above.
var etagModel = porcupine.NondeterministicModel{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byCase := map[string][]porcupine.Operation{}
		var names []string
		for _, op := range history {
			name := op.Input.(etagInput).caseName
			if _, ok := byCase[name]; !ok {
				names = append(names, name)
			}
			byCase[name] = append(byCase[name], op)
		}
		sort.Strings(names)
		out := make([][]porcupine.Operation, 0, len(names))
		for _, name := range names {
			out = append(out, byCase[name])
		}
		return out
	},
	Init: func() []any { return []any{etagState{}} },
	Step: func(state, input, output any) []any {
		s, in, out := state.(etagState), input.(etagInput), output.(etagOutput)
		if in.init {
			return []any{etagState{ready: true, budget: in.budget}}
		}
		if !s.ready {
			return nil
		}
		// reach is the state with the etag at v, moved there unseen.
		reach := func(v uint64) (etagState, bool) {
			if v < s.etag || v-s.etag > s.budget {
				return etagState{}, false
			}
			return etagState{ready: true, etag: v, budget: s.budget - (v - s.etag)}, true
		}
		switch {
		case in.read:
			if next, ok := reach(out.etag); ok {
				return []any{next}
			}
		case out.outcome == etagOK:
			if next, ok := reach(in.etag); ok && out.etag == in.etag+1 {
				next.etag = out.etag
				return []any{next}
			}
		case out.outcome == etagAborted:
			switch {
			case in.etag != s.etag:
				return []any{s}
			case s.budget > 0:
				return []any{etagState{ready: true, etag: s.etag + 1, budget: s.budget - 1}}
			}
		case out.outcome == etagUnknown:
			states := []any{s}
			if next, ok := reach(in.etag); ok {
				next.etag = in.etag + 1
				states = append(states, next)
			}
			return states
		}
		return nil
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(etagInput), output.(etagOutput)
		switch {
		case in.init:
			return fmt.Sprintf("%s: up to %d unseen writes", in.caseName, in.budget)
		case in.read:
			return fmt.Sprintf("GetCase -> %d", out.etag)
		case out.outcome == etagOK:
			return fmt.Sprintf("%s(etag %d) -> %d", in.method, in.etag, out.etag)
		case out.outcome == etagAborted:
			return fmt.Sprintf("%s(etag %d) ABORTED", in.method, in.etag)
		}
		return fmt.Sprintf("%s(etag %d) -> no answer", in.method, in.etag)
	},
	DescribeState: func(state any) string {
		s := state.(etagState)
		return fmt.Sprintf("etag %d (%d unseen writes left)", s.etag, s.budget)
	},
}

// check runs porcupine on the history. final is each case's etag read
// last, with nothing running; the unseen writes of a case are at most that
// etag less the steps applied to it. It returns the number of operations
// checked, and on a history that is not linearizable writes porcupine's
// visualisation to dir and returns an error naming the file.
func (hs *etagHistory) check(dir string, timeout time.Duration) (int, error) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if len(hs.bad) > 0 {
		return 0, fmt.Errorf("answers without a numeric etag: %v", hs.bad)
	}
	if len(hs.ops) == 0 {
		return 0, fmt.Errorf("no operation was recorded")
	}
	epoch := hs.ops[0].call
	var end int64
	for _, op := range hs.ops {
		epoch = minTime(epoch, op.call)
		end = max(end, int64(op.ret.Sub(epoch)))
	}
	last := map[string]etagOp{} // the latest read of each case
	applied := map[string]uint64{}
	history := make([]porcupine.Operation, 0, len(hs.ops))
	for _, op := range hs.ops {
		if op.outcome == etagRefused {
			continue
		}
		ret := int64(op.ret.Sub(epoch))
		if op.outcome == etagUnknown {
			ret = end + 1 // open: it may take effect at any time after its call
		}
		if op.rid == "" && op.ret.After(last[op.caseName].ret) {
			last[op.caseName] = *op
		}
		if op.rid != "" && op.outcome == etagOK {
			applied[op.caseName]++
		}
		history = append(history, porcupine.Operation{
			ClientId: op.client,
			Input:    etagInput{caseName: op.caseName, read: op.rid == "", etag: op.etag, method: op.method},
			Call:     int64(op.call.Sub(epoch)),
			Output:   etagOutput{outcome: op.outcome, etag: op.answered()},
			Return:   ret,
		})
	}
	checked := len(history)
	for name, op := range last {
		budget := uint64(0)
		if op.etag > applied[name] {
			budget = op.etag - applied[name]
		}
		history = append(history, porcupine.Operation{
			Input: etagInput{caseName: name, init: true, budget: budget}, Output: etagOutput{},
			Call: -2, Return: -1,
		})
	}
	model := etagModel.ToModel()
	res, info := porcupine.CheckOperationsVerbose(model, history, timeout)
	switch res {
	case porcupine.Ok:
		return checked, nil
	case porcupine.Unknown:
		return checked, fmt.Errorf("porcupine found no answer in %s for %d operations", timeout, checked)
	}
	path := filepath.Join(dir, "etag-linearizability.html")
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		return checked, fmt.Errorf("the history of %d operations on case etags is not linearizable (and its visualisation failed: %v)", checked, err)
	}
	return checked, fmt.Errorf("the history of %d operations on case etags is not linearizable: see %s", checked, path)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
