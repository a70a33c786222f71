package etcdstore_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/storage/etcdstore"
)

// A put under the outbox bucket's prefix wakes the watchers of every
// instance; a put anywhere else, even a key that starts like the outbox's,
// does not.
func TestWatchOutboxNotifiesOnOutboxPuts(t *testing.T) {
	endpoint := startEtcd(t)
	watcher, writer := newClient(t, endpoint), newClient(t, endpoint)
	const prefix = "/childcase/"
	notified := make(chan struct{}, 100)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		etcdstore.WatchOutbox(ctx, watcher, prefix, func() { notified <- struct{}{} }, slog.New(slog.DiscardHandler))
	}()
	defer func() { cancel(); <-done }()

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

func drain(ch chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
