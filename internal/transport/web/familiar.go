package web

import (
	"sync"

	"github.com/childcase/childcase/internal/transport/clientaddr"
)

// maxFamiliarSignIns bounds the (address, account) pairs remembered: as
// many as the sessions the console holds at once.
const maxFamiliarSignIns = MaxSessions

// familiarSignIns remembers which accounts have signed in from which
// client address since the server started. An address that keeps failing
// to sign in is throttled: its passwords are not checked until its
// allowance comes back, or a guesser could go on trying passwords across
// many accounts, each only at its own lock-out's pace. But an office
// behind one NAT or proxy shares its address with whoever fails there,
// so a person who has signed in from the address before is still
// checked, as the API still checks a token from a throttled address: a
// guesser elsewhere never signed in from it, and one in the same office
// gains, for those accounts only, what the lock-out already allows. A
// person new to the address waits for the allowance, one attempt every
// refill period, like the guesser: letting every right password through
// would let every password be tried.
type familiarSignIns struct {
	max  int
	mu   sync.Mutex
	seq  uint64
	seen map[familiarPair]uint64 // the sequence of the latest sign-in
}

// familiarPair is an account and the key its address is throttled
// under (clientaddr.ThrottleKey): an IPv6 client's /64, in which its
// address changes.
type familiarPair struct{ client, userID string }

func newFamiliarSignIns(maxPairs int) *familiarSignIns {
	return &familiarSignIns{max: maxPairs, seen: map[familiarPair]uint64{}}
}

// add notes that userID signed in from client; past max pairs, the one
// whose latest sign-in is the oldest is forgotten.
func (f *familiarSignIns) add(client, userID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := familiarPair{clientaddr.ThrottleKey(client), userID}
	if _, ok := f.seen[k]; !ok && len(f.seen) >= f.max {
		var oldest familiarPair
		first := true
		for p, s := range f.seen {
			if first || s < f.seen[oldest] {
				oldest, first = p, false
			}
		}
		delete(f.seen, oldest)
	}
	f.seq++
	f.seen[k] = f.seq
}

// has says whether userID has signed in from client.
func (f *familiarSignIns) has(client, userID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.seen[familiarPair{clientaddr.ThrottleKey(client), userID}]
	return ok
}
