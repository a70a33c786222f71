package etcdstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// maxCached bounds the keys a pointCache keeps; past it, it starts again
// empty.
const maxCached = 10000

// pointCache keeps, across an engine's transactions, the answers to point
// Gets, kept current by an etcd watch on the engine's prefix: most reads
// of a request are of records that rarely change (a token, its user, a
// data key), and each is otherwise a round trip.
//
// It is safe under MVCC. The watch has applied every change under the
// prefix up to revision applied; an entry holds a key's value at every
// revision from its from to applied. A transaction at snapshot revision
// S may use an entry only when applied >= S (no change up to S is
// unseen) and from <= S. A value read at S is kept only when applied <= S:
// the changes the watch applies later, in order, lead the entry to the
// value at S and beyond, while one already applied after S could have
// changed the key unseen.
type pointCache struct {
	mu sync.Mutex
	// applied is 0 while no watch is in place: nothing is used or kept.
	applied int64
	entries map[string]cacheEntry
	// askProgress, set while a watch is in place, asks it for a progress
	// notification (it runs one at a time: asking): a write outside the
	// prefix (another deployment's, a benchmark's floor) moves the
	// cluster's revision, and snapshots with it, while the watch sees no
	// event to move applied.
	askProgress func()
	asking      atomic.Bool
}

type cacheEntry struct {
	value []byte // nil: no such key
	from  int64
}

// get returns the value of key at revision rev, if the cache knows it.
func (c *pointCache) get(key string, rev int64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.applied == 0 {
		return nil, false
	}
	if c.applied < rev {
		if ask := c.askProgress; ask != nil && c.asking.CompareAndSwap(false, true) {
			go func() {
				defer c.asking.Store(false)
				ask()
			}()
		}
		return nil, false
	}
	e, ok := c.entries[key]
	if !ok || e.from > rev {
		return nil, false
	}
	return e.value, true
}

// put keeps value (nil: no such key), read at revision rev where the key
// was last changed at modRev.
func (c *pointCache) put(key string, rev int64, value []byte, modRev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.applied == 0 || c.applied > rev {
		return
	}
	if c.entries == nil || len(c.entries) >= maxCached {
		c.entries = map[string]cacheEntry{}
	}
	from := modRev
	if value == nil {
		from = rev // absent at rev; since when, unknown
	}
	c.entries[key] = cacheEntry{value: value, from: from}
}

// apply takes the changes of one watch response, which holds whole
// revisions: every change up to the last one's revision is applied.
func (c *pointCache) apply(events []*clientv3.Event) {
	if len(events) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.applied == 0 {
		return
	}
	for _, ev := range events {
		k := string(ev.Kv.Key)
		if _, ok := c.entries[k]; !ok {
			continue // not kept: nothing to change
		}
		var v []byte
		if ev.Type == clientv3.EventTypePut {
			v = present(ev.Kv.Value)
		}
		c.entries[k] = cacheEntry{value: v, from: ev.Kv.ModRevision}
	}
	c.applied = events[len(events)-1].Kv.ModRevision
}

// progress takes a progress notification of the watch: it has sent every
// change up to rev.
func (c *pointCache) progress(rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.applied != 0 && rev > c.applied {
		c.applied = rev
	}
}

// reset empties the cache; applied is where a new watch starts (0: none),
// which ask asks for progress notifications.
func (c *pointCache) reset(applied int64, ask func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries, c.applied, c.askProgress = nil, applied, ask
}

// watch keeps the cache current until ctx ends: from the revision its
// watch starts at, and again from scratch (an empty cache) after any
// failure of the watch, a compaction included.
func (c *pointCache) watch(ctx context.Context, client *clientv3.Client, prefix string) {
	retry := 100 * time.Millisecond
	for ctx.Err() == nil {
		// WithRequireLeader: a member cut off from its cluster ends the
		// watch instead of staying silent while the others change keys.
		watchCtx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		// A progress request goes to the watch streams of its context's
		// metadata, this watch's.
		ask := func() { _ = client.RequestProgress(watchCtx) }
		for wr := range client.Watch(watchCtx, prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify()) {
			switch {
			case wr.Err() != nil || wr.CompactRevision != 0 || wr.Canceled:
			case wr.Created:
				// It sees every change after this revision.
				c.reset(wr.Header.Revision, ask)
				continue
			case wr.IsProgressNotify():
				c.progress(wr.Header.Revision)
				continue
			default:
				c.apply(wr.Events)
				retry = 100 * time.Millisecond
				continue
			}
			break
		}
		cancel()
		c.reset(0, nil)
		retry = pauseBeforeWatching(ctx, retry)
	}
}
