package etcdstore

import (
	"context"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// outboxKeys is the prefix, under the store's prefix P, of the outbox
// bucket's keys: an etcd watch on it sees every append, whichever instance
// made it.
const outboxKeys = "outbox/"

// WatchOutbox calls notify once its watch is in place and after each
// batch of changes to the outbox bucket under prefix, until ctx ends: every instance wakes its
// WatchEvents streams (and, on the leader, webhook delivery) when any
// instance appends notifications. notify must be cheap and must not block
// (process.Engine.Notify is). A watch that fails, or whose revision was
// compacted away, is established again from the revision after the last
// one seen (from the compaction's when events were compacted away), with
// a notify for good measure: a spurious wake-up only makes the streams
// read the outbox from their cursors.
func WatchOutbox(ctx context.Context, client *clientv3.Client, prefix string, notify func(), log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	key := prefix + outboxKeys
	var next int64 // the revision to watch from; 0: from now
	retry := 100 * time.Millisecond
	for ctx.Err() == nil {
		// WithCreatedNotify: once the watch is in place, a notify covers
		// what was appended before it was (the first watch starts from
		// the revision of its creation, after the instance had started).
		opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCreatedNotify()}
		if next > 0 {
			opts = append(opts, clientv3.WithRev(next))
		}
		// WithRequireLeader: a member cut off from its cluster ends the
		// watch instead of staying silent.
		watchCtx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for resp := range client.Watch(watchCtx, key, opts...) {
			if resp.CompactRevision != 0 {
				// What happened between next and the compaction is lost:
				// the streams re-read from their cursors anyway.
				next = resp.CompactRevision
				notify()
				break
			}
			if err := resp.Err(); err != nil {
				log.WarnContext(ctx, "outbox watch: watching again", "err", err, "from_revision", next)
				break
			}
			if resp.Created {
				notify()
				continue
			}
			if n := len(resp.Events); n > 0 {
				next = resp.Events[n-1].Kv.ModRevision + 1
				retry = 100 * time.Millisecond
				notify()
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		retry = pauseBeforeWatching(ctx, retry)
		notify() // the outbox may have grown while nothing watched
	}
}

// pauseBeforeWatching waits retry (or until ctx ends) before a failed
// watch is established again, and returns the next pause: doubling, up to
// 5 s.
func pauseBeforeWatching(ctx context.Context, retry time.Duration) time.Duration {
	t := time.NewTimer(retry)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return min(2*retry, 5*time.Second)
}
