package etcdstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/kv"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	ok := etcdstore.Config{Endpoints: []string{"http://127.0.0.1:2379"}}
	tests := []struct {
		name  string
		edit  func(*etcdstore.Config)
		field string // "" for a valid config
	}{
		{"defaults", func(*etcdstore.Config) {}, ""},
		{"no endpoint", func(c *etcdstore.Config) { c.Endpoints = nil }, "Endpoints"},
		{"blank endpoint", func(c *etcdstore.Config) { c.Endpoints = []string{" "} }, "Endpoints[0]"},
		{"prefix without slashes", func(c *etcdstore.Config) { c.Prefix = "childcase" }, "Prefix"},
		{"certificate without key", func(c *etcdstore.Config) { c.CertFile = "c.pem" }, "CertFile, KeyFile"},
		{"negative dial timeout", func(c *etcdstore.Config) { c.DialTimeout = -time.Second }, "DialTimeout"},
		{"one op", func(c *etcdstore.Config) { c.MaxTxnOps = 1 }, "MaxTxnOps"},
		{"tiny requests", func(c *etcdstore.Config) { c.MaxRequestBytes = 100 }, "MaxRequestBytes"},
		{"password alone", func(c *etcdstore.Config) { c.Password = "x" }, "Username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case tt.field != "" && (err == nil || !strings.Contains(err.Error(), "etcd "+tt.field)):
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestTLSNamesTheFiles(t *testing.T) {
	cfg := etcdstore.Config{CAFile: "/nonexistent/ca.pem"}
	if _, err := cfg.TLS(); err == nil || !strings.Contains(err.Error(), "CAFile") {
		t.Fatalf("TLS with a missing CA file = %v, want an error naming CAFile", err)
	}
	if tc, err := (etcdstore.Config{}).TLS(); tc != nil || err != nil {
		t.Fatalf("TLS without files = %v, %v, want plain connections", tc, err)
	}
}

func TestOpenChecksTheClusterAnswers(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	eps := c.Endpoints()
	c.Stop(0)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	e, err := etcdstore.Open(ctx, etcdstore.Config{Endpoints: eps, DialTimeout: 300 * time.Millisecond})
	if err == nil {
		_ = e.Close()
		t.Fatal("Open of a stopped cluster succeeded")
	}
}

// TestDeleteBucketThenRefill: a bucket deleted and filled again in one
// transaction holds only the new keys, and its sequence starts again
// (etcd refuses a Txn that puts inside a range it deletes, so the engine
// must not send one).
func TestDeleteBucketThenRefill(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 5) // k000..k004
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		if _, err := tx.Bucket(bucketName).NextSequence(); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Update(t.Context(), func(tx kv.Tx) error {
		if err := tx.DeleteBucket(bucketName); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketName)
		if err != nil {
			return err
		}
		for _, k := range []string{"a", "k002", "z"} {
			if err := b.Put([]byte(k), []byte("new")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = e.View(t.Context(), func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		var got []string
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			got = append(got, string(k)+"="+string(v))
		}
		if want := "a=new k002=new z=new"; strings.Join(got, " ") != want {
			return fmt.Errorf("bucket holds %q, want %s", got, want)
		}
		if s := b.Sequence(); s != 0 {
			return fmt.Errorf("sequence %d after the bucket was deleted, want 0", s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSetSequenceCarriesOver: a sequence set (as moving a bucket from
// another engine does) is where NextSequence continues, in the same
// transaction and after the commit; a read-only transaction cannot set it.
func TestSetSequenceCarriesOver(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 0)
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		if err := b.SetSequence(41); err != nil {
			return err
		}
		if s, err := b.NextSequence(); err != nil || s != 42 {
			return fmt.Errorf("NextSequence after SetSequence(41) = %d, %v, want 42", s, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A transaction that only sets the sequence writes it too.
	err = e.Update(t.Context(), func(tx kv.Tx) error { return tx.Bucket(bucketName).SetSequence(100) })
	if err != nil {
		t.Fatal(err)
	}
	err = e.View(t.Context(), func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		if s := b.Sequence(); s != 100 {
			return fmt.Errorf("committed sequence %d, want 100", s)
		}
		if err := b.SetSequence(7); err == nil {
			return fmt.Errorf("SetSequence in a view succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
