package etcdtest_test

import (
	"context"
	"testing"
	"time"

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
