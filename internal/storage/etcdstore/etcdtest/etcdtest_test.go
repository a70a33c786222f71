package etcdtest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
)

// TestKillAndRestartTheLeader: a killed leader is replaced, writes go on,
// and the restarted member catches up with what it missed.
func TestKillAndRestartTheLeader(t *testing.T) {
	c := etcdtest.Start(t, 3)
	client := c.Client(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := client.Put(ctx, "k", "before"); err != nil {
		t.Fatal(err)
	}
	lead, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Kill(lead)
	// A put in flight while the leader dies may time out (etcd's own
	// behaviour); once another member leads, puts work again.
	next, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next == lead {
		t.Fatalf("member %d still leads after it was killed", lead)
	}
	if _, err := client.Put(ctx, "k", "after"); err != nil {
		t.Fatalf("put after the leader was killed: %v", err)
	}
	c.Restart(lead)
	// The restarted member alone must have the write it missed.
	only := c.MemberClient(t, lead)
	resp, err := only.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "after" {
		t.Fatalf("restarted member reads %v, want k=after", resp.Kvs)
	}
}

// TestKillUnderReads kills a member again and again while clients read
// from it alone: the test process, which holds the member, must survive
// (a member stopped under a read used to panic it: the read found the
// backend's transaction gone), and the member must serve after each
// restart.
func TestKillUnderReads(t *testing.T) {
	c := etcdtest.Start(t, 3, etcdtest.WithoutFsync())
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := c.Client(t).Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	only := c.MemberClient(t, 0)
	for round := range 5 {
		readCtx, stopReads := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for readCtx.Err() == nil {
					_, _ = only.Get(readCtx, "k", clientv3.WithSerializable())
				}
			})
		}
		time.Sleep(50 * time.Millisecond)
		c.Kill(0)
		stopReads()
		wg.Wait()
		c.Restart(0)
		if _, err := only.Get(ctx, "k", clientv3.WithSerializable()); err != nil {
			t.Fatalf("round %d: the restarted member does not serve: %v", round, err)
		}
	}
}
