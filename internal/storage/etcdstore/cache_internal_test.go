package etcdstore

import (
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func put(key, value string, rev int64) *clientv3.Event {
	return &clientv3.Event{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte(key), Value: []byte(value), ModRevision: rev}}
}

// TestPointCacheAnswersOnlyWhatItKnows: the cache answers a Get at a
// revision only with a value it knows to be the key's at that revision:
// not before its watch has applied every change up to it, not for a
// revision before the entry's value was written, and it keeps no value
// read at a revision its watch has gone past (a change in between could
// have gone unseen).
func TestPointCacheAnswersOnlyWhatItKnows(t *testing.T) {
	var c pointCache
	c.put("k", 5, []byte("v"), 3)
	if _, ok := c.get("k", 5); ok {
		t.Fatal("without a watch in place, the cache answered")
	}
	c.reset(7, nil)
	c.put("k", 5, []byte("old"), 3) // read before the watch's start
	if _, ok := c.get("k", 7); ok {
		t.Error("the cache kept a value read at a revision its watch had passed")
	}
	c.put("k", 7, []byte("v"), 3)
	c.put("gone", 7, nil, 0)
	for _, tt := range []struct {
		key  string
		rev  int64
		want string
		ok   bool
	}{
		{"k", 7, "v", true},
		{"k", 3, "v", true},
		{"k", 2, "", false},    // before the value was written
		{"k", 8, "", false},    // the watch has not applied 8 yet
		{"gone", 7, "", true},  // absent at 7
		{"gone", 6, "", false}, // since when, unknown
	} {
		if v, ok := c.get(tt.key, tt.rev); ok != tt.ok || string(v) != tt.want {
			t.Errorf("get(%q, %d) = %q, %v; want %q, %v", tt.key, tt.rev, v, ok, tt.want, tt.ok)
		}
	}
	c.apply([]*clientv3.Event{put("other", "x", 8)})
	if v, ok := c.get("k", 8); !ok || string(v) != "v" {
		t.Errorf("after the watch applied 8, get(k, 8) = %q, %v; want v, true", v, ok)
	}
	c.apply([]*clientv3.Event{put("k", "new", 9), {Type: mvccpb.DELETE, Kv: &mvccpb.KeyValue{Key: []byte("gone"), ModRevision: 9}}})
	if _, ok := c.get("k", 8); ok {
		t.Error("get(k, 8) answered after k changed at 9: the cache no longer holds its value at 8")
	}
	if v, ok := c.get("k", 9); !ok || string(v) != "new" {
		t.Errorf("get(k, 9) = %q, %v; want new, true", v, ok)
	}
	if v, ok := c.get("gone", 9); !ok || v != nil {
		t.Errorf("get(gone, 9) = %q, %v; want absent, true", v, ok)
	}
	c.put("k", 8, []byte("v"), 3) // a late reader at 8
	if v, _ := c.get("k", 9); string(v) != "new" {
		t.Errorf("a value read at 8 replaced the one the watch applied at 9: get(k, 9) = %q", v)
	}
}
