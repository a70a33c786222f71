package etcdstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
)

// A put under the outbox bucket's prefix wakes the watchers of every
// instance; a put anywhere else, even a key that starts like the outbox's,
// does not.
func TestWatchOutboxNotifiesOnOutboxPuts(t *testing.T) {
	endpoint := startEtcd(t)
	watcher, writer := newClient(t, endpoint), newClient(t, endpoint)
	const prefix = "/childcase/"
	ctx := t.Context()
	notified := watchOutbox(t, watcher, prefix)

	// The watch starts from "now": put under the outbox until a notify
	// shows it is established (the test's timeout bounds the loop).
	// (The first notify may be the one the watch gives once in place.)
	for established := false; !established; {
		if _, err := writer.Put(ctx, prefix+"outbox/\x00\x00\x00\x00\x00\x00\x00\x01", "n"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-notified:
			established = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	// The watch notifies once when it is in place and once per batch of
	// events, so the loop's put may still be on its way: let it arrive
	// (within milliseconds on loopback, as below) before draining.
	time.Sleep(300 * time.Millisecond)
	drain(notified)

	// Elsewhere: other buckets, the outbox's marker and sequence, a
	// bucket whose name starts with "outbox", another store's outbox.
	for _, key := range []string{prefix + "cases/x", prefix + "outbox", prefix + "outbox#seq", prefix + "outboxes/x", "/other/outbox/x"} {
		if _, err := writer.Put(ctx, key, "v"); err != nil {
			t.Fatal(err)
		}
	}
	// Watch events reach a watcher within milliseconds on loopback: none
	// in half a second means the puts elsewhere woke nothing.
	select {
	case <-notified:
		t.Error("a put outside the outbox notified")
	case <-time.After(500 * time.Millisecond):
	}
	if _, err := writer.Put(ctx, prefix+"outbox/\x00\x00\x00\x00\x00\x00\x00\x02", "n"); err != nil {
		t.Fatal(err)
	}
	<-notified // bounded by the test's timeout
}

// watchOutbox runs WatchOutbox on client until the test ends, and
// returns the channel its notifies arrive on.
func watchOutbox(t *testing.T, client *clientv3.Client, prefix string) chan struct{} {
	t.Helper()
	notified := make(chan struct{}, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		etcdstore.WatchOutbox(ctx, client, prefix, func() { notified <- struct{}{} }, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() { cancel(); <-done })
	return notified
}

func drain(ch chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// A watch that loses its member, whose missed revisions are compacted
// away while it is gone, goes on notifying once the member is back: a
// notify for the appends made meanwhile (the streams re-read from their
// cursors), then a notify for each append. The watcher's client knows
// only the member that is stopped; the writes and the compaction go
// through the other two. (The restarted member may replay the appends to
// the watch before it applies the compaction, so this does not always
// take the watch's compaction branch, and a watch that failed again and
// again would pass too, by the notify it gives after each failure: this
// holds recovery, not its quiet.)
func TestWatchOutboxOutlivesItsMemberAndACompaction(t *testing.T) {
	c := etcdtest.Start(t, 3, etcdtest.WithoutFsync())
	watcher, writer := c.MemberClient(t, 2), c.Client(t)
	const prefix = "/childcase/"
	outboxKey := func(i int) string { return fmt.Sprintf("%soutbox/%08d", prefix, i) }
	ctx := t.Context()
	notified := watchOutbox(t, watcher, prefix)
	// wake puts under the outbox until a notify comes, within limit.
	n := 0
	wake := func(limit time.Duration) bool {
		t.Helper()
		for end := time.Now().Add(limit); time.Now().Before(end); {
			n++
			if _, err := writer.Put(ctx, outboxKey(n), "n"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-notified:
				return true
			case <-time.After(200 * time.Millisecond):
			}
		}
		return false
	}
	if !wake(10 * time.Second) {
		t.Fatal("the watch never notified")
	}
	time.Sleep(300 * time.Millisecond)
	drain(notified)

	c.Stop(2)
	var last int64
	for range 20 {
		n++
		resp, err := writer.Put(ctx, outboxKey(n), "n")
		if err != nil {
			t.Fatal(err)
		}
		last = resp.Header.Revision
	}
	if _, err := writer.Compact(ctx, last, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	c.Restart(2)

	// Back on its member, the watch notifies, and settles (the member may
	// deliver what it replays in several batches); then a put wakes it.
	select {
	case <-notified:
	case <-time.After(30 * time.Second):
		t.Fatal("no notify after the member came back: the appends made while it was away woke nothing")
	}
	settled := false
	for end := time.Now().Add(20 * time.Second); !settled && time.Now().Before(end); {
		select {
		case <-notified:
		case <-time.After(time.Second):
			settled = true
		}
	}
	if !settled {
		t.Fatal("the watch notified every second for 20 s with nothing appended")
	}
	if !wake(5 * time.Second) {
		t.Fatal("after the compaction, puts under the outbox no longer notify")
	}
}
